import { type Static, type TSchema, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply, RouteShorthandOptions } from 'fastify';
import { InputError, TasselError } from '../../errors.js';
import type { ArtifactRepository } from '../artifacts/types.js';
import type { TrackingDatabase } from '../sql/database.js';
import { searchDatasetSummaries } from '../store/dataset-summaries.js';
import type { Metric, Run, RunInfo, TrackingStore } from '../store/types.js';
import { RUN_STATUSES, VIEW_TYPES } from '../store/types.js';
import { checkedArtifactLocation } from './artifact-location.js';
import { invalidParameter } from './mlflow-request-check.js';
import { listRunArtifacts } from './run-artifacts.js';

/** Options of the tracking routes plugin (mounted under both MLflow API prefixes). */
export interface TrackingRoutesOptions {
  store: TrackingStore;
  artifactRepository?: ArtifactRepository;
  maxSearchResults: number;
  maxHistoryResults: number;
  /** The open database, for experiments/search-datasets. */
  database?: TrackingDatabase;
}

const Id = Type.String({ maxLength: 256 });
/** MLflow's MAX_RUNS_GET_METRIC_HISTORY_BULK and MAX_RESULTS_PER_RUN. */
const MAX_RUNS_PER_BULK_INTERVAL = 100;
const MAX_RESULTS_PER_RUN = 2500;
/** MLflow's get-history-bulk cap (MAX_HISTORY_RESULTS) and search-datasets' experiment limit. */
const MAX_HISTORY_BULK_RESULTS = 25_000;
const MAX_EXPERIMENTS_PER_DATASET_SEARCH = 20;
const KeyValue = Type.Object({ key: Type.String(), value: Type.Optional(Type.String()) });
const Int64 = Type.Integer();
const ViewType = Type.Union(VIEW_TYPES.map((v) => Type.Literal(v)));
const StringList = Type.Array(Type.String());
// Metric values may be numbers or the protobuf JSON spellings "NaN", "Infinity", "-Infinity".
const MetricValue = Type.Union([Type.Number(), Type.String()]);
// MLflow requires each metric's timestamp (log-metric and log-batch alike).
const MetricIn = Type.Object({
  key: Type.String(),
  value: MetricValue,
  timestamp: Int64,
  step: Type.Optional(Int64),
  model_id: Type.Optional(Type.String()),
  dataset_name: Type.Optional(Type.String()),
  dataset_digest: Type.Optional(Type.String()),
});

