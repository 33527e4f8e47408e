import { Counter, Gauge, Histogram, Registry } from 'prom-client';
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
  const requests = new Counter({
    name: `${p}requests_total`,
    help: 'HTTP requests, by route, method and status code.',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: `${p}request_duration_seconds`,
    help: 'HTTP request latency (from request received to response sent), by route and status code.',
    labelNames: ['route', 'status'],
    buckets: options.buckets ?? [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const predictions = new Counter({
    name: `${p}predictions_total`,
    help: 'Predictions served, by predicted label and whether the fallback model answered.',
    labelNames: ['label', 'fallback'],
    registers: [registry],
  });
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
  fallbackActive.set(0);
  for (const kind of ['padded', 'truncated', 'exact']) padding.inc({ kind }, 0);

  // label objects are cached so the hot path allocates nothing per request
  const requestLabels = new Map<string, { route: string; method: string; status: string }>();
  const latencyLabels = new Map<string, { route: string; status: string }>();
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
      const key = `${method} ${route} ${status}`;
      let rl = requestLabels.get(key);
      let ll = latencyLabels.get(key);
      if (rl === undefined || ll === undefined) {
        rl = { route, method, status: String(status) };
        ll = { route, status: String(status) };
        if (requestLabels.size < 1000) {
          requestLabels.set(key, rl);
          latencyLabels.set(key, ll);
        }
      }
      requests.inc(rl);
      latency.observe(ll, seconds);
    },
    countPredictions(label, fallback, n = 1) {
      predictions.inc(predictionLabels[label][fallback ? 1 : 0], n);
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
