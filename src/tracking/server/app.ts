import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { TASSEL_VERSION } from '../../version.js';
import type { ArtifactRepository } from '../artifacts/types.js';
import { type AuthOptions, authPlugin } from '../auth/auth.js';
import { installRegistry, type RegistryServerOptions } from '../registry/plugin.js';
import type { TrackingDatabase } from '../sql/database.js';
import type { TrackingStore } from '../store/types.js';
import { artifactFileRoutes } from './artifact-file-routes.js';
import { artifactProxyRoutes } from './artifact-proxy-routes.js';
import { installErrorHandling } from './errors-plugin.js';
import { installGraphql } from './graphql-plugin.js';
import { installMlflowRequestCheck } from './mlflow-request-check.js';
import { trackingRoutes } from './tracking-routes.js';
import { type UiPluginOptions, uiPlugin } from './ui-plugin.js';

/** The two prefixes MLflow mounts its REST API under. */
export const MLFLOW_API_PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;

/** Options of {@link createTrackingApp}; the stores are passed in so tests can build apps on any backend. */
export interface TrackingAppOptions {
  trackingStore: TrackingStore;
  /**
   * The artifact destination that `mlflow-artifacts:` URIs resolve to (`--artifacts-destination`);
   * without it the artifact proxy answers 501 NOT_IMPLEMENTED.
   */
  artifactRepository?: ArtifactRepository;
  /** The open database, for plugins keeping their tables beside tracking's (registry, auth). */
  database?: TrackingDatabase;
  /** A pino logger, `true` for a default one at `logLevel`, or `false` (default) for none. */
  logger?: FastifyBaseLogger | boolean;
  /** Level for the default logger (default 'info'). */
  logLevel?: string;
  /** Largest JSON request body in bytes (default 16 MiB; log-batch with 100 long params fits). */
  bodyLimit?: number;
  /** Largest artifact uploaded through the proxy, in bytes (default 5 GiB). */
  maxArtifactBytes?: number;
  /** Server cap on `max_results` for runs/search and experiments/search (default 50,000 as MLflow). */
  maxSearchResults?: number;
  /** Server cap on metrics/get-history page size (default 25,000). */
  maxHistoryResults?: number;
  /** Socket request timeout in ms (default 120,000); 0 disables. */
  requestTimeoutMs?: number;
  /** Token authentication (issue 5); without it the server is open. */
  auth?: AuthOptions;
  /** The model registry, alias history, events and webhooks (issue 5). */
  registry?: RegistryServerOptions;
  /** Swagger UI at `/docs` (default true); the OpenAPI document is always at `/openapi.json`. */
  docs?: boolean;
  /** The web UI at `/` (default on; `dist-ui/` or `{root}`); `false` turns it off. */
  ui?: boolean | UiPluginOptions;
  /** MLflow's GraphQL endpoint at `/graphql` and `/ajax-api/graphql` (default true). */
  graphql?: boolean;
  /** Extra plugins registered after the built-in ones, each under both MLflow API prefixes if `mlflowApi`. */
  plugins?: Array<{ plugin: FastifyPluginAsync; mlflowApi?: boolean }>;
}

/**
 * Registers `plugin` under `/api/2.0/mlflow` and `/ajax-api/2.0/mlflow`, as MLflow serves every
 * endpoint under both. The plugin's routes use paths relative to that prefix (e.g. `/runs/get`).
 */
export async function mountMlflowApi<O extends object>(
  app: FastifyInstance,
  plugin: FastifyPluginAsync<O>,
  options: O,
): Promise<void> {
  for (const prefix of MLFLOW_API_PREFIXES) await app.register(plugin, { ...options, prefix });
}

/**
 * Builds the tracking server: MLflow's REST API 2.0 for experiments, runs, metrics and artifacts, the
 * `mlflow-artifacts` proxy, `/health` and `/version`, with MLflow's `{error_code, message}` error bodies.
 */