const S = {
  createExperiment: Type.Object({
    name: Type.String(),
    artifact_location: Type.Optional(Type.String()),
    tags: Type.Optional(Type.Array(KeyValue)),
  }),
  experimentId: Type.Object({ experiment_id: Id }),
  experimentName: Type.Object({ experiment_name: Type.String() }),
  searchExperiments: Type.Object({
    max_results: Type.Optional(Int64),
    page_token: Type.Optional(Type.String()),
    filter: Type.Optional(Type.String()),
    order_by: Type.Optional(StringList),
    view_type: Type.Optional(ViewType),
  }),
  updateExperiment: Type.Object({ experiment_id: Id, new_name: Type.String() }),
  // MLflow's handlers require the key only: an absent value is the empty string (protobuf's default).
  setExperimentTag: Type.Object({
    experiment_id: Id,
    key: Type.String(),
    value: Type.Optional(Type.String()),
  }),
  deleteExperimentTag: Type.Object({ experiment_id: Id, key: Type.String() }),
  createRun: Type.Object({
    // optional in MLflow's handler: without it the run goes to the Default experiment ("0")
    experiment_id: Type.Optional(Id),
    user_id: Type.Optional(Type.String()),
    run_name: Type.Optional(Type.String()),
    start_time: Type.Optional(Int64),
    tags: Type.Optional(Type.Array(KeyValue)),
  }),
  runId: Type.Object({ run_id: Type.Optional(Id), run_uuid: Type.Optional(Id) }),
  updateRun: Type.Object({
    run_id: Type.Optional(Id),
    run_uuid: Type.Optional(Id),
    status: Type.Optional(Type.Union(RUN_STATUSES.map((s) => Type.Literal(s)))),
    end_time: Type.Optional(Int64),
    run_name: Type.Optional(Type.String()),
  }),
  searchRuns: Type.Object({
    experiment_ids: Type.Optional(StringList),
    filter: Type.Optional(Type.String()),
    run_view_type: Type.Optional(ViewType),
    max_results: Type.Optional(Int64),
    order_by: Type.Optional(StringList),
    page_token: Type.Optional(Type.String()),
  }),
  logMetric: Type.Object({
    run_id: Type.Optional(Id),
    run_uuid: Type.Optional(Id),
    key: Type.String(),
    value: MetricValue,
    timestamp: Int64,
    step: Type.Optional(Int64),
    model_id: Type.Optional(Type.String()),
    dataset_name: Type.Optional(Type.String()),
    dataset_digest: Type.Optional(Type.String()),
  }),
  logParam: Type.Object({
    run_id: Type.Optional(Id),
    run_uuid: Type.Optional(Id),
    key: Type.String(),
    value: Type.Optional(Type.String()),
  }),
  setTag: Type.Object({
    run_id: Type.Optional(Id),
    run_uuid: Type.Optional(Id),
    key: Type.String(),
    value: Type.Optional(Type.String()),
  }),
  logModel: Type.Object({ run_id: Id, model_json: Type.String() }),
  deleteTag: Type.Object({ run_id: Id, key: Type.String() }),
  logBatch: Type.Object({
    run_id: Id,
    metrics: Type.Optional(Type.Array(MetricIn)),
    params: Type.Optional(Type.Array(KeyValue)),
    tags: Type.Optional(Type.Array(KeyValue)),
  }),
  logInputs: Type.Object({
    run_id: Id,
    datasets: Type.Optional(
      Type.Array(
        Type.Object({
          tags: Type.Optional(Type.Array(KeyValue)),
          dataset: Type.Object({
            name: Type.String(),
            digest: Type.String(),
            source_type: Type.String(),
            source: Type.String(),
            schema: Type.Optional(Type.String()),
            profile: Type.Optional(Type.String()),
          }),
        }),
      ),
    ),
    models: Type.Optional(Type.Array(Type.Object({ model_id: Type.String() }))),
  }),
  getHistory: Type.Object({
    run_id: Type.Optional(Id),
    run_uuid: Type.Optional(Id),
    metric_key: Type.String(),
    max_results: Type.Optional(Int64),
    page_token: Type.Optional(Type.String()),
  }),
  getHistoryBulkInterval: Type.Object({
    run_ids: StringList,
    metric_key: Type.String(),
    start_step: Type.Optional(Int64),
    end_step: Type.Optional(Int64),
    max_results: Type.Optional(Int64),
  }),
  getHistoryBulk: Type.Object({
    run_id: Type.Optional(StringList),
    metric_key: Type.Optional(Type.String()),
    max_results: Type.Optional(Int64),
  }),
  searchDatasets: Type.Object({ experiment_ids: Type.Optional(StringList) }),
  listArtifacts: Type.Object({
    run_id: Type.Optional(Id),
    run_uuid: Type.Optional(Id),
    path: Type.Optional(Type.String()),
    page_token: Type.Optional(Type.String()),
  }),
};

// Response schemas for the hot routes: fast-json-stringify serialises them several times faster.
const KeyValueOut = Type.Object({ key: Type.String(), value: Type.String() });
const MetricOut = Type.Object({
  key: Type.String(),
  value: Type.Union([Type.Number(), Type.String()]),
  timestamp: Type.Integer(),
  step: Type.Integer(),
});
const RunInfoOut = Type.Object({
  run_id: Type.String(),
  run_uuid: Type.String(),
  run_name: Type.String(),
  experiment_id: Type.String(),
  user_id: Type.String(),
  status: Type.String(),
  start_time: Type.Integer(),
  end_time: Type.Optional(Type.Integer()),
  artifact_uri: Type.String(),
  lifecycle_stage: Type.String(),
});
const RunOut = Type.Object({
  info: RunInfoOut,
  data: Type.Object({
    metrics: Type.Array(MetricOut),
    params: Type.Array(KeyValueOut),
    tags: Type.Array(KeyValueOut),
  }),
  inputs: Type.Object({
    dataset_inputs: Type.Array(
      Type.Object({
        tags: Type.Array(KeyValueOut),
        dataset: Type.Object({
          name: Type.String(),
          digest: Type.String(),
          source_type: Type.String(),
          source: Type.String(),
          schema: Type.Optional(Type.String()),
          profile: Type.Optional(Type.String()),
        }),
      }),
    ),
    model_inputs: Type.Optional(Type.Array(Type.Object({ model_id: Type.String() }))),
  }),
  outputs: Type.Optional(
    Type.Object({
      model_outputs: Type.Array(Type.Object({ model_id: Type.String(), step: Type.Integer() })),
    }),
  ),
});
const Empty = Type.Object({});

