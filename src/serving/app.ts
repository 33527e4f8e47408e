import { createServer, type Server } from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import type { RawRecord } from '../data/table.js';
import { errorBody, InputError, isTasselError, TasselError } from '../errors.js';
import { TASSEL_VERSION } from '../version.js';
import { createFallbackModel } from './fallback.js';
import { createPredictFastLane, type FastLane } from './fast-lane.js';
import { createServingMetrics, type ServingMetrics } from './metrics.js';
import type { ModelHolder } from './model-holder.js';
import type { PredictionLog } from './prediction-log.js';
import {
  BatchBody,
  BatchResponse,
  ErrorResponse,
  InvocationsBody,
  InvocationsResponse,
  LiveResponse,
  ModelResponse,
  PredictBody,
  PredictResponse,
  ReadyResponse,
} from './schemas.js';
import type { ServedModel } from './served-model.js';
import { padVector } from '../features/padding.js';

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
  /** Opt-in sampled prediction log. */
  predictionLog?: PredictionLog | null;
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
  /** Renders GET /metrics (default: this app's own registry); cluster workers answer for the whole service. */
  renderMetrics?: () => Promise<string>;
}

const JSON_ERROR = { 400: ErrorResponse, 413: ErrorResponse, 503: ErrorResponse };

interface ModelRef {
  name: string;
  version: string | null;
  run_id: string | null;
  fallback: boolean;
  reason?: string;
}

/** The end of a /predict response after the label (threshold and model object) as JSON, once per served model. */
const responseTails = new WeakMap<ServedModel, string>();
function responseTailOf(model: ServedModel): string {
  let tail = responseTails.get(model);
  if (tail === undefined) {
    tail = `,"threshold":${JSON.stringify(model.threshold)},"model":${JSON.stringify(refOf(model))}}`;
    responseTails.set(model, tail);
  }
  return tail;
}

/** The response's `model` object, built once per served model. */
const refs = new WeakMap<ServedModel, ModelRef>();
function refOf(model: ServedModel): ModelRef {
  let ref = refs.get(model);
  if (ref === undefined) {
    ref = {
      name: model.identity.name,
      version: model.identity.version,
      run_id: model.identity.runId,
      fallback: model.fallback,
    };
    if (model.reason !== undefined) ref.reason = model.reason;
    refs.set(model, ref);
  }
  return ref;
}

/** Per model, the prior model that answers when its scoring throws. */
const inferenceFallbacks = new WeakMap<ServedModel, ServedModel>();
function inferenceFallbackOf(model: ServedModel): ServedModel {
  let fb = inferenceFallbacks.get(model);
  if (fb === undefined) {
    fb = createFallbackModel({
      reason: 'inference error: the model failed on this input; the class prior answered',
      prior: model.prior,
      priorSource: 'last-good-model',
      identity: model.identity,
      threshold: model.threshold,
      schema: model.schema,
      width: model.width,
      featureNames: model.featureNames,
    });
    inferenceFallbacks.set(model, fb);
  }
  return fb;
}

/** A readable message from Ajv's errors: the deepest one, naming the field. */
function validationMessage(error: FastifyError): string {
  const errors = error.validation ?? [];
  let best = errors[0];
  for (const e of errors) if (best && e.instancePath.length > best.instancePath.length) best = e;
  if (!best) return error.message;
  const params = best.params as Record<string, unknown>;
  if (best.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    return `field "${params.additionalProperty}" is not allowed here`;
  }
  const path = best.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
  return path
    ? `field "${path}": ${best.message ?? 'is invalid'}`
    : `request body ${best.message ?? 'is invalid'}`;
}

/**
 * Builds the prediction service (not listening yet): /predict, /predict/batch, /invocations (MLflow's scoring
 * protocol), /health/live, /health/ready, /model, /metrics, /openapi.json and /docs. The model comes from
 * `options.holder`, which a loader (or a test) fills and swaps.
 */
