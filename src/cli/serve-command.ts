import cluster from 'node:cluster';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';

const int = (min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || n > max)
    throw new InvalidArgumentError(`expected an integer in [${min}, ${max}].`);
  return n;
};
const fraction = (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError('expected a number in [0, 1].');
  return n;
};
const bytes = (value: string) => {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a size like 1048576, 512kb or 5mb.');
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const n = Math.round(
    Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1),
  );
  if (n < 64) throw new InvalidArgumentError('expected at least 64 bytes.');
  return n;
};

interface ServeFlags {
  modelUri: string;
  trackingUri?: string;
  port: number;
  host: string;
  workers: number;
  batchCap: number;
  bodyLimit: number;
  failReadyOnFallback?: boolean;
  fastLane: boolean;
  wireLane: boolean;
  allowUnknownFields?: boolean;
  fallbackPrior?: number;
  /** true: the flag without a value (local segments under --data-dir). */
  predictionLog?: string | true;
  predictionLogSample: number;
  predictionLogQueue: number;
  predictionLogSegment: number;
  predictionLogRotate: number;
  predictionLogDirectIo: boolean;
  dataDir: string;
  entityField?: string;
  cacheDir?: string;
  logLevel: string;
  pollInterval: number;
  monitoringInterval: number;
  adminToken?: string;
}

/** How long a stopping worker may take to finish in-flight requests before it exits anyway. */
const SHUTDOWN_GRACE_MS = 5_000;

/** Runs `workers` copies of the service under node:cluster; dead workers are restarted (with a back-off). */
function runPrimary(flags: ServeFlags): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const restarts: number[] = [];
    const pending = new Set<NodeJS.Timeout>();
    const fork = () => cluster.fork({ TASSEL_SERVE_WORKER: '1' });
    for (let i = 0; i < flags.workers; i++) fork();
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) {
        if (Object.keys(cluster.workers ?? {}).length === 0) resolve();
        return;
      }
      const now = Date.now();
      while (restarts.length && now - restarts[0]! > 60_000) restarts.shift();
      restarts.push(now);
      // a crash loop (e.g. the port is taken) must not spin: wait longer the more restarts this minute
      const delay = Math.min(30_000, 100 * 2 ** Math.max(0, restarts.length - 3));
      process.stderr.write(
        `tassel serve: worker ${worker.process.pid} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms\n`,
      );
      const timer = setTimeout(() => {
        pending.delete(timer);
        if (!stopping) fork();
      }, delay);
      pending.add(timer);
    });
    const stop = () => {
      if (stopping) return;
      stopping = true;
      for (const t of pending) clearTimeout(t);
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      if (Object.keys(cluster.workers ?? {}).length === 0) resolve();
      // a worker that cannot finish its in-flight work within the grace period is not waited for forever
      setTimeout(() => {
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      }, SHUTDOWN_GRACE_MS + 2_000).unref();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.stderr.write(
      `tassel serve: ${flags.workers} workers on http://${flags.host}:${flags.port} serving ${flags.modelUri}\n`,
    );
  });
}

