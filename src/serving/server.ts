import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createServingApp } from './app.js';
import { loadServedBundle } from './bundle-model.js';
import { createClusterMetricsRenderer } from './cluster-metrics.js';
import { joinClusterSampleRate } from './cluster-settings.js';
import { raiseHeapTrimThreshold } from './heap-trim.js';
import { createModelLoader, type ModelLoader } from './loader.js';
import { createServingMetrics } from './metrics.js';
import { createModelHolder, type ModelHolder } from './model-holder.js';
import { createLocalModelSource, isRegistryUri, type ModelSource } from './model-source.js';
import { createLatestWindowReader, createMonitoringGauges } from './monitoring-gauges.js';
import type { PredictionSink } from './prediction-sink/port.js';
import { openPredictionStore } from './prediction-sink/registry.js';
import { createPredictionSink } from './prediction-sink/sink.js';
import { createRegistryModelSource } from './registry-source.js';

/** Options of {@link startServing} (the flags of `tassel serve`). */
export interface ServeOptions {
  /** models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN/PATH, or a local bundle folder. */
  modelUri: string;
  /** Tracking/registry server; default $TASSEL_TRACKING_URI, $MLFLOW_TRACKING_URI or http://127.0.0.1:5000. */
  trackingUri?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  batchCap?: number;
  bodyLimit?: number;
  failReadyOnFallback?: boolean;
  /** Serve single-record /predict from the HTTP server's fast lane (default true; see ServingAppOptions). */
  fastLane?: boolean;
  /** Serve keep-alive single-record /predict below node:http, from the socket's bytes (default: with the fast lane). */
  wireLane?: boolean;
  allowUnknownFields?: boolean;
  /** Class prior for the fallback when nothing better is known. */
  fallbackPrior?: number;
  /** The prediction log: where (a folder, `file:` or `postgresql://` URI), the sample rate and limits. */
  predictionLog?: PredictionLogOptions;
  /** The input field /feedback's entity ids refer to by default (else the served model's id column). */
  entityField?: string;
  /** Where downloaded bundles are cached; default $TMPDIR/tassel-serving-cache. */
  cacheDir?: string;
  logLevel?: string;
  /** Alias polling interval when the registry has no event stream (MLflow); default 5 s. */
  pollIntervalMs?: number;
  /** First retry delay while degraded; default 500 ms (doubling up to `retryMaxMs`). */
  retryInitialMs?: number;
  /** Longest retry delay while degraded; default 30 s. */
  retryMaxMs?: number;
  /** Extra labels on every metric (e.g. the worker id). */
  metricLabels?: Record<string, string>;
  /** Running as a `--workers` cluster worker: /metrics answers with every worker's series (from the primary). */
  clusterMetrics?: boolean;
  /**
   * Running as a `--workers` cluster worker: a sample rate set through PUT /admin/prediction-log reaches every
   * worker (through the primary), and a restarted worker starts with the latest.
   */
  clusterSettings?: boolean;
  /** The bearer token PUT /admin/prediction-log needs; without one, admin writes are refused (403). */
  adminToken?: string;
  /**
   * Load the first model (or fall back) before listening. Cluster workers do this: the primary hands
   * connections to a worker as soon as it listens, so a restarted worker must not listen while still loading.
   */
  loadBeforeListen?: boolean;
  /**
   * Refresh the `tassel_monitoring_*` gauges (the latest `tassel monitor` window of the served version) this
   * often; 0 turns them off. Default 60 s for registry model URIs; never for a local bundle folder.
   */
  monitoringIntervalMs?: number;
  /** Use this source instead of one built from modelUri (tests). */
  source?: ModelSource;
}

/** The prediction log of a service (`tassel serve --prediction-log ...`). */
export interface PredictionLogOptions {
  /** A folder (local JSONL segments), a `file:` URI, or `postgresql://user@host:port/db[?schema=name]`. */
  uri: string;
  /** Fraction of predictions logged, in [0, 1]; default 1. */
  sample?: number;
  /** Most predictions waiting to be written before new ones are dropped (and counted); default 50,000. */
  maxQueue?: number;
  /** Local segments: rotate past this many bytes (default 64 MiB) ... */
  maxSegmentBytes?: number;
  /** ... or after this long in ms (default 1 hour). */
  maxSegmentAgeMs?: number;
  /** Local segments: written with O_DIRECT where the file system allows it (default true). */
  directIo?: boolean;
}

/** A running service. */
export interface RunningServer {
  url: string;
  /** Milliseconds from listening to the first model (or the fallback) serving: resolve, download, load, warm. */
  loadMs: number;
  app: FastifyInstance;
  holder: ModelHolder;
  loader: ModelLoader;
  close(): Promise<void>;
}

