import { Counter, Gauge, Registry } from 'prom-client';
import type { ServedModel } from './served-model.js';

/** Options of {@link createServingMetrics}. */
export interface ServingMetricsOptions {
  /** Prefix of every metric name; default `tassel_serving_`. */
  prefix?: string;
  /** Latency buckets in seconds. */
  buckets?: number[];
  /** Labels added to every metric (e.g. {worker: "1"}). */
  defaultLabels?: Record<string, string>;
}

/**
 * The service's Prometheus metrics, on a registry of their own (never prom-client's global default registry,
 * so several apps in one process, e.g. tests, never share counters).
 */
export interface ServingMetrics {
  readonly registry: Registry;
  /** One finished HTTP request (route = the route pattern, e.g. /predict; status = HTTP status). */
  observeRequest(route: string, method: string, status: number, seconds: number): void;
  /** The recorder of one route, bound once (the hot path then does no label lookup at all). */
  routeRecorder(route: string, method: string): RouteRecorder;
  /** Predictions served, by label (0/1) and whether the fallback answered. */
  countPredictions(label: 0 | 1, fallback: boolean, n?: number): void;
  /** A vector request: padded, truncated or exact. */
  countPadding(kind: 'padded' | 'truncated' | 'exact'): void;
  /** A model version that failed to resolve, download, load or warm. */
  countLoadFailure(stage: string): void;
  /** Scoring threw and the fallback answered instead. */
  countInferenceError(): void;
  /** Prediction-log records dropped because the queue was full. */
  countPredictionLogDropped(n?: number): void;
  /** Reflect a newly served model: version info, fallback gauge, swap counter. */
  setModel(model: ServedModel): void;
  /** Text exposition of every metric. */
  render(): Promise<string>;
  readonly contentType: string;
}

/** Creates the metrics of one serving app. */
export function createServingMetrics(options: ServingMetricsOptions = {}): ServingMetrics {
  const p = options.prefix ?? 'tassel_serving_';
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  const buckets = options.buckets ?? [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
  ];
  const requestSeries = createRequestSeries(`${p}requests_total`, `${p}request_duration_seconds`, buckets);
  registry.registerMetric(requestSeries.counter as never);
  registry.registerMetric(requestSeries.histogram as never);
  // plain numbers on the hot path (prom-client hashes the labels on every inc); copied in at scrape time
  const predictionCounts = [0, 0, 0, 0]; // index = label * 2 + fallback
  new Counter({
    name: `${p}predictions_total`,
    help: 'Predictions served, by predicted label and whether the fallback model answered.',
    labelNames: ['label', 'fallback'],
    registers: [registry],
    collect() {
      this.reset();
      for (let i = 0; i < 4; i++) this.inc(predictionLabels[i >> 1]![i & 1]!, predictionCounts[i]!);
    },
  });
  const { fallbackActive, modelInfo, swaps, padding, loadFailures, inferenceErrors, logDropped } =
    registerModelMetrics(registry, p);
  fallbackActive.set(0);
  for (const kind of ['padded', 'truncated', 'exact']) padding.inc({ kind }, 0);

  // label objects are cached so the hot path allocates nothing per request
  const predictionLabels = [
    [
      { label: '0', fallback: 'false' },
      { label: '0', fallback: 'true' },
    ],
    [
      { label: '1', fallback: 'false' },
      { label: '1', fallback: 'true' },
    ],
  ] as const;
  const paddingLabels = {
    padded: { kind: 'padded' },
    truncated: { kind: 'truncated' },
    exact: { kind: 'exact' },
  };

  return {
    registry,
    contentType: registry.contentType,
    observeRequest(route, method, status, seconds) {
      requestSeries.route(route, method).observe(status, seconds);
    },
    routeRecorder: (route, method) => requestSeries.route(route, method),
    countPredictions(label, fallback, n = 1) {
      predictionCounts[label * 2 + (fallback ? 1 : 0)]! += n;
    },
    countPadding(kind) {
      padding.inc(paddingLabels[kind]);
    },
    countLoadFailure(stage) {
      loadFailures.inc({ stage });
    },
    countInferenceError() {
      inferenceErrors.inc();
    },
    countPredictionLogDropped(n = 1) {
      logDropped.inc(n);
    },
    setModel(model) {
      modelInfo.reset();
      modelInfo.set(
        {
          name: model.identity.name,
          version: model.identity.version ?? '',
          run_id: model.identity.runId ?? '',
          kind: model.kind,
          fallback: String(model.fallback),
        },
        1,
      );
      fallbackActive.set(model.fallback ? 1 : 0);
      swaps.inc();
    },
    render: () => registry.metrics(),
  };
}

