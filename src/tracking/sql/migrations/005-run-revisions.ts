import { ddlTypes, type Migration, runScript } from '../migrate.js';

/**
 * `runs.revision` counts the committed writes that change what a run's JSON says (its row, metrics,
 * params, tags, inputs, outputs): every such write transaction bumps it first, which also makes the run's
 * row the first lock the transaction takes. Readers cache a run's JSON under its revision (run-cache.ts)
 * and serve it again only while the revision read with the page is the same, on any server sharing the
 * database.
 */
export const runRevisions: Migration = {
  module: 'tracking',
  version: 5,
  name: 'runs.revision: a counter every write to a run bumps, the key of cached run JSON',
  async up(db, dialect) {
    await runScript(
      db,
      `ALTER TABLE runs ADD COLUMN revision ${ddlTypes(dialect).bigint} NOT NULL DEFAULT 0`,
    );
  },
};
