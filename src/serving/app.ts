import { createServer, type Server } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { explainRecordWith, type ServedExplanation } from './explain-step.js';
import {
  createPredictAnswer,
  createPredictFastLane,
  type FastLane,
  type PredictAnswer,
} from './fast-lane.js';
import { createServingMetrics, type RouteRecorder, type ServingMetrics } from './metrics.js';
import type { ModelHolder } from './model-holder.js';
import {
  bodyParserPlugin,
  errorHandlerPlugin,
  openApiPlugin,
  ROUTE_PLUGINS,
  requestIdPlugin,
  requestMetricsPlugin,
  type ServingContext,
} from './plugins/index.js';
import type { PredictionSink } from './prediction-sink/port.js';
import { requestIdOf } from './request-id.js';
import { createScoring, type Scoring } from './scoring.js';
import type { ServedModel } from './served-model.js';
import { installWireLane } from './wire-lane.js';

/** Options of {@link createServingApp}. */
export interface ServingAppOptions {
  /** Where the routes take the model to score with (the loader swaps models in it). */
  holder: ModelHolder;
  /** Metrics to record into; default a fresh set on a registry of this app's own. */
  metrics?: ServingMetrics;
  /** Most records in one /predict/batch or /invocations request; over it, 413. Default 10,000. */
  batchCap?: number;
  /** Most bytes in a request body; over it, 413. Default 5 MiB. */
  bodyLimit?: number;
  /** Answer /health/ready with 503 while the fallback serves (default: 200 with status "degraded"). */
  failReadyOnFallback?: boolean;
  /** pino level; default "warn" (no per-request logging on the hot path). */
  logLevel?: string;
  /** A pino-compatible logger instance to use instead of a new one. */
  logger?: FastifyServerOptions['loggerInstance'];
  /** The prediction log (every prediction or a sample; see prediction-sink/port.ts); default none. */
  predictionSink?: PredictionSink | null;
  /** The input field /feedback's entity ids refer to by default (else the served model's id column). */
  entityField?: string;
  /** Serve Swagger UI at /docs (default true). /openapi.json is always served. */
  docs?: boolean;
  /** Socket timeouts (ms): a request must arrive within `requestTimeoutMs`; default 30 s. */
  requestTimeoutMs?: number;
  /** Keep-alive timeout (ms); default 72 s (longer than typical load balancers' 60 s). */
  keepAliveTimeoutMs?: number;
  /**
   * Answer the happy path of single-record POST /predict straight from Node's HTTP server, ahead of Fastify's
   * routing (same bytes, headers and metrics; see fast-lane.ts). Default true; false sends every request
   * through Fastify. Only affects a listening server: app.inject() always goes through Fastify.
   */
  fastLane?: boolean;
  /**
   * Answer the happy path of keep-alive single-record POST /predict straight from the socket's bytes, below
   * node:http (same bytes, headers and metrics as the fast lane; see wire-lane.ts). Default: on when the fast
   * lane is; false leaves every request to node:http (and the fast lane).
   */
  wireLane?: boolean;
  /** Renders GET /metrics (default: this app's own registry); cluster workers answer for the whole service. */
  renderMetrics?: () => Promise<string>;
  /** The bearer token PUT /admin/prediction-log needs; without one, admin writes are refused (403). */
  adminToken?: string | null;
  /** Called after the sample rate changed through PUT /admin/prediction-log (a cluster worker tells the others). */
  onSampleRate?: (rate: number) => void;
}

/**
 * Builds the prediction service (not listening yet): /predict, /predict/batch, /invocations (MLflow's scoring
 * protocol), /health/live, /health/ready, /model, /metrics, /openapi.json and /docs. The model comes from
 * `options.holder`, which a loader (or a test) fills and swaps.
 *
 * The app is a Fastify server with root-level plugins (error handler, request metrics, OpenAPI) and then one
 * encapsulated plugin per endpoint group (`plugins/index.ts` lists them), all sharing one scoring step
 * (scoring.ts) with the fast lane that answers single-record /predict ahead of Fastify.
 */
