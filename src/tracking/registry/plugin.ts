import type { FastifyInstance } from 'fastify';
import { TasselError } from '../../errors.js';
import { createArtifactRepository } from '../artifacts/registry.js';
import type { ArtifactRepository } from '../artifacts/types.js';
import { appendToUri, parseModelUri } from '../client/model-uri.js';
import { createEventBus, type EventBus } from '../events/bus.js';
import { channelForSchema, createPgEventTransport } from '../events/pg-transport.js';
import { eventsPlugin } from '../events/sse-plugin.js';
import { createWebhookDispatcher, type WebhookOptions } from '../events/webhooks.js';
import { mlflowArtifactsPath } from '../server/run-artifacts.js';
import type { TrackingDatabase } from '../sql/database.js';
import type { TrackingStore } from '../store/types.js';
import { registryRoutes, tasselRegistryRoutes } from './routes.js';
import type { SourceLookups } from './source-rules.js';
import { type ArtifactProbe, createSqlRegistryStore } from './sql-store.js';
import type { RegistryStore } from './store.js';

/** Options of {@link installRegistry} (the `registry` field of the tracking app's options). */
export interface RegistryServerOptions {
  /** The registry store; default: the SQL store on `database`. */
  store?: RegistryStore;
  /** The server's database (also where the registry's tables live). */
  database?: TrackingDatabase;
  /**
   * The database URI with credentials, needed on PostgreSQL for the LISTEN connection that carries
   * events between replicas. Without it events stay on this replica.
   */
  databaseUri?: string;
  /** For logged models (experiment artifact roots) and runs:/ sources. */
  trackingStore?: TrackingStore;
  /** The proxied artifact destination (`mlflow-artifacts:`), to check that a version's files exist. */
  artifactRepository?: ArtifactRepository;
  /** An event bus to publish to; default: one created here (LISTEN/NOTIFY on PostgreSQL). */
  events?: EventBus;
  /** SSE heartbeat interval (default 15 s). */
  sseHeartbeatMs?: number;
  /** Optional webhooks for registry changes. */
  webhooks?: WebhookOptions;
  /** PENDING_REGISTRATION versions become FAILED after this long without files (default 10 min). */
  pendingTimeoutMs?: number;
  onError?: (error: unknown) => void;
}

/** The database URI as the pg driver takes it: `postgresql:` scheme, without Tassel's `schema` parameter. */
export function listenUri(uri: string): string {
  const url = new URL(uri.replace(/^[a-z0-9+]+:/i, 'postgresql:'));
  url.searchParams.delete('schema');
  return url.toString();
}

/** Checks a model location for files: through the proxy for `mlflow-artifacts:`, else by its scheme. */
export function createArtifactProbe(proxied: ArtifactRepository | undefined): ArtifactProbe {
  return async (uri) => {
    try {
      const inProxy = mlflowArtifactsPath(uri);
      let repo: ArtifactRepository;
      let path = '';
      if (inProxy !== undefined) {
        if (!proxied) return 'unknown';
        repo = proxied;
        path = inProxy;
      } else {
        repo = createArtifactRepository(uri);
      }
      const entries = await repo.list(path);
      if (entries.length > 0) return 'present';
      // A single file (not a directory) lists as empty; try to open it.
      try {
        const { stream } = await repo.get(path);
        stream.destroy();
        return 'present';
      } catch {
        return 'missing';
      }
    } catch {
      return 'unknown';
    }
  };
}

/**
 * Mounts the registry on a tracking app: MLflow's registry and logged-model endpoints under both API
 * prefixes, `GET /api/2.0/tassel/registered-models/alias-history`, the `GET /api/2.0/tassel/events` SSE
 * stream, and optional webhooks. Returns the store and bus it uses.
 */
export async function installRegistry(
  app: FastifyInstance,
  options: RegistryServerOptions,
): Promise<{ store: RegistryStore; events: EventBus }> {
  const onError = options.onError ?? ((e: unknown) => app.log.warn({ err: e }, 'registry events'));
  let events = options.events;
  if (!events) {
    const db = options.database;
    const transport =
      db?.dialect === 'postgresql' && options.databaseUri
        ? createPgEventTransport({
            connectionString: listenUri(options.databaseUri),
            channel: channelForSchema(db.schema),
            onError,
          })
        : undefined;
    events = await createEventBus({ transport, onError });
    const owned = events;
    app.addHook('onClose', async () => owned.close());
  }
  const tracking = options.trackingStore;
  let store = options.store;
  if (!store) {
    if (!options.database)
      throw new TasselError('INTERNAL_ERROR', 'installRegistry needs a store or a database');
    store = createSqlRegistryStore({
      db: options.database.db,
      dialect: options.database.dialect,
      events,
      probeArtifacts: createArtifactProbe(options.artifactRepository),
      pendingTimeoutMs: options.pendingTimeoutMs,
      resolveRunsUri: tracking
        ? async (uri) => {
            const parsed = parseModelUri(uri);
            if (parsed.kind !== 'run') return uri;
            const run = await tracking.getRun(parsed.runId);
            return appendToUri(run.info.artifact_uri, parsed.path);
          }
        : undefined,
      getExperiment: tracking ? (id) => tracking.getExperiment(id) : undefined,
      getRun: tracking ? (id) => tracking.getRun(id) : undefined,
    });
  }
  const registry = store;
  const sourceLookups: SourceLookups | undefined = tracking
    ? {
        runArtifactUri: async (runId) => (await tracking.getRun(runId)).info.artifact_uri,
        modelArtifactLocation: async (modelId) => (await registry.getLoggedModel(modelId)).info.artifact_uri,
      }
    : undefined;
  for (const prefix of ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow']) {
    await app.register(registryRoutes, {
      prefix,
      store,
      artifactRepository: options.artifactRepository,
      sourceLookups,
    });
  }
  for (const prefix of ['/api/2.0/tassel', '/ajax-api/2.0/tassel']) {
    await app.register(tasselRegistryRoutes, { prefix, store });
  }
  await app.register(eventsPlugin, { bus: events, heartbeatMs: options.sseHeartbeatMs });
  if (options.webhooks && options.webhooks.urls.length > 0) {
    const dispatcher = createWebhookDispatcher(events, {
      ...options.webhooks,
      onError:
        options.webhooks.onError ??
        ((e, ev, url) => app.log.warn({ err: e, url, event: ev.type }, 'webhook delivery failed')),
    });
    app.addHook('onClose', async () => dispatcher.close());
  }
  return { store, events };
}
