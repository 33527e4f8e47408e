import { Gauge, type Registry } from 'prom-client';
import { TasselError } from '../errors.js';
import { MONITORING_TAGS, monitoringExperimentName } from '../monitoring/monitor.js';
import { createTrackingClient, type TrackingClient } from '../tracking/client/tracking-client.js';

/**
 * `tassel monitor`'s latest verdict on the served model version, as gauges on the service's /metrics: the window
 * run `tassel monitor` logged last (experiment `monitoring/<model>`, tagged with the model and version) is read
 * off the request path every `intervalMs` (one experiment lookup until found, then one run search capped at one
 * run per refresh) and its metrics are set on the gauges. No window for the served version (or no versioned model
 * served) means no series at all, never a zero.
 */

/** The latest window run of a model version, as the gauges need it. */
export interface LatestWindow {
  runId: string;
  tags: Record<string, string>;
  /** Latest value of each metric of the run (e.g. `drift.Age.psi`, `estimated_roc_auc`). */
  metrics: Record<string, number>;
}

/** Port: reads the newest window run of a model version from the tracking server (null when none). */
export type LatestWindowReader = (model: string, version: string) => Promise<LatestWindow | null>;

/** The reader over Tassel's tracking REST client (any Tassel or MLflow tracking server). */
export function createLatestWindowReader(options: {
  trackingUri: string;
  token?: string;
  timeoutMs?: number;
  client?: TrackingClient;
}): LatestWindowReader {
  const client =
    options.client ??
    createTrackingClient({
      trackingUri: options.trackingUri,
      ...(options.token ? { token: options.token } : {}),
      timeoutMs: options.timeoutMs ?? 10_000,
      maxRetries: 0,
    });
  const experiments = new Map<string, string>();
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  return async (model, version) => {
    let experimentId = experiments.get(model);
    if (experimentId === undefined) {
      try {
        experimentId = (await client.getExperimentByName(monitoringExperimentName(model))).experiment_id;
      } catch (e) {
        if (e instanceof TasselError && (e.code === 'RESOURCE_DOES_NOT_EXIST' || e.code === 'NOT_FOUND'))
          return null;
        throw e;
      }
      experiments.set(model, experimentId);
    }
    const res = await client.searchRuns({
      experiment_ids: [experimentId],
      filter: `tags.\`${MONITORING_TAGS.model}\` = ${quote(model)} and tags.\`${MONITORING_TAGS.version}\` = ${quote(version)}`,
      order_by: ['attributes.start_time DESC'],
      max_results: 1,
    });
    const run = res.runs?.[0];
    if (!run) return null;
    return {
      runId: run.info.run_id,
      tags: Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value])),
      metrics: Object.fromEntries((run.data.metrics ?? []).map((m) => [m.key, Number(m.value)])),
    };
  };
}

/** The per-feature drift metrics exposed, by their suffix in the window run (`drift.<feature>.<suffix>`). */
const DRIFT_STATISTICS = [
  'pvalue_adjusted',
  'wasserstein_norm',
  'js_distance',
  'statistic',
  'pvalue',
  'psi',
] as const;

/** Options of {@link createMonitoringGauges}. */
export interface MonitoringGaugesOptions {
  registry: Registry;
  read: LatestWindowReader;
  /** The model version being served (null while none, or when it has no registry version). */
  served: () => { name: string; version: string } | null;
  /** Refresh interval; default 60 s. */
  intervalMs?: number;
  /** Metric name prefix; default `tassel_monitoring_`. */
  prefix?: string;
  onError?: (error: unknown) => void;
}

/** The gauges and their refresh loop. */
export interface MonitoringGauges {
  /** Reads the latest window of the served version now and sets the gauges (also what the timer calls). */
  refresh(): Promise<void>;
  /** Starts the refresh loop (one refresh at once, then every interval; the timer never holds the process). */
  start(): void;
  stop(): void;
}