export async function createServingApp(options: ServingAppOptions): Promise<FastifyInstance> {
  const { holder } = options;
  const metrics = options.metrics ?? createServingMetrics();
  const bodyLimit = options.bodyLimit ?? 5 * 1024 * 1024;
  const laneSlot = createLaneSlot();
  const wireLane =
    options.fastLane === false || options.wireLane === false
      ? null
      : { bodyLimit, recorder: metrics.routeRecorder('/predict', 'POST') };
  const app = Fastify(
    fastifyOptions(options, bodyLimit, options.fastLane === false ? null : laneSlot, wireLane),
  );
  app.addHook('preClose', (done) => {
    laneSlot.closing = true;
    done();
  });

  const scoring = createScoring({
    metrics,
    log: app.log,
    batchCap: options.batchCap ?? 10_000,
    sink: options.predictionSink ?? null,
  });
  const context: ServingContext = {
    holder,
    scoring,
    metrics,
    batchCap: options.batchCap ?? 10_000,
    failReadyOnFallback: options.failReadyOnFallback ?? false,
    sink: options.predictionSink ?? null,
    entityField: options.entityField,
    renderMetrics: options.renderMetrics ?? (() => metrics.render()),
    admin: { token: options.adminToken || null, onSampleRate: options.onSampleRate },
  };
  const sink = options.predictionSink;
  if (sink) metrics.readPredictionLogSampleRate(() => sink.sampleRate);

  await app.register(requestMetricsPlugin, { holder, metrics });
  await app.register(requestIdPlugin);
  await app.register(errorHandlerPlugin);
  await app.register(bodyParserPlugin);
  await app.register(openApiPlugin, { docs: options.docs });
  for (const plugin of ROUTE_PLUGINS) await app.register(plugin, context);

  if (options.fastLane !== false) {
    const predictors = {
      predictRaw(raw: Buffer, requestId: string, now?: number) {
        const model = holder.current;
        return model === null ? null : scoring.predictRawJson(model, raw, requestId, now);
      },
      predict(body: Record<string, unknown>, raw: Buffer, requestId: string, explainTop: number | null) {
        const model = holder.current;
        if (model === null || model.validator.check(body) !== null) return null;
        if (explainTop === null) return scoring.predictRecordJson(model, body, raw, requestId);
        return explainedPredictJson(scoring, model, body, requestId, explainTop);
      },
    };
    laneSlot.answer = createPredictAnswer(predictors);
    laneSlot.lane = createPredictFastLane({
      ...predictors,
      bodyLimit,
      recorder: metrics.routeRecorder('/predict', 'POST'),
      isClosing: () => laneSlot.closing,
      replay: (request, payload, requestId) =>
        app.inject({
          method: 'POST',
          url: request.url ?? '/predict',
          headers: { ...request.headers, 'x-request-id': requestId },
          payload,
        }),
    });
  }
  return app;
}

/**
 * Where the HTTP server finds the fast lane and the wire lane's answer: set once the routes exist (the server is
 * created before them), and whether the app is closing.
 */
interface LaneSlot {
  lane: FastLane | null;
  answer: PredictAnswer | null;
  closing: boolean;
}

function createLaneSlot(): LaneSlot {
  return { lane: null, answer: null, closing: false };
}

/**
 * Fastify's options: the logger, limits, timeouts, Ajv settings, and (with a lane slot) a server factory that
 * offers each request to the fast lane before Fastify's routing.
 */
function fastifyOptions(
  options: ServingAppOptions,
  bodyLimit: number,
  laneSlot: LaneSlot | null,
  wireLane: { bodyLimit: number; recorder: RouteRecorder } | null,
): FastifyServerOptions & { serverFactory?: (handler: (req: never, res: never) => void) => Server } {
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const keepAliveTimeout = options.keepAliveTimeoutMs ?? 72_000;
  return {
    ...(laneSlot === null
      ? {}
      : {
          serverFactory: (handler: (req: never, res: never) => void) => {
            const server: Server = createServer((req, res) => {
              const lane = laneSlot.lane;
              if (lane === null || !lane(req, res)) handler(req as never, res as never);
            });
            // what Fastify sets on the servers it creates itself
            server.keepAliveTimeout = keepAliveTimeout;
            server.requestTimeout = requestTimeout;
            server.setTimeout(0);
            if (wireLane !== null) {
              installWireLane({
                ...wireLane,
                server,
                answer: (raw, requestId, explainTop, now) =>
                  laneSlot.answer?.(raw, requestId, explainTop, now) ?? null,
                isClosing: () => laneSlot.closing,
              });
            }
            return server;
          },
        }),
    ...(options.logger
      ? { loggerInstance: options.logger }
      : { logger: { level: options.logLevel ?? 'warn' } }),
    genReqId: (request) => requestIdOf(request.headers),
    // the app logger itself, not a pino child per request: requests are not logged below warn anyway
    childLoggerFactory: (logger) => logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    requestTimeout,
    keepAliveTimeout,
    return503OnClosing: true,
    ajv: {
      customOptions: {
        coerceTypes: false,
        removeAdditional: false,
        useDefaults: false,
        allErrors: false,
        allowUnionTypes: true,
      },
    },
  };
}

/**
 * The fast lane's `POST /predict?explain=true`: the route's answer (the same scoring, explanation and bytes, see
 * plugins/predict.ts), or null, counting nothing, when the model cannot explain the record (the route then
 * answers why). The explanation comes first so that a refusal happens before the prediction is counted; a served
 * model scores the record it has just explained from that explanation's encoding (bundle-model.ts).
 */
function explainedPredictJson(
  scoring: Scoring,
  model: ServedModel,
  body: Record<string, unknown>,
  requestId: string,
  top: number,
): string | null {
  if (!model.explainRecord) return null;
  let explanation: ServedExplanation;
  try {
    explanation = model.explainRecord(body, top);
  } catch {
    return null;
  }
  const out = scoring.predictRecord(model, body, requestId);
  // the model threw while scoring and its prior answered: explain the prior, as the route does
  if (out.model.fallback && !model.fallback) {
    explanation = explainRecordWith(model, body, top, out.model, out.probability);
  }
  return JSON.stringify({ ...out, explanation });
}