type Handler<T extends TSchema> = (args: Static<T>) => Promise<unknown>;

/** A response body that is already JSON text (the store built it): sent as is, not serialised again. */
class JsonText {
  constructor(readonly text: string) {}
}

function send(reply: FastifyReply, result: unknown): unknown {
  if (result instanceof JsonText) return reply.type('application/json; charset=utf-8').send(result.text);
  return result;
}

/** The run id from `run_id` or the deprecated `run_uuid`, as MLflow accepts either. */
function runIdOf(args: { run_id?: string; run_uuid?: string }): string {
  const id = args.run_id ?? args.run_uuid;
  if (!id) {
    throw new InputError(
      "Missing value for required parameter 'run_id'. See the API docs for more information about request parameters.",
    );
  }
  return id;
}

/** Parses a metric value from JSON: a number or "NaN" / "Infinity" / "-Infinity". */
function metricValue(v: number | string, key: string, timestamp: number | string | undefined): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return Number.NaN;
  if (v === 'Infinity' || v === 'inf') return Number.POSITIVE_INFINITY;
  if (v === '-Infinity' || v === '-inf') return Number.NEGATIVE_INFINITY;
  const n = Number(v);
  if (v.trim() === '' || Number.isNaN(n)) {
    throw new InputError(
      `Got invalid value ${v} for metric '${key}' (timestamp=${timestamp ?? 'none'}). Please specify value as a valid double (64-bit floating point)`,
    );
  }
  return n;
}

/** MLflow 3's optional metric fields, kept only when set (`""` is unset in protobuf). */
function modelFields(m: { model_id?: string; dataset_name?: string; dataset_digest?: string }) {
  return {
    ...(m.model_id ? { model_id: m.model_id } : {}),
    ...(m.dataset_name ? { dataset_name: m.dataset_name } : {}),
    ...(m.dataset_digest ? { dataset_digest: m.dataset_digest } : {}),
  };
}