/** Registers the monitoring gauges on `registry` (all labelled with model and version, so "none" is absent). */
export function createMonitoringGauges(options: MonitoringGaugesOptions): MonitoringGauges {
  const p = options.prefix ?? 'tassel_monitoring_';
  const registers = [options.registry];
  const mv = ['model', 'version'];
  const g = {
    drift: new Gauge({
      name: `${p}drift_score`,
      help: 'Latest monitoring window of the served version: per-feature drift, by statistic (statistic = KS D for numeric features, chi-square for categorical; pvalue, pvalue_adjusted (Holm/BH as configured), psi, wasserstein_norm (numeric), js_distance (categorical)). Feature "prediction" is the score.',
      labelNames: [...mv, 'feature', 'statistic'],
      registers,
    }),
    drifted: new Gauge({
      name: `${p}feature_drifted`,
      help: 'Latest monitoring window of the served version: 1 when the feature drifted (its test passed the thresholds), else 0.',
      labelNames: [...mv, 'feature'],
      registers,
    }),
    estimated: new Gauge({
      name: `${p}estimated_roc_auc`,
      help: 'Latest monitoring window of the served version: ROC AUC estimated without labels (CBPE).',
      labelNames: mv,
      registers,
    }),
    realised: new Gauge({
      name: `${p}realised_roc_auc`,
      help: 'Latest monitoring window of the served version: ROC AUC on the labels that have arrived (absent before any).',
      labelNames: mv,
      registers,
    }),
    reference: new Gauge({
      name: `${p}reference_roc_auc`,
      help: 'ROC AUC of the served version on its test set (the baseline of the performance alert).',
      labelNames: mv,
      registers,
    }),
    alerts: new Gauge({
      name: `${p}alerts`,
      help: 'Latest monitoring window of the served version: alerts raised (drift, data quality, performance).',
      labelNames: mv,
      registers,
    }),
    window: new Gauge({
      name: `${p}window_info`,
      help: 'The latest monitoring window of the served version (value 1): index, decision and run id.',
      labelNames: [...mv, 'window_index', 'decision', 'run_id'],
      registers,
    }),
    windowEnd: new Gauge({
      name: `${p}window_end_timestamp_seconds`,
      help: 'Time of the last prediction in the latest monitoring window of the served version.',
      labelNames: mv,
      registers,
    }),
  };
  const all = Object.values(g);
  const set = (w: LatestWindow, labels: { model: string; version: string }) => {
    for (const [key, value] of Object.entries(w.metrics)) {
      if (!Number.isFinite(value) || !key.startsWith('drift.')) continue;
      const rest = key.slice('drift.'.length);
      if (rest.endsWith('.drifted')) {
        g.drifted.set({ ...labels, feature: rest.slice(0, -'.drifted'.length) }, value);
        continue;
      }
      const statistic = DRIFT_STATISTICS.find((s) => rest.endsWith(`.${s}`));
      if (statistic)
        g.drift.set({ ...labels, feature: rest.slice(0, -statistic.length - 1), statistic }, value);
    }
    const scalar = (gauge: Gauge, key: string) => {
      const v = w.metrics[key];
      if (v !== undefined && Number.isFinite(v)) gauge.set(labels, v);
    };
    scalar(g.estimated, 'estimated_roc_auc');
    scalar(g.realised, 'realised_roc_auc');
    scalar(g.reference, 'reference_roc_auc');
    scalar(g.alerts, 'alerts');
    g.window.set(
      {
        ...labels,
        window_index: w.tags[MONITORING_TAGS.index] ?? '',
        decision: w.tags[MONITORING_TAGS.decision] ?? '',
        run_id: w.runId,
      },
      1,
    );
    const end = Date.parse(w.tags[MONITORING_TAGS.end] ?? '');
    if (Number.isFinite(end)) g.windowEnd.set(labels, end / 1000);
  };

  let timer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> | null = null;
  const refreshOnce = async () => {
    const served = options.served();
    const w = served ? await options.read(served.name, served.version) : null;
    for (const gauge of all) gauge.reset();
    if (w && served) set(w, { model: served.name, version: served.version });
  };
  const refresh = () => {
    // one refresh at a time: a slow tracking server never stacks searches
    inFlight ??= refreshOnce()
      .catch((e: unknown) => options.onError?.(e)) // the last values stay: stale beats a hole on an outage
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  };
  return {
    refresh,
    start() {
      if (timer) return;
      void refresh();
      timer = setInterval(() => void refresh(), options.intervalMs ?? 60_000);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
