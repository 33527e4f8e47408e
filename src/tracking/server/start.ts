import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { type CreateArtifactRepositoryOptions, createArtifactRepository } from '../artifacts/registry.js';
import { type CreateDatabaseOptions, type TrackingDatabase, createDatabase } from '../sql/database.js';
import { migrate } from '../sql/migrate.js';
import { ALL_MIGRATIONS } from '../sql/migrations/index.js';
import { createSqlTrackingStore, DEFAULT_RUN_CACHE_BYTES } from '../store/sql-tracking-store.js';
import { createSqliteReadPool, type SqliteReadPool, withReadPool } from '../store/sqlite-read-pool.js';
import { type TrackingAppOptions, createTrackingApp } from './app.js';

/** Defaults of `tassel server`, as paths relative to the working directory. */
export const DEFAULT_BACKEND_STORE_URI = 'sqlite:///./tassel-data/mlflow.db';
export const DEFAULT_ARTIFACTS_DESTINATION = 'file:///./tassel-data/artifacts';

/** Options of {@link startTrackingServer}. */
export interface StartTrackingServerOptions {
  /** `sqlite:///path` or `postgresql://...` (default sqlite:///./tassel-data/mlflow.db). */
  backendStoreUri?: string;
  /** Where proxied artifacts live: `file:///path` or `s3://bucket/prefix` (default file:///./tassel-data/artifacts). */
  artifactsDestination?: string;
  /**
   * Root for new experiments' artifact locations. Default `mlflow-artifacts:/` (served through the
   * proxy, as `mlflow server` does); with `serveArtifacts: false`, the artifacts destination itself.
   */
  defaultArtifactRoot?: string;
  /** Serve the `mlflow-artifacts` proxy (default true). */
  serveArtifacts?: boolean;
  host?: string;
  /** 0 picks a free port (default 5000). */
  port?: number;
  logger?: FastifyBaseLogger | boolean;
  logLevel?: string;
  database?: CreateDatabaseOptions;
  /**
   * Worker threads that run runs/search on their own read connections (SQLite files only), so concurrent
   * searches use other cores instead of queueing on the event loop. Default 0 (searches run in-process);
   * `tassel server` defaults to the machine's cores (at most 4).
   */
  readWorkers?: number;
  /**
   * Bytes of runs' JSON kept to answer runs/get and runs/search without building it again while a run is
   * unchanged, shared evenly by the server's store and its read workers (default 64 MiB; 0: off).
   */
  runCacheBytes?: number;
  artifacts?: CreateArtifactRepositoryOptions;
  /** Passed through to {@link createTrackingApp}. */
  app?: Partial<Omit<TrackingAppOptions, 'trackingStore' | 'artifactRepository' | 'database'>>;
}

/** A running server. */
export interface RunningTrackingServer {
  /** `http://host:port` to give clients as tracking URI. */
  url: string;
  app: FastifyInstance;
  database: TrackingDatabase;
  close(): Promise<void>;
}

/**
 * Opens the stores from URIs, applies migrations, builds the app and listens. The pipeline uses it to run
 * an embedded server in-process (port 0); `tassel server` uses it too.
 */
export async function startTrackingServer(
  options: StartTrackingServerOptions = {},
): Promise<RunningTrackingServer> {
  const backendStoreUri = options.backendStoreUri ?? DEFAULT_BACKEND_STORE_URI;
  const database = await createDatabase(backendStoreUri, options.database);
  let readPool: SqliteReadPool | null = null;
  try {
    await migrate(database, ALL_MIGRATIONS);
    const serveArtifacts = options.serveArtifacts ?? true;
    const destination = options.artifactsDestination ?? DEFAULT_ARTIFACTS_DESTINATION;
    const artifactRepository = serveArtifacts
      ? createArtifactRepository(destination, options.artifacts)
      : undefined;
    const defaultArtifactRoot =
      options.defaultArtifactRoot ?? (serveArtifacts ? 'mlflow-artifacts:/' : destination);
    const workers =
      database.dialect === 'sqlite' && !/:memory:/.test(backendStoreUri) ? (options.readWorkers ?? 0) : 0;
    const runCacheBytes = Math.floor((options.runCacheBytes ?? DEFAULT_RUN_CACHE_BYTES) / (workers + 1));
    const localStore = await createSqlTrackingStore({
      database,
      defaultArtifactRoot,
      migrate: false,
      runCacheBytes,
    });
    readPool =
      workers > 0
        ? createSqliteReadPool({
            size: workers,
            backendStoreUri,
            defaultArtifactRoot,
            busyTimeoutMs: options.database?.busyTimeoutMs,
            runCacheBytes,
          })
        : null;
    const trackingStore = readPool ? withReadPool(localStore, readPool) : localStore;
    // ---- Registry store (issue 5) is created here and passed to the app below. ----
    const registry = {
      databaseUri: backendStoreUri,
      ...(options.app?.registry ?? {}),
    };
    const app = await createTrackingApp({
      ...(options.app ?? {}),
      registry,
      trackingStore,
      artifactRepository,
      database,
      logger: options.logger ?? false,
      logLevel: options.logLevel,
    });
    const host = options.host ?? '127.0.0.1';
    await app.listen({ host, port: options.port ?? 5000 });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
    return {
      url: `http://${shownHost}:${port}`,
      app,
      database,
      close: async () => {
        await app.close();
        await readPool?.close();
        await database.close();
      },
    };
  } catch (e) {
    await readPool?.close().catch(() => {});
    await database.close().catch(() => {});
    throw e;
  }
}