export async function createServingApp(options: ServingAppOptions): Promise<FastifyInstance> {
  const { holder } = options;
  const metrics = options.metrics ?? createServingMetrics();
  const batchCap = options.batchCap ?? 10_000;
  const predictionLog = options.predictionLog ?? null;
  const failReadyOnFallback = options.failReadyOnFallback ?? false;

  const bodyLimit = options.bodyLimit ?? 5 * 1024 * 1024;
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const keepAliveTimeout = options.keepAliveTimeoutMs ?? 72_000;
  // set once the routes exist; the server factory below runs before they do
  let fastLane: FastLane | null = null;
  let closing = false;

  const app = Fastify({
    ...(options.fastLane === false
      ? {}
      : {
          serverFactory: (handler: (req: never, res: never) => void) => {
            const server: Server = createServer((req, res) => {
              if (fastLane === null || !fastLane(req, res)) handler(req as never, res as never);
            });
            // what Fastify sets on the servers it creates itself
            server.keepAliveTimeout = keepAliveTimeout;
            server.requestTimeout = requestTimeout;
            server.setTimeout(0);
            return server;
          },
        }),
    ...(options.logger
      ? { loggerInstance: options.logger }
      : { logger: { level: options.logLevel ?? 'warn' } }),
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
  });

  if (holder.current) metrics.setModel(holder.current);
  const unsubscribe = holder.onSwap((next) => metrics.setModel(next));
  app.addHook('onClose', async () => {
    unsubscribe();
  });
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  // each route gets its own onResponse hook with its metrics recorder bound at registration
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const recorders = new Map(methods.map((m) => [m, metrics.routeRecorder(route.url, m)]));
    const single = recorders.size === 1 ? recorders.values().next().value! : null;
    const hook = (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      (single ?? recorders.get(request.method))?.observe(reply.statusCode, reply.elapsedTime / 1000);
      done();
    };
    const existing = route.onResponse;
    route.onResponse =
      existing === undefined ? [hook] : [...(Array.isArray(existing) ? existing : [existing]), hook];
  });

  app.setErrorHandler((error: FastifyError | TasselError, request, reply) => {
    if (isTasselError(error)) {
      reply.status(error.status).send(errorBody(error));
      return;
    }
    const e = error as FastifyError;
    if (e.validation) {
      reply.status(400).send(errorBody(new InputError(validationMessage(e))));
      return;
    }
    const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
    if (status === 413) {
      reply.status(413).send(errorBody(new TasselError('REQUEST_TOO_LARGE', e.message)));
    } else if (status >= 400 && status < 500) {
      // malformed JSON, wrong content type, empty body, prototype poisoning...
      const code = status === 400 ? 'MALFORMED_REQUEST' : 'BAD_REQUEST';
      reply.status(status).send({ error_code: code, message: e.message });
    } else {
      request.log.error({ err: error }, 'request failed');
      reply.status(500).send(errorBody(error));
    }
  });
  app.setNotFoundHandler((request, reply) => {
    reply
      .status(404)
      .send(
        errorBody(
          new TasselError('ENDPOINT_NOT_FOUND', `no endpoint ${request.method} ${request.url.split('?')[0]}`),
        ),
      );
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tassel prediction service',
        description:
          'Course-completion predictions from the model the registry names. Errors are `{error_code, message}` ' +
          "as MLflow sends them. /invocations speaks MLflow's scoring protocol.",
        version: TASSEL_VERSION,
      },
      tags: [
        { name: 'predict', description: 'Predictions' },
        { name: 'ops', description: 'Health, model and metrics' },
      ],
    },
  });
  if (options.docs ?? true) await app.register(swaggerUi, { routePrefix: '/docs' });

  const current = (): ServedModel => {
    const model = holder.current;
    if (model === null) {
      throw new TasselError('TEMPORARILY_UNAVAILABLE', 'the model is still loading; retry shortly');
    }
    return model;
  };

  /** Scores one validated record; a throwing model is answered by its prior. */
  const scoreRecord = (model: ServedModel, record: RawRecord): { p: number; used: ServedModel } => {
    try {
      const p = model.scoreRecord(record);
      if (p >= 0 && p <= 1) return { p, used: model };
      throw new Error(`model returned ${p}`);
    } catch (err) {
      metrics.countInferenceError();
      app.log.error({ err, model: model.identity }, 'inference failed; answering with the class prior');
      const fb = inferenceFallbackOf(model);
      return { p: fb.prior, used: fb };
    }
  };

  const scoreVector = (model: ServedModel, raw: readonly (number | null)[]) => {
    const pad = padVector(raw as ArrayLike<number>, model.width);
    metrics.countPadding(pad.padded > 0 ? 'padded' : pad.truncated > 0 ? 'truncated' : 'exact');
    let p: number;
    let used = model;
    try {
      p = model.scoreVector(pad.vector);
      if (!(p >= 0 && p <= 1)) throw new Error(`model returned ${p}`);
    } catch (err) {
      metrics.countInferenceError();
      app.log.error({ err, model: model.identity }, 'inference failed; answering with the class prior');
      used = inferenceFallbackOf(model);
      p = used.prior;
    }
    return {
      p,
      used,
      padding: {
        expected: pad.expected,
        received: pad.received,
        padded: pad.padded,
        truncated: pad.truncated,
      },
    };
  };

  const logPrediction = (route: string, model: ServedModel, request: unknown, response: unknown) => {
    if (predictionLog?.sampled()) {
      predictionLog.record({
        route,
        model: { name: model.identity.name, version: model.identity.version, fallback: model.fallback },
        request,
        response,
      });
    }
  };

  /** Validates and scores many records (batch and /invocations). */
  const scoreMany = (model: ServedModel, records: readonly unknown[], what: string) => {
    if (records.length > batchCap) {
      throw new TasselError(
        'REQUEST_TOO_LARGE',
        `${records.length} records in one request is over the cap of ${batchCap}; split the request`,
      );
    }
    for (let i = 0; i < records.length; i++) {
      const problem = model.validator.check(records[i]);
      if (problem !== null) throw new InputError(`${what}[${i}]: ${problem}`);
    }
    const predictions = new Array<{ probability: number; label: number }>(records.length);
    let fallbackUsed: ServedModel | null = null;
    let positives = 0;
    for (let i = 0; i < records.length; i++) {
      const { p, used } = scoreRecord(model, records[i] as RawRecord);
      if (used !== model) fallbackUsed = used;
      const label = p >= used.threshold ? 1 : 0;
      positives += label;
      predictions[i] = { probability: p, label };
    }
    const fb = model.fallback || fallbackUsed !== null;
    if (positives > 0) metrics.countPredictions(1, fb, positives);
    if (records.length - positives > 0) metrics.countPredictions(0, fb, records.length - positives);
    return { predictions, used: fallbackUsed ?? model };
  };

  /** /predict for one record the model's validator accepted (shared by the route and the fast lane). */
  /** Scores a validated record and counts the prediction: the part the route and the fast lane share. */
  const scoreAndCount = (model: ServedModel, body: Record<string, unknown>) => {
    const { p, used } = scoreRecord(model, body as RawRecord);
    const label: 0 | 1 = p >= used.threshold ? 1 : 0;
    metrics.countPredictions(label, used.fallback);
    return { p, label, used };
  };

  const predictValidRecord = (model: ServedModel, body: Record<string, unknown>) => {
    const { p, label, used } = scoreAndCount(model, body);
    const out = { probability: p, label, threshold: used.threshold, model: refOf(used) };
    logPrediction('/predict', used, body, out);
    return out;
  };

  /**
   * The fast lane's twin of predictValidRecord: the same scoring, counting and logging, answered as JSON text.
   * Why text: the part after the label is fixed per served model, so it is serialized once, not per request;
   * the bytes equal JSON.stringify of the route's object (p is a finite number in [0, 1], which String() and
   * JSON.stringify spell alike), which the fast-lane agreement test checks.
   */
  const predictValidRecordJson = (model: ServedModel, body: Record<string, unknown>): string => {
    const { p, label, used } = scoreAndCount(model, body);
    if (predictionLog !== null) {
      logPrediction('/predict', used, body, {
        probability: p,
        label,
        threshold: used.threshold,
        model: refOf(used),
      });
    }
    return `{"probability":${p},"label":${label}${responseTailOf(used)}`;
  };

  app.post(
    '/predict',
    {
      schema: {
        tags: ['predict'],
        summary: 'Predict one record (or one feature vector)',
        body: PredictBody,
        response: { 200: PredictResponse, ...JSON_ERROR },
      },
    },
    (request) => {
      const model = current();
      const body = request.body as Record<string, unknown>;
      const features = body.features;
      if (features !== undefined) {
        for (const key in body) {
          if (key !== 'features') {
            throw new InputError(
              `field "${key}": a vector request {"features": [...]} may carry no other field`,
            );
          }
        }
        const { p, used, padding } = scoreVector(model, features as (number | null)[]);
        const label = p >= used.threshold ? 1 : 0;
        metrics.countPredictions(label, used.fallback);
        const out = { probability: p, label, threshold: used.threshold, model: refOf(used), padding };
        logPrediction('/predict', used, body, out);
        return out;
      }
      const problem = model.validator.check(body);
      if (problem !== null) throw new InputError(problem);
      return predictValidRecord(model, body);
    },
  );

  if (options.fastLane !== false) {
    const recorder = metrics.routeRecorder('/predict', 'POST');
    fastLane = createPredictFastLane({
      bodyLimit,
      recorder,
      isClosing: () => closing,
      predict(body) {
        const model = holder.current;
        if (model === null || model.validator.check(body) !== null) return null;
        return predictValidRecordJson(model, body);
      },
      replay: (request, body) =>
        app.inject({ method: 'POST', url: '/predict', headers: request.headers, payload: body }),
    });
  }

  app.post(
    '/predict/batch',
    {
      schema: {
        tags: ['predict'],
        summary: 'Predict many records',
        description: `An array of records or {"records": [...]}; at most ${batchCap} records (413 over it).`,
        body: BatchBody,
        response: { 200: BatchResponse, ...JSON_ERROR },
      },
    },
    (request) => {
      const model = current();
      const body = request.body as BatchBody;
      const records = Array.isArray(body) ? body : body.records;
      const { predictions, used } = scoreMany(model, records, 'records');
      const out = { predictions, threshold: used.threshold, model: refOf(used) };
      logPrediction('/predict/batch', used, body, out);
      return out;
    },
  );

  const INPUT_KEYS = ['dataframe_split', 'dataframe_records', 'instances', 'inputs'] as const;
  app.post(
    '/invocations',
    {
      schema: {
        tags: ['predict'],
        summary: "MLflow's scoring protocol",
        description:
          'Exactly one of dataframe_split, dataframe_records, instances, inputs; answers {"predictions": [...]} ' +
          "as MLflow's pyfunc scoring server does (one {probability, label} per row).",
        body: InvocationsBody,
        response: { 200: InvocationsResponse, ...JSON_ERROR },
      },
    },
    (request) => {
      const model = current();
      const body = request.body as InvocationsBody;
      const present = INPUT_KEYS.filter((k) => body[k] !== undefined);
      if (present.length !== 1) {
        throw new InputError(
          `the input must be a JSON object with exactly one of the input fields ${INPUT_KEYS.join(', ')}` +
            (present.length ? `; got ${present.join(', ')}` : ''),
        );
      }
      const key = present[0]!;
      let records: unknown[];
      if (key === 'dataframe_split') {
        const { columns, data } = body.dataframe_split!;
        if (data.length > batchCap) scoreMany(model, data, key); // throws the 413
        records = data.map((row, i) => {
          if (row.length !== columns.length) {
            throw new InputError(
              `dataframe_split.data[${i}] has ${row.length} values for ${columns.length} columns`,
            );
          }
          const r: RawRecord = {};
          for (let j = 0; j < columns.length; j++) r[columns[j]!] = row[j];
          return r;
        });
      } else if (key === 'inputs' && !Array.isArray(body.inputs)) {
        const cols = body.inputs as Record<string, unknown[]>;
        const names = Object.keys(cols);
        const n = names.length ? cols[names[0]!]!.length : 0;
        for (const name of names) {
          if (cols[name]!.length !== n)
            throw new InputError(`inputs: column "${name}" has ${cols[name]!.length} values, expected ${n}`);
        }
        if (n > batchCap) scoreMany(model, new Array(n), key);
        records = Array.from({ length: n }, (_, i) => {
          const r: RawRecord = {};
          for (const name of names) r[name] = cols[name]![i];
          return r;
        });
      } else {
        records = body[key] as unknown[];
      }
      if (key === 'instances' && records.length > 0 && records.every((r) => Array.isArray(r))) {
        if (records.length > batchCap) scoreMany(model, records, key);
        const predictions = records.map((v) => {
          const { p, used } = scoreVector(model, v as (number | null)[]);
          const label = p >= used.threshold ? 1 : 0;
          metrics.countPredictions(label, used.fallback);
          return { probability: p, label };
        });
        return { predictions };
      }
      const { predictions, used } = scoreMany(model, records, key);
      const out = { predictions };
      logPrediction('/invocations', used, body, out);
      return out;
    },
  );

  app.get('/ping', { schema: { hide: true } }, (_request, reply) => {
    // MLflow's scoring server answers GET /ping; load balancers configured for it keep working
    reply.status(holder.current === null ? 503 : 200).send('\n');
  });

  app.get(
    '/health/live',
    { schema: { tags: ['ops'], summary: 'The process is up', response: { 200: LiveResponse } } },
    () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['ops'],
        summary: 'Whether the service can answer: ok, loading or degraded (fallback serving)',
        description:
          '200 for ok and degraded (503 for degraded with --fail-ready-on-fallback); 503 while loading.',
        response: { 200: ReadyResponse, 503: ReadyResponse },
      },
    },
    (_request, reply) => {
      const model = holder.current;
      const state = holder.state;
      const status = state === 'loading' || (state === 'degraded' && failReadyOnFallback) ? 503 : 200;
      const body: Record<string, unknown> = { status: state };
      if (model) {
        body.model = {
          name: model.identity.name,
          version: model.identity.version,
          run_id: model.identity.runId,
          fallback: model.fallback,
        };
        if (model.reason !== undefined) body.reason = model.reason;
      }
      reply.status(status).send(body);
    },
  );

  app.get(
    '/model',
    {
      schema: {
        tags: ['ops'],
        summary: 'The model being served',
        response: { 200: ModelResponse, 503: ErrorResponse },
      },
    },
    () => {
      const model = current();
      const out: Record<string, unknown> = {
        name: model.identity.name,
        version: model.identity.version,
        run_id: model.identity.runId,
        uri: model.identity.uri,
        kind: model.kind,
        fallback: model.fallback,
        threshold: model.threshold,
        prior: model.prior,
        width: model.width,
        feature_names: model.featureNames,
        fields: model.validator.fields.map((f) => ({ ...f })),
        signature: model.signature,
        metrics: model.metrics,
        swaps: holder.swaps,
      };
      if (model.identity.checksum) out.checksum = model.identity.checksum;
      if (model.reason !== undefined) out.reason = model.reason;
      return out;
    },
  );

  app.get(
    '/metrics',
    { schema: { tags: ['ops'], summary: 'Prometheus metrics' } },
    async (_request, reply) => {
      reply.header('content-type', metrics.contentType);
      return options.renderMetrics ? options.renderMetrics() : metrics.render();
    },
  );

  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());

  return app;
}
