import type { TrackingDatabase } from '../sql/database.js';
import { migrate } from '../sql/migrate.js';
import { ALL_MIGRATIONS } from '../sql/migrations/index.js';
import { createSqlStoreContext } from './sql/context.js';
import { ensureDefaultExperiment, experimentOps } from './sql/experiments.js';
import { inputOps } from './sql/inputs.js';
import { metricOps } from './sql/metrics.js';
import { runOps } from './sql/runs.js';
import { runTagOps } from './sql/tags.js';
import type { TrackingStore } from './types.js';

/** Options of {@link createSqlTrackingStore}. */
export interface SqlTrackingStoreOptions {
  database: TrackingDatabase;
  /**
   * Root under which experiments get their artifact location `<root>/<experiment_id>` when created
   * without one: `mlflow-artifacts:/` when the server proxies artifacts (as `mlflow server` does by
   * default), or a `file://` / `s3://` URI.
   */
  defaultArtifactRoot: string;
  /** Apply ALL_MIGRATIONS first (default true). */
  migrate?: boolean;
  /** Cap on max_results for searches (default 50,000). */
  maxResultsCap?: number;
  /**
   * Bytes (characters) of runs' JSON kept to answer runs/get and runs/search again without building it,
   * while the run is unchanged (default {@link DEFAULT_RUN_CACHE_BYTES}; 0 turns the cache off).
   */
  runCacheBytes?: number;
}

/** The default bound of the run JSON cache: 64 MiB. */
export const DEFAULT_RUN_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * The tracking store over SQL, one implementation for SQLite and PostgreSQL through Kysely (as MLflow's
 * one SqlAlchemyStore behind its AbstractStore), assembled from one module per aggregate under `sql/`:
 * experiments, runs (with logBatch), metrics, params, tags, inputs and outputs. What differs between
 * the dialects is in `../sql/dialect.ts`. Every write is one transaction; log-batch inserts metrics in
 * one multi-row statement and keeps `latest_metrics` in step with an upsert, so search reads one row per
 * (run, metric).
 */
export async function createSqlTrackingStore(options: SqlTrackingStoreOptions): Promise<TrackingStore> {
  const ctx = createSqlStoreContext(
    options.database,
    options.defaultArtifactRoot,
    options.maxResultsCap ?? 50_000,
  );
  if (options.migrate !== false) await migrate(options.database, ALL_MIGRATIONS);
  await ensureDefaultExperiment(ctx);
  return {
    ...experimentOps(ctx),
    ...runOps(ctx, { cacheChars: options.runCacheBytes ?? DEFAULT_RUN_CACHE_BYTES }),
    ...runTagOps(ctx),
    ...inputOps(ctx),
    ...metricOps(ctx),
  };
}