/** The model and failure metrics of a serving app, registered on its registry (a flat list of declarations). */
function registerModelMetrics(registry: Registry, p: string) {
  const fallbackActive = new Gauge({
    name: `${p}fallback_active`,
    help: '1 while the fallback (dummy prior) model is serving, else 0.',
    registers: [registry],
  });
  const modelInfo = new Gauge({
    name: `${p}model_info`,
    help: 'The model being served (value 1), by name, version, run id and kind.',
    labelNames: ['name', 'version', 'run_id', 'kind', 'fallback'],
    registers: [registry],
  });
  const swaps = new Counter({
    name: `${p}model_swaps_total`,
    help: 'Times the served model was replaced (including switches to and from the fallback).',
    registers: [registry],
  });
  const padding = new Counter({
    name: `${p}padding_total`,
    help: 'Vector requests by what dynamic feature padding did: padded (too short), truncated (too long), exact.',
    labelNames: ['kind'],
    registers: [registry],
  });
  const loadFailures = new Counter({
    name: `${p}model_load_failures_total`,
    help: 'Model versions that failed to load, by stage (resolve, download, load, warm).',
    labelNames: ['stage'],
    registers: [registry],
  });
  const inferenceErrors = new Counter({
    name: `${p}inference_errors_total`,
    help: 'Requests whose scoring threw; the fallback answered them.',
    registers: [registry],
  });
  const logDropped = new Counter({
    name: `${p}prediction_log_dropped_total`,
    help: 'Prediction-log records dropped because the write queue was full.',
    registers: [registry],
  });
  return { fallbackActive, modelInfo, swaps, padding, loadFailures, inferenceErrors, logDropped };
}

/** Records the requests of one route: counts and latency buckets per status code. */
export interface RouteRecorder {
  observe(status: number, seconds: number): void;
}

interface StatusSeries {
  count: number;
  sum: number;
  /** Per-bucket (non-cumulative) counts; the last slot is +Inf. */
  counts: Float64Array;
}

/**
 * The request counter and latency histogram, kept as plain numbers per (route, method, status) and turned into
 * prom-client metric objects (registered on the app's registry) only when /metrics is scraped. prom-client's own
 * Counter/Histogram hash their label objects on every observation; at ten thousand requests a second that is a
 * measurable share of the request, this is a few additions.
 */
function createRequestSeries(counterName: string, histogramName: string, buckets: number[]) {
  const bounds = Float64Array.from([...buckets].sort((a, b) => a - b));
  const routes = new Map<string, { route: string; method: string; byStatus: Map<number, StatusSeries> }>();
  const recorders = new Map<string, RouteRecorder>();
  const route = (path: string, method: string): RouteRecorder => {
    const key = `${method} ${path}`;
    let rec = recorders.get(key);
    if (rec !== undefined) return rec;
    const entry = { route: path, method, byStatus: new Map<number, StatusSeries>() };
    routes.set(key, entry);
    let lastStatus = -1;
    let last: StatusSeries | undefined;
    rec = {
      observe(status, seconds) {
        let series = status === lastStatus ? last : entry.byStatus.get(status);
        if (series === undefined) {
          series = { count: 0, sum: 0, counts: new Float64Array(bounds.length + 1) };
          entry.byStatus.set(status, series);
        }
        lastStatus = status;
        last = series;
        series.count++;
        series.sum += seconds;
        let i = 0;
        while (i < bounds.length && seconds > bounds[i]!) i++;
        series.counts[i]!++;
      },
    };
    recorders.set(key, rec);
    return rec;
  };
  const counter = {
    name: counterName,
    help: 'HTTP requests, by route, method and status code.',
    type: 'counter',
    aggregator: 'sum',
    labelNames: ['route', 'method', 'status'],
    reset() {},
    get() {
      const values: Array<{ labels: Record<string, string>; value: number }> = [];
      for (const e of routes.values()) {
        for (const [status, s] of e.byStatus) {
          values.push({
            labels: { route: e.route, method: e.method, status: String(status) },
            value: s.count,
          });
        }
      }
      return { name: counterName, help: counter.help, type: 'counter', values, aggregator: 'sum' };
    },
  };
  const histogram = {
    name: histogramName,
    help: 'HTTP request latency (from request received to response sent), by route and status code.',
    type: 'histogram',
    aggregator: 'sum',
    labelNames: ['route', 'method', 'status'],
    reset() {},
    get() {
      const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> =
        [];
      for (const e of routes.values()) {
        for (const [status, s] of e.byStatus) {
          const labels = { route: e.route, method: e.method, status: String(status) };
          let cumulative = 0;
          for (let i = 0; i < bounds.length; i++) {
            cumulative += s.counts[i]!;
            values.push({
              labels: { ...labels, le: bounds[i]! },
              value: cumulative,
              metricName: `${histogramName}_bucket`,
            });
          }
          values.push({
            labels: { ...labels, le: '+Inf' },
            value: s.count,
            metricName: `${histogramName}_bucket`,
          });
          values.push({ labels, value: s.sum, metricName: `${histogramName}_sum` });
          values.push({ labels, value: s.count, metricName: `${histogramName}_count` });
        }
      }
      return { name: histogramName, help: histogram.help, type: 'histogram', values, aggregator: 'sum' };
    },
  };
  return { route, counter, histogram };
}
