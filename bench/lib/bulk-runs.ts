/**
 * Bulk loading of runs for the benches: the schema and the experiment go through the store (so they are
 * exactly what the server expects), then rows are written directly in one transaction, far faster than
 * through the API. `tracking.bench.ts` and `ui.bench.ts` seed their databases with it.
 */
import Database from 'better-sqlite3';
import { createDatabase } from '../../src/tracking/sql/database.js';
import { createSqlTrackingStore } from '../../src/tracking/store/sql-tracking-store.js';

/** Row writers of one bulk load; every call adds one row. */
export interface BulkRunWriter {
  /** A FINISHED run of user 'bench' from `start` to `end`, with its artifact URI under the experiment. */
  run(id: string, name: string, start: number, end: number): void;
  tag(runId: string, key: string, value: string): void;
  param(runId: string, key: string, value: string): void;
  /** One metric value in the history. */
  metric(runId: string, key: string, value: number, timestamp: number, step: number): void;
  /** The run's latest value of a metric (what search and runs/get read). */
  latest(runId: string, key: string, value: number, timestamp: number, step: number): void;
}

/** Creates the schema (migrations) and an experiment named `name` through the store; returns its id. */
export async function createBenchExperiment(uri: string, name: string): Promise<string> {
  const database = await createDatabase(uri);
  try {
    const store = await createSqlTrackingStore({ database, defaultArtifactRoot: 'mlflow-artifacts:/' });
    return await store.createExperiment({ name });
  } finally {
    await database.close();
  }
}

/**
 * Loads a SQLite database: `fill` writes rows through the writer, all in one transaction with prepared
 * statements and synchronous=OFF; then a checkpoint and ANALYZE, as a long-lived database would have.
 * Returns the seconds the rows took.
 */
export function bulkLoadSqlite(
  dbPath: string,
  experimentId: string,
  fill: (w: BulkRunWriter) => void,
): number {
  const t0 = performance.now();
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insRun = db.prepare(
    `INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri)
     VALUES (?, ?, ?, 'bench', 'FINISHED', ?, ?, 'active', ?)`,
  );
  const insTag = db.prepare('INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?)');
  const insParam = db.prepare('INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)');
  const metricSql = (table: string) =>
    `INSERT INTO ${table} (run_uuid, key, value, timestamp, step, is_nan) VALUES (?, ?, ?, ?, ?, 0)`;
  const insMetric = db.prepare(metricSql('metrics'));
  const insLatest = db.prepare(metricSql('latest_metrics'));
  const writer: BulkRunWriter = {
    run: (id, name, start, end) =>
      insRun.run(
        id,
        name,
        Number(experimentId),
        start,
        end,
        `mlflow-artifacts:/${experimentId}/${id}/artifacts`,
      ),
    tag: (runId, key, value) => insTag.run(runId, key, value),
    param: (runId, key, value) => insParam.run(runId, key, value),
    metric: (runId, key, value, ts, step) => insMetric.run(runId, key, value, ts, step),
    latest: (runId, key, value, ts, step) => insLatest.run(runId, key, value, ts, step),
  };
  try {
    db.transaction(() => fill(writer))();
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.exec('ANALYZE');
  } finally {
    db.close();
  }
  return (performance.now() - t0) / 1000;
}
