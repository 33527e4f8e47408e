import { type Migration, runScript } from '../migrate.js';

/**
 * PostgreSQL estimates `key = 'p0' AND value = 'a'` on params or tags as if key and value were
 * independent: with ten params of a few values each it guessed 246 of 100,000 rows where 2,500 match,
 * and so sorted every matching run of a search ordered by a metric instead of walking that metric's
 * (key, value) index and stopping after a page. Extended statistics (the most common (key, value)
 * pairs) give it the real counts. SQLite has no such statistics; its search plan is forced with
 * INDEXED BY instead (dialect.ts), so this is a no-op there.
 */
export const keyValueStatistics: Migration = {
  module: 'tracking',
  version: 4,
  name: 'PostgreSQL: extended statistics on the (key, value) pairs of params and tags',
  async up(db, dialect) {
    if (dialect !== 'postgresql') return;
    await runScript(
      db,
      `
CREATE STATISTICS params_key_value_stats (mcv) ON key, value FROM params;
CREATE STATISTICS tags_key_value_stats (mcv) ON key, value FROM tags;
ANALYZE params;
ANALYZE tags
`,
    );
  },
};