/** Metric values as protobuf JSON spells them: NaN and infinities as strings (JSON has no such numbers). */
function wireMetrics<M extends { value: number | string }>(metrics: M[]): M[] {
  if (metrics.every((m) => Number.isFinite(m.value))) return metrics;
  return metrics.map((m) => {
    const v = m.value as number;
    if (Number.isFinite(v)) return m;
    return { ...m, value: Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity' };
  });
}

function wireRun(run: Run): Run {
  const metrics = wireMetrics(run.data.metrics);
  return metrics === run.data.metrics ? run : { ...run, data: { ...run.data, metrics } };
}

/**
 * `max_results` checked with MLflow's messages: below 1 is the store's "must be a positive integer"; above the
 * cap is the store's "must be at most N", or with `handlerCap` (runs/search, whose handler checks the cap
 * first) the handler's invalid-value message.
 */
function clampMax(value: number | undefined, fallback: number, cap: number, handlerCap = false): number {
  if (value === undefined) return Math.min(fallback, cap);
  if (value > cap && handlerCap) throw invalidParameter('max_results', value);
  if (value < 1 || value > cap) {
    const rule = value < 1 ? 'a positive integer' : `at most ${cap}`;
    throw new InputError(`Invalid value ${value} for parameter 'max_results' supplied. It must be ${rule}`);
  }
  return value;
}

/** Up to `max` points of a run's metric history, page by page. */
async function fullHistory(store: TrackingStore, runId: string, key: string, max: number): Promise<Metric[]> {
  const out: Metric[] = [];
  let page_token: string | undefined;
  do {
    const r = await store.getMetricHistory({
      run_id: runId,
      metric_key: key,
      max_results: Math.min(max - out.length, MAX_HISTORY_BULK_RESULTS),
      page_token,
    });
    out.push(...r.metrics);
    page_token = r.next_page_token;
  } while (page_token && out.length < max);
  return out;
}

const API_DOCS = ' See the API docs for more information about request parameters.';
/** MLflow's Default experiment, where runs/create puts a run created without an experiment_id. */
const DEFAULT_EXPERIMENT_ID = '0';
/** The run tag MLflow's runs/log-model appends each logged model's summary to (MLFLOW_LOGGED_MODELS). */
const LOGGED_MODELS_TAG = 'mlflow.log-model.history';

/**
 * The summary runs/log-model records of an MLmodel (MLflow's Model.get_tags_dict): run_id,
 * utc_time_created, artifact_path, model_uuid, and the flavors without their `config`.
 */
function loggedModelSummary(modelJson: string): Record<string, unknown> {
  let model: unknown;
  try {
    model = JSON.parse(modelJson);
  } catch {
    model = undefined;
  }
  if (!model || typeof model !== 'object' || Array.isArray(model)) {
    throw new InputError(`Malformed model info. \n ${modelJson} \n is not a valid JSON.`);
  }
  const m = model as Record<string, unknown>;
  const missing = ['artifact_path', 'flavors', 'utc_time_created', 'run_id'].filter((k) => !(k in m));
  if (missing.length) {
    throw new InputError(
      `Model json is missing mandatory fields: {${missing.map((k) => `'${k}'`).join(', ')}}`,
    );
  }
  const summary: Record<string, unknown> = {};
  for (const k of ['run_id', 'artifact_path', 'utc_time_created', 'model_uuid'])
    if (k in m) summary[k] = m[k];
  const flavors = m.flavors && typeof m.flavors === 'object' ? (m.flavors as Record<string, unknown>) : {};
  summary.flavors = Object.fromEntries(
    Object.entries(flavors).map(([name, config]) => [
      name,
      config && typeof config === 'object' && !Array.isArray(config)
        ? Object.fromEntries(Object.entries(config).filter(([k]) => k !== 'config'))
        : config,
    ]),
  );
  return summary;
}

/**
 * get-history-bulk-interval's arguments checked as MLflow's handler does, before any run is looked up:
 * 1-100 run ids, a metric key, max_results 1-2500, start_step and end_step both or neither, start <= end.
 */
function bulkIntervalArgs(a: Static<typeof S.getHistoryBulkInterval>) {
  if (a.run_ids.length === 0)
    throw new InputError(`Missing value for required parameter 'run_ids'.${API_DOCS}`);
  if (a.run_ids.length > MAX_RUNS_PER_BULK_INTERVAL) {
    throw new InputError(
      `GetMetricHistoryBulkInterval request must specify at most ${MAX_RUNS_PER_BULK_INTERVAL} run_ids. ` +
        `Received ${a.run_ids.length} run_ids.${API_DOCS}`,
    );
  }
  if (a.metric_key === '')
    throw new InputError(`Missing value for required parameter 'metric_key'.${API_DOCS}`);
  const max = a.max_results ?? MAX_RESULTS_PER_RUN;
  if (max < 1 || max > MAX_RESULTS_PER_RUN) {
    throw new InputError(`max_results must be between 1 and ${MAX_RESULTS_PER_RUN}.${API_DOCS}`);
  }
  const { start_step, end_step } = a;
  if ((start_step === undefined) !== (end_step === undefined)) {
    throw new InputError('If either start step or end step are specified, both must be specified.');
  }
  if (start_step !== undefined && end_step !== undefined && start_step > end_step) {
    throw new InputError(
      `end_step must be greater than start_step. Found start_step=${start_step} and end_step=${end_step}.`,
    );
  }
  return { run_ids: a.run_ids, metric_key: a.metric_key, start_step, end_step, max_results: max };
}

/**
 * MLflow's tracking endpoints (experiments, runs, metrics, artifacts/list) with MLflow's paths, methods,
 * field names and defaults. Read endpoints answer GET (query parameters, lists as repeated keys) and POST.
 */
export const trackingRoutes: FastifyPluginAsync<TrackingRoutesOptions> = async (app, opts) => {
  const store = opts.store;
  // MLflow reads bodies with force=True: any content type (text/plain included) is parsed as JSON.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch {
      done(
        new TasselError('MALFORMED_REQUEST', 'Malformed request body: it must be a JSON object.'),
        undefined,
      );
    }
  });

  function post<T extends TSchema>(url: string, schema: T, handler: Handler<T>, response?: TSchema): void {
    const options: RouteShorthandOptions = {
      schema: { body: schema, ...(response ? { response: { 200: response } } : {}) },
    };
    app.post(url, options, async (req, reply) => send(reply, await handler((req.body ?? {}) as Static<T>)));
  }
  function get<T extends TSchema>(url: string, schema: T, handler: Handler<T>, response?: TSchema): void {
    const options: RouteShorthandOptions = {
      schema: { querystring: schema, ...(response ? { response: { 200: response } } : {}) },
    };
    app.get(url, options, async (req, reply) => send(reply, await handler(req.query as Static<T>)));
  }
  function both<T extends TSchema>(url: string, schema: T, handler: Handler<T>, response?: TSchema): void {
    get(url, schema, handler, response);
    post(url, schema, handler, response);
  }

  // ---- experiments ----
  post('/experiments/create', S.createExperiment, async (a) => ({
    experiment_id: await store.createExperiment({
      name: a.name,
      artifact_location: a.artifact_location ? checkedArtifactLocation(a.artifact_location) : undefined,
      tags: a.tags?.map((t) => ({ key: t.key, value: t.value ?? '' })),
    }),
  }));
  both('/experiments/get', S.experimentId, async (a) => ({
    experiment: await store.getExperiment(a.experiment_id),
  }));
  both('/experiments/get-by-name', S.experimentName, async (a) => ({
    experiment: await store.getExperimentByName(a.experiment_name),
  }));
  both('/experiments/search', S.searchExperiments, async (a) => {
    const r = await store.searchExperiments({
      max_results: clampMax(a.max_results, 1000, opts.maxSearchResults),
      page_token: a.page_token || undefined,
      filter: a.filter || undefined,
      order_by: a.order_by,
      view_type: a.view_type,
    });
    return r.next_page_token ? r : { experiments: r.experiments };
  });
  // MLflow 1.x's experiments/list (removed in 2.0) still used by older clients such as the npm `mlflow` package.
  get('/experiments/list', Type.Object({ view_type: Type.Optional(ViewType) }), async (a) => {
    const experiments = [];
    let page_token: string | undefined;
    do {
      const r = await store.searchExperiments({ view_type: a.view_type, max_results: 1000, page_token });
      experiments.push(...r.experiments);
      page_token = r.next_page_token;
    } while (page_token && experiments.length < opts.maxSearchResults);
    return { experiments };
  });
  post('/experiments/update', S.updateExperiment, async (a) => {
    await store.renameExperiment(a.experiment_id, a.new_name);
    return {};
  });
  post('/experiments/delete', S.experimentId, async (a) => {
    await store.deleteExperiment(a.experiment_id);
    return {};
  });
  post('/experiments/restore', S.experimentId, async (a) => {
    await store.restoreExperiment(a.experiment_id);
    return {};
  });
  post('/experiments/set-experiment-tag', S.setExperimentTag, async (a) => {
    await store.setExperimentTag(a.experiment_id, a.key, a.value ?? '');
    return {};
  });
  post('/experiments/delete-experiment-tag', S.deleteExperimentTag, async (a) => {
    await store.deleteExperimentTag(a.experiment_id, a.key);
    return {};
  });

  // ---- runs ----
  const runResponse = Type.Object({ run: RunOut });
  post(
    '/runs/create',
    S.createRun,
    async (a) => ({
      run: wireRun(
        await store.createRun({
          experiment_id: a.experiment_id || DEFAULT_EXPERIMENT_ID,
          user_id: a.user_id,
          run_name: a.run_name,
          start_time: a.start_time,
          tags: a.tags?.map((t) => ({ key: t.key, value: t.value ?? '' })),
        }),
      ),
    }),
    runResponse,
  );
  both(
    '/runs/get',
    S.runId,
    async (a) =>
      store.getRunWire
        ? new JsonText(`{"run":${await store.getRunWire(runIdOf(a))}}`)
        : { run: wireRun(await store.getRun(runIdOf(a))) },
    runResponse,
  );
  post(
    '/runs/update',
    S.updateRun,
    async (a) => {
      const info: RunInfo = await store.updateRun({
        run_id: runIdOf(a),
        status: a.status,
        end_time: a.end_time,
        run_name: a.run_name,
      });
      return { run_info: info };
    },
    Type.Object({ run_info: RunInfoOut }),
  );
  post('/runs/delete', S.runId, async (a) => {
    await store.deleteRun(runIdOf(a));
    return {};
  });
  post('/runs/restore', S.runId, async (a) => {
    await store.restoreRun(runIdOf(a));
    return {};
  });
  post(
    '/runs/search',
    S.searchRuns,
    async (a) => {
      const req = {
        experiment_ids: a.experiment_ids ?? [],
        filter: a.filter || undefined,
        run_view_type: a.run_view_type,
        max_results: clampMax(a.max_results, 1000, opts.maxSearchResults, true),
        order_by: a.order_by,
        page_token: a.page_token || undefined,
      };
      if (store.searchRunsWire) {
        const w = await store.searchRunsWire(req);
        const token = w.next_page_token ? `,"next_page_token":${JSON.stringify(w.next_page_token)}` : '';
        return new JsonText(`{"runs":[${w.runs.join(',')}]${token}}`);
      }
      const r = await store.searchRuns(req);
      return { ...r, runs: r.runs.map(wireRun) };
    },
    Type.Object({ runs: Type.Array(RunOut), next_page_token: Type.Optional(Type.String()) }),
  );
  post(
    '/runs/log-metric',
    S.logMetric,
    async (a) => {
      await store.logBatch({
        run_id: runIdOf(a),
        metrics: [
          {
            key: a.key,
            value: metricValue(a.value, a.key, a.timestamp),
            timestamp: a.timestamp,
            step: a.step ?? 0,
            ...modelFields(a),
          },
        ],
      });
      return {};
    },
    Empty,
  );
  post('/runs/log-parameter', S.logParam, async (a) => {
    await store.logBatch({ run_id: runIdOf(a), params: [{ key: a.key, value: a.value ?? '' }] });
    return {};
  });
  post('/runs/set-tag', S.setTag, async (a) => {
    await store.logBatch({ run_id: runIdOf(a), tags: [{ key: a.key, value: a.value ?? '' }] });
    return {};
  });
  post('/runs/delete-tag', S.deleteTag, async (a) => {
    await store.deleteTag(a.run_id, a.key);
    return {};
  });
  post(
    '/runs/log-batch',
    S.logBatch,
    async (a) => {
      await store.logBatch({
        run_id: a.run_id,
        metrics: a.metrics?.map((m) => ({
          key: m.key,
          value: metricValue(m.value, m.key, m.timestamp),
          timestamp: m.timestamp,
          step: m.step ?? 0,
          ...modelFields(m),
        })),
        params: a.params?.map((p) => ({ key: p.key, value: p.value ?? '' })),
        tags: a.tags?.map((t) => ({ key: t.key, value: t.value ?? '' })),
      });
      return {};
    },
    Empty,
  );
  // MLflow 1.x-3.x's runs/log-model: appends the MLmodel's summary to the run's mlflow.log-model.history tag.
  post('/runs/log-model', S.logModel, async (a) => {
    const summary = loggedModelSummary(a.model_json);
    const run = await store.getRun(a.run_id);
    const previous = run.data.tags.find((t) => t.key === LOGGED_MODELS_TAG)?.value;
    let history: unknown[] = [];
    try {
      const parsed: unknown = previous ? JSON.parse(previous) : [];
      if (Array.isArray(parsed)) history = parsed;
    } catch {
      history = [];
    }
    history.push(summary);
    await store.logBatch({
      run_id: a.run_id,
      tags: [{ key: LOGGED_MODELS_TAG, value: JSON.stringify(history) }],
    });
    return {};
  });
  post('/runs/log-inputs', S.logInputs, async (a) => {
    await store.logInputs(
      a.run_id,
      (a.datasets ?? []).map((d) => ({
        tags: (d.tags ?? []).map((t) => ({ key: t.key, value: t.value ?? '' })),
        dataset: d.dataset,
      })),
      a.models,
    );
    return {};
  });

  // ---- metrics ----
  both(
    '/metrics/get-history',
    S.getHistory,
    async (a) => {
      const r = await store.getMetricHistory({
        run_id: runIdOf(a),
        metric_key: a.metric_key,
        max_results: clampMax(a.max_results, opts.maxHistoryResults, opts.maxHistoryResults),
        page_token: a.page_token || undefined,
      });
      return { ...r, metrics: wireMetrics(r.metrics) };
    },
    Type.Object({ metrics: Type.Array(MetricOut), next_page_token: Type.Optional(Type.String()) }),
  );
  both('/metrics/get-history-bulk-interval', S.getHistoryBulkInterval, async (a) => {
    const r = await store.getMetricHistoryBulkInterval(bulkIntervalArgs(a));
    return { metrics: wireMetrics(r.metrics) };
  });

  // MLflow's older bulk history (the web UI's charts before bulk-interval): full histories, `run_id` repeated.
  get('/metrics/get-history-bulk', S.getHistoryBulk, async (a) => {
    const runIds = a.run_id ?? [];
    if (runIds.length === 0)
      throw new InputError('GetMetricHistoryBulk request must specify at least one run_id.');
    if (runIds.length > MAX_RUNS_PER_BULK_INTERVAL) {
      throw new InputError(
        `GetMetricHistoryBulk request cannot specify more than ${MAX_RUNS_PER_BULK_INTERVAL} run_ids. ` +
          `Received ${runIds.length} run_ids.`,
      );
    }
    if (a.metric_key === undefined)
      throw new InputError('GetMetricHistoryBulk request must specify a metric_key.');
    const max = Math.min(a.max_results ?? MAX_HISTORY_BULK_RESULTS, MAX_HISTORY_BULK_RESULTS);
    const out: Array<Metric & { run_id: string }> = [];
    for (const runId of [...runIds].sort()) {
      if (out.length >= max) break;
      const history = await fullHistory(store, runId, a.metric_key, max - out.length);
      history.sort((x, y) => x.timestamp - y.timestamp || x.step - y.step || x.value - y.value);
      for (const m of history) out.push({ ...m, run_id: runId });
    }
    return { metrics: wireMetrics(out.slice(0, max)) };
  });

  // ---- datasets ----
  post('/experiments/search-datasets', S.searchDatasets, async (a) => {
    const ids = a.experiment_ids ?? [];
    if (ids.length === 0)
      throw new InputError('SearchDatasets request must specify at least one experiment_id.');
    if (ids.length > MAX_EXPERIMENTS_PER_DATASET_SEARCH) {
      throw new InputError(
        `SearchDatasets request cannot specify more than ${MAX_EXPERIMENTS_PER_DATASET_SEARCH} experiment_ids. ` +
          `Received ${ids.length} experiment_ids.`,
      );
    }
    if (!opts.database) throw new TasselError('NOT_IMPLEMENTED', 'Dataset search needs the SQL store.');
    return { dataset_summaries: await searchDatasetSummaries(opts.database.db, ids) };
  });

  // ---- artifacts ----
  both('/artifacts/list', S.listArtifacts, async (a) => {
    const run: Run = await store.getRun(runIdOf(a));
    return listRunArtifacts(run.info.artifact_uri, a.path, opts.artifactRepository);
  });
};
