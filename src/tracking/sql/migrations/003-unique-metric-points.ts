import { type Migration, runScript } from '../migrate.js';

/**
 * MLflow's metrics table has the primary key (key, timestamp, step, run_uuid, value, is_nan): logging an
 * identical point again stores nothing (MLflow 3's log_model re-logs a run's latest metrics with a
 * model_id). Existing duplicates are removed (the first logged is kept) and the history index becomes the
 * unique (run_uuid, key, step, timestamp, value, is_nan), which inserts skip on conflict. It still serves
 * history reads in (step, timestamp) order; the id tiebreak orders the rare same-step-and-time points.
 */
export const uniqueMetricPoints: Migration = {
  module: 'tracking',
  version: 3,
  name: 'metric points unique per (run, key, step, timestamp, value): re-logging one stores nothing',
  async up(db) {
    await runScript(
      db,
      `
DELETE FROM metrics WHERE id NOT IN (
  SELECT MIN(id) FROM metrics GROUP BY run_uuid, key, step, timestamp, value, is_nan
);
CREATE UNIQUE INDEX metrics_run_key_point ON metrics (run_uuid, key, step, timestamp, value, is_nan);
DROP INDEX metrics_run_key_step
`,
    );
  },
};
