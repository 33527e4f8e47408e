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
  /** Where the prediction log's sample rate gauge reads the rate at each scrape (the sink's own). */
  readPredictionLogSampleRate(read: () => number): void;
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
  const predictionCounts = registerPredictionCounter(registry, p);
  const metric = registerModelMetrics(registry, p);
  metric.fallbackActive.set(0);
  for (const kind of ['padded', 'truncated', 'exact']) metric.padding.inc({ kind }, 0);

  // label objects are cached so the hot path allocates nothing per request
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
      metric.padding.inc(paddingLabels[kind]);
    },
    countLoadFailure(stage) {
      metric.loadFailures.inc({ stage });
    },
    countInferenceError() {
      metric.inferenceErrors.inc();
    },
    countPredictionLogDropped(n = 1) {
      metric.logDropped.inc(n);
    },
    readPredictionLogSampleRate(read) {
      metric.sampleRateSource.read = read;
    },
    setModel(model) {
      metric.modelInfo.reset();
      metric.modelInfo.set(modelInfoLabels(model), 1);
      metric.fallbackActive.set(model.fallback ? 1 : 0);
      metric.swaps.inc();
    },
    render: () => registry.metrics(),
  };
}

/** The labels of the model info gauge for a served model. */
function modelInfoLabels(model: ServedModel) {
  return {
    name: model.identity.name,
    version: model.identity.version ?? '',
    run_id: model.identity.runId ?? '',
    kind: model.kind,
    fallback: String(model.fallback),
  };
}

/**
 * The predictions counter, kept as plain numbers on the hot path (prom-client hashes the labels on every inc)
 * and copied in at scrape time. Returns the counts: index = label * 2 + (fallback ? 1 : 0).
 */
function registerPredictionCounter(registry: Registry, p: string): number[] {
  const counts = [0, 0, 0, 0];
  const labels = [
    { label: '0', fallback: 'false' },
    { label: '0', fallback: 'true' },
    { label: '1', fallback: 'false' },
    { label: '1', fallback: 'true' },
  ];
  new Counter({
    name: `${p}predictions_total`,
    help: 'Predictions served, by predicted label and whether the fallback model answered.',
    labelNames: ['label', 'fallback'],
    registers: [registry],
    collect() {
      this.reset();
      for (let i = 0; i < 4; i++) this.inc(labels[i]!, counts[i]!);
    },
  });
  return counts;
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
  // read at scrape time, so every way the rate changes (the admin route, a relayed cluster change) shows
  const sampleRateSource: { read: (() => number) | null } = { read: null };
  new Gauge({
    name: `${p}prediction_log_sample_rate`,
    help: 'Fraction of predictions the prediction log records (0 when the service has none).',
    registers: [registry],
    collect() {
      this.set(sampleRateSource.read?.() ?? 0);
    },
  });
  return {
    fallbackActive,
    modelInfo,
    swaps,
    padding,
    loadFailures,
    inferenceErrors,
    logDropped,
    sampleRateSource,
  };
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
  const routes = new Map<string, RouteSeries>();
  const recorders = new Map<string, RouteRecorder>();
  const route = (path: string, method: string): RouteRecorder => {
    const key = `${method} ${path}`;
    let rec = recorders.get(key);
    if (rec !== undefined) return rec;
    const entry: RouteSeries = { route: path, method, byStatus: new Map() };
    routes.set(key, entry);
    rec = createRouteRecorder(entry, bounds);
    recorders.set(key, rec);
    return rec;
  };
  return {
    route,
    counter: requestCounterView(counterName, routes),
    histogram: requestHistogramView(histogramName, routes, bounds),
  };
}

/** The series of one (route, method), per status code. */
interface RouteSeries {
  route: string;
  method: string;
  byStatus: Map<number, StatusSeries>;
}

/** Counts one request of a route into its status's series (the last status's series kept at hand). */
function createRouteRecorder(entry: RouteSeries, bounds: Float64Array): RouteRecorder {
  let lastStatus = -1;
  let last: StatusSeries | undefined;
  return {
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
}

/** The request counter as prom-client reads a metric (get() at scrape time). */
function requestCounterView(name: string, routes: Map<string, RouteSeries>) {
  const help = 'HTTP requests, by route, method and status code.';
  return {
    name,
    help,
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
      return { name, help, type: 'counter', values, aggregator: 'sum' };
    },
  };
}

/** The latency histogram as prom-client reads a metric: cumulative buckets, sum and count per series. */
function requestHistogramView(name: string, routes: Map<string, RouteSeries>, bounds: Float64Array) {
  const help = 'HTTP request latency (from request received to response sent), by route and status code.';
  return {
    name,
    help,
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
              metricName: `${name}_bucket`,
            });
          }
          values.push({ labels: { ...labels, le: '+Inf' }, value: s.count, metricName: `${name}_bucket` });
          values.push({ labels, value: s.sum, metricName: `${name}_sum` });
          values.push({ labels, value: s.count, metricName: `${name}_count` });
        }
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    },
  };
}