export async function createTrackingApp(options: TrackingAppOptions): Promise<FastifyInstance> {
  const logger = options.logger ?? false;
  const app = Fastify({
    ...(typeof logger === 'object'
      ? { loggerInstance: logger }
      : { logger: logger ? { level: options.logLevel ?? 'info' } : false }),
    bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024,
    requestTimeout: options.requestTimeoutMs ?? 120_000,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 2000 },
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: false } },
  }) as unknown as FastifyInstance;
  installErrorHandling(app);
  // MLflow's type and presence checks on JSON bodies, before Fastify's coercing validation.
  installMlflowRequestCheck(app);
  // Registered before every route so that each route's TypeBox schemas land in the document.
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tassel tracking server',
        description:
          "MLflow's REST API 2.0 (tracking, artifacts, model registry, logged models) as Tassel serves it, " +
          "every endpoint also under /ajax-api/2.0. Errors are `{error_code, message}` with MLflow's statuses.",
        version: TASSEL_VERSION,
      },
    },
    transformObject: (documentObject) =>
      'openapiObject' in documentObject
        ? (optionalNullableBodies(
            documentObject.openapiObject as OpenApiDocument,
          ) as typeof documentObject.openapiObject)
        : documentObject.swaggerObject,
  });
  if (options.docs ?? true) await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());

  if (options.ui !== false) await app.register(uiPlugin, options.ui === true ? {} : (options.ui ?? {}));
  // ---- Auth plugin (issue 5) is registered here, before any route, e.g.: ----
  if (options.auth) await app.register(authPlugin, options.auth);
  // ---- end of auth plugin ----

  app.get('/health', async (_req, reply) => reply.type('text/plain; charset=utf-8').send('OK'));
  app.get('/version', async (_req, reply) => reply.type('text/plain; charset=utf-8').send(TASSEL_VERSION));
  // MLflow 3's server-info (what its client and UI check before using workspaces): a SQL store, no workspaces.
  for (const prefix of ['/api/3.0/mlflow', '/ajax-api/3.0/mlflow']) {
    app.get(`${prefix}/server-info`, async () => ({ store_type: 'SqlStore', workspaces_enabled: false }));
  }

  await mountMlflowApi(app, trackingRoutes, {
    store: options.trackingStore,
    artifactRepository: options.artifactRepository,
    maxSearchResults: options.maxSearchResults ?? 50_000,
    maxHistoryResults: options.maxHistoryResults ?? 25_000,
    database: options.database,
  });
  for (const prefix of ['/api/2.0/mlflow-artifacts', '/ajax-api/2.0/mlflow-artifacts']) {
    await app.register(artifactProxyRoutes, {
      prefix,
      repository: options.artifactRepository,
      maxArtifactBytes: options.maxArtifactBytes ?? 5 * 1024 ** 3,
    });
  }

  // ---- Registry plugins (issue 5) are registered here, one line each, e.g.: ----
  const registry = options.registry
    ? await installRegistry(app, {
        database: options.database,
        trackingStore: options.trackingStore,
        artifactRepository: options.artifactRepository,
        ...options.registry,
      })
    : undefined;
  // ---- end of registry plugins ----

  // MLflow's artifact downloads and uploads outside the JSON API (the web UI's get-artifact links).
  const files = {
    trackingStore: options.trackingStore,
    registryStore: registry?.store,
    artifactRepository: options.artifactRepository,
  };
  await app.register(artifactFileRoutes, { ...files, scope: 'root' });
  await mountMlflowApi(app, artifactFileRoutes, { ...files, scope: 'api' });
  // MLflow's GraphQL API (/graphql, /ajax-api/graphql), resolved through the REST routes above.
  if (options.graphql ?? true) await installGraphql(app);

  for (const extra of options.plugins ?? []) {
    if (extra.mlflowApi) await mountMlflowApi(app, extra.plugin, {});
    else await app.register(extra.plugin);
  }
  return app;
}

interface BodySchema {
  type?: string;
  anyOf?: BodySchema[];
}

interface OpenApiDocument {
  paths?: Record<
    string,
    Record<
      string,
      { requestBody?: { required?: boolean; content?: Record<string, { schema?: BodySchema }> } }
    >
  >;
}

/**
 * A body schema "object or null" (the registry's DELETEs, whose arguments may come as query parameters instead)
 * is documented as an optional body of that object: @fastify/swagger marks every body schema required.
 */
function optionalNullableBodies<T extends OpenApiDocument>(doc: T): T {
  for (const ops of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(ops)) {
      const body = op.requestBody;
      for (const media of Object.values(body?.content ?? {})) {
        const alternatives = media.schema?.anyOf;
        if (!body || !alternatives?.some((a) => a.type === 'null')) continue;
        const rest = alternatives.filter((a) => a.type !== 'null');
        if (rest.length === 1) media.schema = rest[0];
        else media.schema = { anyOf: rest };
        body.required = false;
      }
    }
  }
  return doc;
}
