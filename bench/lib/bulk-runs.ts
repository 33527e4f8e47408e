/**
 * Bulk loading of runs for the benches: the schema and the experiment go through the store (so they are
 * exactly what the server expects), then rows are written directly, far faster than through the API:
 * on SQLite in one transaction of prepared statements, on PostgreSQL in multi-row `unnest` INSERTs.
 * `tracking.bench.ts` and `ui.bench.ts` seed their databases with it.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { createDatabase } from '../../src/tracking/sql/database.js';
import { RUN_COLUMN_NAMES } from '../../src/tracking/store/sql/run-rows.js';
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

/** Writes the rows of run number `r` (0-based). */
export type SeedRun = (w: BulkRunWriter, r: number) => void;

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

const artifactUri = (experimentId: string, runId: string) =>
  `mlflow-artifacts:/${experimentId}/${runId}/artifacts`;

/**
 * Loads `runs` runs into a SQLite database in one transaction of prepared statements with
 * synchronous=OFF, then checkpoints and runs ANALYZE, as a long-lived database would have. Returns seconds.
 */
export function bulkLoadSqlite(dbPath: string, experimentId: string, runs: number, seed: SeedRun): number {
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
      insRun.run(id, name, Number(experimentId), start, end, artifactUri(experimentId, id)),
    tag: (runId, key, value) => insTag.run(runId, key, value),
    param: (runId, key, value) => insParam.run(runId, key, value),
    metric: (runId, key, value, ts, step) => insMetric.run(runId, key, value, ts, step),
    latest: (runId, key, value, ts, step) => insLatest.run(runId, key, value, ts, step),
  };
  try {
    db.transaction(() => {
      for (let r = 0; r < runs; r++) seed(writer, r);
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.exec('ANALYZE');
  } finally {
    db.close();
  }
  return (performance.now() - t0) / 1000;
}

/** Column-wise buffers of one table's rows and the unnest INSERT that writes them. */
interface PgBuffer {
  sql: string;
  columns: unknown[][];
}

function pgBuffer(table: string, columns: string[], types: string[]): PgBuffer {
  const args = types.map((t, i) => `$${i + 1}::${t}[]`).join(', ');
  return {
    sql: `INSERT INTO ${table} (${columns.join(', ')}) SELECT * FROM unnest(${args})`,
    columns: columns.map(() => []),
  };
}

async function flush(client: pg.Client, buffers: PgBuffer[]): Promise<void> {
  for (const b of buffers) {
    if (!b.columns[0].length) continue;
    await client.query(b.sql, b.columns);
    for (const c of b.columns) c.length = 0;
  }
}

/**
 * Loads `runs` runs into a PostgreSQL schema (already migrated, e.g. by {@link createBenchExperiment}) with
 * unnest INSERTs of 500 runs' rows at a time, in one transaction, then VACUUM ANALYZE, as autovacuum
 * (on by default) leaves a long-lived database: the visibility map lets (key, value) index scans skip
 * the table. Returns seconds.
 */
export async function bulkLoadPostgres(
  uri: string,
  schema: string,
  experimentId: string,
  runs: number,
  seed: SeedRun,
): Promise<number> {
  const t0 = performance.now();
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  const kv = ['run_uuid', 'key', 'value'];
  const metricCols = ['run_uuid', 'key', 'value', 'timestamp', 'step', 'is_nan'];
  const metricTypes = ['text', 'text', 'float8', 'int8', 'int8', 'bool'];
  const runB = pgBuffer(
    'runs',
    [...RUN_COLUMN_NAMES],
    ['text', 'text', 'int8', 'text', 'text', 'int8', 'int8', 'text', 'text'],
  );
  const tagB = pgBuffer('tags', kv, ['text', 'text', 'text']);
  const paramB = pgBuffer('params', kv, ['text', 'text', 'text']);
  const metricB = pgBuffer('metrics', metricCols, metricTypes);
  const latestB = pgBuffer('latest_metrics', metricCols, metricTypes);
  const buffers = [runB, tagB, paramB, metricB, latestB];
  const push = (b: PgBuffer, row: unknown[]) => {
    for (let i = 0; i < row.length; i++) b.columns[i].push(row[i]);
  };
  const writer: BulkRunWriter = {
    run: (id, name, start, end) =>
      push(runB, [
        id,
        name,
        experimentId,
        'bench',
        'FINISHED',
        start,
        end,
        'active',
        artifactUri(experimentId, id),
      ]),
    tag: (runId, key, value) => push(tagB, [runId, key, value]),
    param: (runId, key, value) => push(paramB, [runId, key, value]),
    metric: (runId, key, value, ts, step) => push(metricB, [runId, key, value, ts, step, false]),
    latest: (runId, key, value, ts, step) => push(latestB, [runId, key, value, ts, step, false]),
  };
  try {
    await client.query(`SET search_path TO ${schema}`);
    await client.query('BEGIN');
    for (let r = 0; r < runs; r++) {
      seed(writer, r);
      if (r % 500 === 499) await flush(client, buffers);
    }
    await flush(client, buffers);
    await client.query('COMMIT');
    // The loaded tables only: a bare VACUUM would process every schema of the shared database.
    await client.query('VACUUM ANALYZE runs, tags, params, metrics, latest_metrics');
  } finally {
    await client.end();
  }
  return (performance.now() - t0) / 1000;
}
