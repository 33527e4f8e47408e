import { type Migration, ddlTypes, runScript } from '../migrate.js';

/**
 * Run search and runs/get read params, tags and latest metrics by run (`WHERE run_uuid = ?`) and filter
 * them by key and value (`WHERE key = ? AND value > ?`, wanting the run ids).
 *
 * SQLite: the three tables become WITHOUT ROWID, clustered on their primary key (run_uuid, key), so a
 * run's rows sit together in one b-tree (no rowid lookup per row), and the (key, value) indexes carry
 * run_uuid (a WITHOUT ROWID table's indexes hold its primary key), so filters read the index alone.
 * PostgreSQL: the (key, value) indexes are replaced by (key, value, run_uuid) for index-only scans.
 */
export const clusteredKeyValues: Migration = {
  module: 'tracking',
  version: 2,
  name: 'clustered params, tags and latest_metrics; covering (key, value) indexes',
  async up(db, dialect) {
    if (dialect === 'postgresql') {
      await runScript(
        db,
        `
CREATE INDEX latest_metrics_key_value_run ON latest_metrics (key, value, run_uuid);
DROP INDEX latest_metrics_key_value;
CREATE INDEX params_key_value_run ON params (key, value, run_uuid);
DROP INDEX params_key_value;
CREATE INDEX tags_key_value_run ON tags (key, value, run_uuid);
DROP INDEX tags_key_value
`,
      );
      return;
    }
    const t = ddlTypes(dialect);
    await runScript(
      db,
      `
CREATE TABLE params_v2 (
  run_uuid VARCHAR(32) NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
  key VARCHAR(250) NOT NULL,
  value ${t.text} NOT NULL,
  PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
INSERT INTO params_v2 (run_uuid, key, value) SELECT run_uuid, key, value FROM params;
DROP TABLE params;
ALTER TABLE params_v2 RENAME TO params;
CREATE INDEX params_key_value ON params (key, value);
CREATE TABLE tags_v2 (
  run_uuid VARCHAR(32) NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
  key VARCHAR(250) NOT NULL,
  value ${t.text},
  PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
INSERT INTO tags_v2 (run_uuid, key, value) SELECT run_uuid, key, value FROM tags;
DROP TABLE tags;
ALTER TABLE tags_v2 RENAME TO tags;
CREATE INDEX tags_key_value ON tags (key, value);
CREATE TABLE latest_metrics_v2 (
  run_uuid VARCHAR(32) NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
  key VARCHAR(250) NOT NULL,
  value ${t.double} NOT NULL,
  timestamp ${t.bigint} NOT NULL,
  step ${t.bigint} NOT NULL,
  is_nan ${t.bool} NOT NULL DEFAULT 0,
  PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
INSERT INTO latest_metrics_v2 (run_uuid, key, value, timestamp, step, is_nan)
  SELECT run_uuid, key, value, timestamp, step, is_nan FROM latest_metrics;
DROP TABLE latest_metrics;
ALTER TABLE latest_metrics_v2 RENAME TO latest_metrics;
CREATE INDEX latest_metrics_key_value ON latest_metrics (key, value)
`,
    );
  },
};