async function runWorker(flags: ServeFlags, quiet: boolean): Promise<void> {
  const { startServing } = await import('../serving/server.js');
  const server = await startServing({
    modelUri: flags.modelUri,
    trackingUri: flags.trackingUri,
    port: flags.port,
    host: flags.host,
    batchCap: flags.batchCap,
    bodyLimit: flags.bodyLimit,
    failReadyOnFallback: flags.failReadyOnFallback,
    fastLane: flags.fastLane,
    wireLane: flags.wireLane,
    allowUnknownFields: flags.allowUnknownFields,
    fallbackPrior: flags.fallbackPrior,
    predictionLog: predictionLogOf(flags),
    entityField: flags.entityField,
    cacheDir: flags.cacheDir,
    logLevel: flags.logLevel,
    pollIntervalMs: flags.pollInterval * 1000,
    monitoringIntervalMs: flags.monitoringInterval * 1000,
    metricLabels: cluster.isWorker ? { worker: String(cluster.worker?.id ?? 0) } : undefined,
    clusterMetrics: cluster.isWorker,
    clusterSettings: cluster.isWorker,
    adminToken: flags.adminToken ?? process.env.TASSEL_SERVING_ADMIN_TOKEN,
    loadBeforeListen: cluster.isWorker,
  });
  const m = server.holder.current;
  if (!quiet) {
    process.stderr.write(
      `tassel serve: listening on ${server.url} (${server.holder.state}: ${m?.identity.name ?? '?'} version ${
        m?.identity.version ?? '-'
      }${m?.fallback ? `, fallback: ${m.reason}` : `, loaded in ${Math.round(server.loadMs)} ms`}); docs at ${server.url}/docs\n`,
    );
  }
  await new Promise<void>((resolve) => {
    const stop = () => {
      // in-flight requests get the grace period to finish; then the worker goes regardless
      setTimeout(() => process.exit(0), SHUTDOWN_GRACE_MS).unref();
      server.close().then(resolve, resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

/** The prediction log the flags ask for, if any. */
function predictionLogOf(flags: ServeFlags) {
  if (flags.predictionLog === undefined) return undefined;
  return {
    uri: flags.predictionLog === true ? join(flags.dataDir, 'predictions') : flags.predictionLog,
    sample: flags.predictionLogSample,
    maxQueue: flags.predictionLogQueue,
    maxSegmentBytes: flags.predictionLogSegment,
    maxSegmentAgeMs: flags.predictionLogRotate * 1000,
    directIo: flags.predictionLogDirectIo,
  };
}

/** `tassel serve`: the registry-driven prediction service. */
export function register(program: Command): void {
  program
    .command('serve')
    .description(
      'Serve predictions over HTTP from the model a registry URI names (or a local bundle folder), hot-swapping ' +
        'when the alias moves and answering from a prior model while no model can be loaded.',
    )
    .requiredOption(
      '--model-uri <uri>',
      'models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/PATH or a bundle folder',
    )
    .option(
      '--tracking-uri <url>',
      'tracking/registry server (default $TASSEL_TRACKING_URI, $MLFLOW_TRACKING_URI or http://127.0.0.1:5000)',
    )
    .option('--port <n>', 'port to listen on (0 = any free port)', int(0, 65535), 8080)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option(
      '--workers <n>',
      'processes serving the same port (node:cluster); dead ones are restarted',
      int(1, 256),
      1,
    )
    .option('--batch-cap <n>', 'most records in one batch request (413 over it)', int(1, 10_000_000), 10_000)
    .option('--body-limit <size>', 'largest request body, e.g. 5mb (413 over it)', bytes, 5 * 1024 * 1024)
    .option(
      '--fail-ready-on-fallback',
      'answer /health/ready with 503 (not 200) while the fallback model serves',
    )
    .option(
      '--no-fast-lane',
      'send single-record POST /predict through the full Fastify pipeline too (same answers, more CPU per request)',
    )
    .option(
      '--no-wire-lane',
      'let node:http parse every request (the fast lane still answers single-record POST /predict): same ' +
        'answers, more CPU per request than reading keep-alive /predict straight from the socket',
    )
    .option(
      '--allow-unknown-fields',
      'ignore record fields the model does not know (default: 400 naming the field)',
    )
    .option(
      '--fallback-prior <p>',
      'class prior of the fallback model when neither a good model nor version tags give one',
      fraction,
    )
    .option(
      '--prediction-log [uri]',
      'record served predictions (request id, time, model, raw inputs, probability, label) for monitoring: ' +
        'a folder of rotated JSONL segments (default <data-dir>/predictions when no value is given) or ' +
        'postgresql://user@host:port/db[?schema=name] for several replicas; written off the request path',
    )
    .option('--prediction-log-sample <fraction>', 'fraction of predictions logged', fraction, 1)
    .option(
      '--prediction-log-queue <n>',
      'most predictions waiting to be written; beyond it they are dropped and counted in /metrics',
      int(1, 10_000_000),
      50_000,
    )
    .option(
      '--prediction-log-segment <size>',
      'local log: start a new segment past this size',
      bytes,
      64 * 1024 ** 2,
    )
    .option(
      '--prediction-log-rotate <seconds>',
      'local log: start a new segment after this long',
      int(1, 31_536_000),
      3600,
    )
    .option(
      '--no-prediction-log-direct-io',
      'local log: write segments through the page cache, not with O_DIRECT (the default where the file system ' +
        'allows it: a write-once log then takes no page-cache memory)',
    )
    .option(
      '--admin-token <token>',
      'bearer token PUT /admin/prediction-log needs (change the sample rate without a restart); default ' +
        '$TASSEL_SERVING_ADMIN_TOKEN, which keeps it out of the process list; without one, admin writes get 403',
    )
    .option('--data-dir <dir>', 'data folder (the local prediction log goes under it)', './tassel-data')
    .option(
      '--entity-field <name>',
      "input field POST /feedback's entity_id refers to (default: the model's id column, e.g. Student_ID)",
    )
    .option('--cache-dir <dir>', 'where downloaded bundles are cached (default $TMPDIR/tassel-serving-cache)')
    .option('--log-level <level>', 'pino log level (fatal, error, warn, info, debug, silent)', 'warn')
    .option(
      '--poll-interval <seconds>',
      'alias polling interval when the registry has no event stream (e.g. a real MLflow server)',
      int(1, 86_400),
      5,
    )
    .option(
      '--monitoring-interval <seconds>',
      'refresh the tassel_monitoring_* gauges in /metrics (the latest tassel monitor window of the served ' +
        'version, read from the tracking server) this often; 0 = off (registry model URIs only)',
      int(0, 86_400),
      60,
    )
    .addHelpText(
      'after',
      '\nEndpoints: POST /predict, /predict/batch, /invocations (MLflow scoring protocol), /feedback (outcomes for\n' +
        'logged predictions, by request id or entity id); GET /health/live,\n' +
        '/health/ready, /model, /metrics (Prometheus), /openapi.json, /docs (Swagger UI); GET and PUT\n' +
        '/admin/prediction-log (the sample rate; PUT needs the --admin-token bearer token).\n\nExamples:\n' +
        '  tassel serve --model-uri models:/course-completion@production --tracking-uri http://127.0.0.1:5000\n' +
        '  tassel serve --model-uri ./out/bundle --port 8080 --workers 2\n' +
        '  tassel serve --model-uri models:/course-completion@production --prediction-log\n' +
        '  tassel serve --model-uri models:/course-completion@production --workers 4 \\\n' +
        '    --prediction-log postgresql://tassel@db:5432/tassel --prediction-log-sample 0.25\n' +
        "Every response carries x-request-id (the caller's when sent); batch rows are logged as <id>/<row>.\n" +
        "/metrics also shows `tassel monitor`'s latest window of the served version (absent when none):\n" +
        '  tassel_monitoring_drift_score{feature,statistic} (statistic: KS D or chi-square, pvalue,\n' +
        '  pvalue_adjusted, psi, wasserstein_norm, js_distance), tassel_monitoring_feature_drifted{feature},\n' +
        '  tassel_monitoring_estimated_roc_auc (CBPE), tassel_monitoring_realised_roc_auc, tassel_monitoring_alerts,\n' +
        '  tassel_monitoring_window_info{window_index,decision,run_id}; all labelled with model and version.\n',
    )
    .action(async (flags: ServeFlags) => {
      if (flags.workers > 1 && cluster.isPrimary) {
        // scrapes land on any worker; each asks the primary for every worker's series
        (await import('../serving/cluster-metrics.js')).serveClusterMetrics();
        // a sample rate set through one worker's admin route reaches them all
        (await import('../serving/cluster-settings.js')).relayClusterSampleRate();
        await runPrimary(flags);
      } else await runWorker(flags, cluster.isWorker);
    });
}