/** The model source for a URI: the registry for models:/ and runs:/ URIs, else a local bundle folder. */
export function modelSourceFor(modelUri: string, trackingUri?: string, pollIntervalMs?: number): ModelSource {
  if (isRegistryUri(modelUri)) {
    return createRegistryModelSource({
      uri: modelUri,
      trackingUri: trackingUriOf(trackingUri),
      pollIntervalMs,
    });
  }
  return createLocalModelSource(modelUri);
}

const trackingUriOf = (trackingUri?: string) =>
  trackingUri ??
  process.env.TASSEL_TRACKING_URI ??
  process.env.MLFLOW_TRACKING_URI ??
  'http://127.0.0.1:5000';

/**
 * Starts the prediction service: the app listens at once (liveness answers, readiness says `loading`), the
 * loader resolves, downloads, loads and warms the model, and swaps it in; then it watches for alias moves.
 * Resolves once the first load attempt is over (the real model or the fallback serves).
 */
export async function startServing(options: ServeOptions): Promise<RunningServer> {
  raiseHeapTrimThreshold(); // request bodies' heap memory is reused, not returned and faulted in again
  const holder = createModelHolder();
  const metrics = createServingMetrics({ defaultLabels: options.metricLabels });
  let sink: PredictionSink | null = null;
  let reportSinkError = (_error: unknown) => {};
  if (options.predictionLog) {
    const { uri, sample, maxQueue, maxSegmentBytes, maxSegmentAgeMs, directIo } = options.predictionLog;
    sink = createPredictionSink({
      store: await openPredictionStore(uri, { maxSegmentBytes, maxSegmentAgeMs, directIo }),
      sample,
      maxQueue,
      entityField: options.entityField,
      onDrop: (n) => metrics.countPredictionLogDropped(n),
      onError: (error) => reportSinkError(error),
    });
  }
  const logSink = sink;
  const tellWorkers =
    options.clusterSettings && logSink
      ? joinClusterSampleRate((rate) => logSink.setSampleRate(rate))
      : undefined;
  const app = await createServingApp({
    holder,
    metrics,
    batchCap: options.batchCap,
    bodyLimit: options.bodyLimit,
    failReadyOnFallback: options.failReadyOnFallback,
    fastLane: options.fastLane,
    wireLane: options.wireLane,
    renderMetrics: options.clusterMetrics
      ? createClusterMetricsRenderer({ registry: metrics.registry })
      : undefined,
    logLevel: options.logLevel,
    predictionSink: sink,
    entityField: options.entityField,
    adminToken: options.adminToken,
    onSampleRate: tellWorkers,
  });
  reportSinkError = (err) =>
    app.log.warn({ err }, 'prediction log write failed; the batch was dropped (counted)');
  const validatorOptions = { allowUnknownFields: options.allowUnknownFields ?? false };
  const loader = createModelLoader({
    source: options.source ?? modelSourceFor(options.modelUri, options.trackingUri, options.pollIntervalMs),
    holder,
    metrics,
    logger: app.log,
    cacheDir: options.cacheDir ?? join(tmpdir(), 'tassel-serving-cache'),
    load: (dir, resolved) =>
      loadServedBundle(dir, {
        identity: {
          name: resolved.name,
          version: resolved.version,
          runId: resolved.runId,
          uri: resolved.uri,
          checksum: resolved.checksum,
        },
        validatorOptions,
      }),
    fallbackPrior: options.fallbackPrior,
    // the source's watcher (event stream, or alias polling every pollIntervalMs) reports moves; this is a safety net
    pollIntervalMs: Math.max(30_000, 6 * (options.pollIntervalMs ?? 5000)),
    retry: { initialMs: options.retryInitialMs, maxMs: options.retryMaxMs },
    validatorOptions,
  });
  const monitoringMs = options.monitoringIntervalMs ?? 60_000;
  const gauges =
    monitoringMs > 0 && isRegistryUri(options.modelUri)
      ? createMonitoringGauges({
          registry: metrics.registry,
          read: createLatestWindowReader({ trackingUri: trackingUriOf(options.trackingUri) }),
          served: () => {
            const m = holder.current;
            return m && !m.fallback && m.identity.version
              ? { name: m.identity.name, version: m.identity.version }
              : null;
          },
          intervalMs: monitoringMs,
          onError: (err) => app.log.warn({ err }, 'monitoring gauges: reading the latest window failed'),
        })
      : null;
  const listen = () => app.listen({ port: options.port ?? 8080, host: options.host ?? '127.0.0.1' });
  const address = options.loadBeforeListen ? '' : await listen();
  const t0 = performance.now();
  await loader.start();
  const loadMs = performance.now() - t0;
  const url = address || (await listen());
  gauges?.start();
  // a new version's gauges (or none) at once, not up to an interval later
  const offSwap = gauges ? holder.onSwap(() => void gauges.refresh()) : () => {};
  let closed = false;
  return {
    url,
    loadMs,
    app,
    holder,
    loader,
    async close() {
      if (closed) return;
      closed = true;
      loader.stop();
      gauges?.stop();
      offSwap();
      await app.close();
      await sink?.close();
    },
  };
}
