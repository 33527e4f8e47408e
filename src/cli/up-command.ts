import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { writeCourseCompletionCsv } from '../data/synthetic.js';
import { InputError, TasselError } from '../errors.js';
import { createLineReporter, createTtyReporter } from '../pipeline/reporter.js';
import { runPipeline, UnchangedSinceProduction } from '../pipeline/runner.js';
import { openTracking, resolveTrackingUri } from '../pipeline/tracking-target.js';
import {
  type PortReservation,
  checkDataFile,
  checkSqliteStore,
  checkTrackingServer,
  checkWritableDir,
  reservePort,
} from './preflight.js';
import { DEFAULT_DATA_PATH, formatResult, formatUnchanged, resolveConfig } from './pipeline-command.js';

interface UpFlags {
  config?: string;
  rows: string;
  seed: string;
  port: string;
  trackingPort: string;
  once?: boolean;
  trackingUri?: string;
}

/** Default ports of `tassel up`: MLflow's 5000 for tracking + UI, 8080 for predictions. */
export const UP_DEFAULT_TRACKING_PORT = 5000;
export const UP_DEFAULT_SERVING_PORT = 8080;
const HOST = '127.0.0.1';

function parsePort(value: string, flag: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new InputError(`${flag} must be a port number (0-65535; 0 = any free port), got ${value}`);
  return port;
}

/** A ready-to-paste curl command for one record. */
export function curlExample(url: string, record: Record<string, unknown>): string {
  const body = JSON.stringify(record).replace(/'/g, "'\\''");
  return `curl -s -X POST ${url}/predict -H 'content-type: application/json' -d '${body}'`;
}

/**
 * `tassel up` (what `npm start` runs): generate data if there is none, start the tracking server, run the
 * pipeline, serve models:/<model>@production and print the URLs and a curl example. Ctrl-C stops everything.
 * `--once` checks one prediction over HTTP and exits (CI).
 */
export function register(program: Command): void {
  program
    .command('up')
    .description(
      'the whole loop on one machine: generate data if needed, start tracking, run the pipeline, serve production (Ctrl-C stops)',
    )
    .option(
      '--config <file>',
      'pipeline config (default: ./pipeline.yaml|yml|json, else built-in on ./tassel-data/students.csv)',
    )
    .option('--rows <n>', 'rows of generated data when the data file is missing', '20000')
    .option('--seed <n>', 'seed of the generated data', '7')
    .option('--port <n>', 'port of the prediction service (0 = any free port)', String(UP_DEFAULT_SERVING_PORT))
    .option(
      '--tracking-port <n>',
      'port of the embedded tracking server and web UI (0 = any free port)',
      String(UP_DEFAULT_TRACKING_PORT),
    )
    .option('--tracking-uri <uri>', 'use this tracking server instead of the embedded one')
    .option('--once', 'run, check one prediction through the service, stop everything and exit (CI)')
    .action(async (flags: UpFlags) => {
      const rows = Number(flags.rows);
      if (!Number.isInteger(rows) || rows < 100)
        throw new InputError(`--rows must be an integer >= 100, got ${flags.rows}`);
      const port = parsePort(flags.port, '--port');
      const trackingPort = parsePort(flags.trackingPort, '--tracking-port');
      const config = resolveConfig(flags.config);
      const reporter = process.stderr.isTTY && !process.env.CI ? createTtyReporter() : createLineReporter();
      const out = (s: string) => process.stdout.write(`${s}\n`);

      // -- preflight: every port, the data and the store, before anything is written
      const remoteUri = resolveTrackingUri({ uri: flags.trackingUri, configUri: config.tracking.uri });
      const generate = !existsSync(config.data.path);
      if (generate && (resolve(config.data.path) !== resolve(DEFAULT_DATA_PATH) || flags.config))
        throw new InputError(`${config.data.path}: file not found (data.path in ${flags.config ?? 'the config'})`);
      if (!generate) checkDataFile(config.data.path, 'data.path');
      if (config.data.test_data) checkDataFile(config.data.test_data, 'test_data');
      if (generate) checkWritableDir(dirname(config.data.path), 'the generated data');
      if (!remoteUri && trackingPort !== 0 && trackingPort === port)
        throw new InputError(
          `--port and --tracking-port are both ${port}: the prediction service and the tracking server need a port each`,
        );
      const reservations: PortReservation[] = [];
      const releaseAll = async () => {
        for (const r of reservations.splice(0)) await r.release();
      };
      let servingPort: PortReservation;
      let trackingReservation: PortReservation | null = null;
      try {
        if (!remoteUri) {
          trackingReservation = await reservePort(HOST, trackingPort, 'tracking server and web UI', '--tracking-port');
          reservations.push(trackingReservation);
        }
        servingPort = await reservePort(HOST, port, 'prediction service', '--port');
        reservations.push(servingPort);
        if (remoteUri) {
          const token = process.env.TASSEL_AUTH_TOKEN || process.env.MLFLOW_TRACKING_TOKEN || undefined;
          await checkTrackingServer(remoteUri, token);
        } else {
          checkWritableDir(config.tracking.data_dir, 'the tracking store');
          await checkSqliteStore(config.tracking.data_dir);
        }
      } catch (e) {
        await releaseAll();
        throw e;
      }

      if (generate) {
        mkdirSync(dirname(config.data.path), { recursive: true });
        const t0 = performance.now();
        await writeCourseCompletionCsv(config.data.path, { rows, seed: Number(flags.seed) });
        reporter.info(
          `generated ${rows} rows into ${config.data.path} in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
        );
      }

      await trackingReservation?.release();
      const target = await openTracking({
        uri: flags.trackingUri,
        configUri: config.tracking.uri,
        dataDir: config.tracking.data_dir,
        port: trackingPort,
      }).catch(async (e) => {
        await releaseAll();
        throw e;
      });
      const stops: Array<() => Promise<void>> = [releaseAll, () => target.close()];
      const stopAll = async () => {
        for (const stop of stops.reverse()) await stop().catch(() => {});
      };
      try {
        reporter.info(
          `tracking server: ${target.uri}${target.embedded ? ` (embedded, data in ${config.tracking.data_dir})` : ''}`,
        );
        let result: { productionVersion: string | null; bundleDir: string | null };
        try {
          const run = await runPipeline({
            config,
            tracking: target.tracking,
            reporter,
            workDir: join(config.tracking.data_dir, 'last-run'),
          });
          out(formatResult(run));
          result = run;
        } catch (e) {
          if (!(e instanceof UnchangedSinceProduction)) throw e;
          out(formatUnchanged(e));
          // the example for the curl below comes from the production bundle itself
          const dir = join(config.tracking.data_dir, 'last-run', `production-v${e.version}`);
          rmSync(dir, { recursive: true, force: true });
          mkdirSync(dir, { recursive: true });
          await target.tracking.downloadVersion(config.model_name, e.version, dir).catch(() => {});
          result = { productionVersion: e.version, bundleDir: dir };
        }
        if (!result.productionVersion) {
          throw new TasselError(
            'INVALID_STATE',
            `no ${config.model_name} version is in production: the gate rejected the first model`,
          );
        }
        const { startServing } = await import('../serving/server.js');
        const modelUri = `models:/${config.model_name}@production`;
        await servingPort.release();
        const serving = await startServing({ modelUri, trackingUri: target.uri, port, pollIntervalMs: 5000 });
        stops.push(() => serving.close());
        const record = await exampleRecord(result.bundleDir, serving.url);
        out(`tracking server and web UI: ${target.uri}/`);
        out(
          `prediction service:         ${serving.url}  (serving ${modelUri} = version ${result.productionVersion})`,
        );
        out(`OpenAPI docs:               ${serving.url}/docs`);
        out('try it:');
        out(`  ${curlExample(serving.url, record)}`);
        if (flags.once) {
          const res = await fetch(`${serving.url}/predict`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(record),
          });
          const body = (await res.json()) as Record<string, unknown>;
          const p = Number((body as { probability?: unknown }).probability);
          if (!res.ok || !(p >= 0 && p <= 1))
            throw new TasselError(
              'INTERNAL_ERROR',
              `prediction check failed: HTTP ${res.status} ${JSON.stringify(body).slice(0, 300)}`,
            );
          out(`prediction check: HTTP ${res.status} ${JSON.stringify(body)}`);
          if (target.embedded) out(`web UI check: ${await checkWebUi(target.uri)}`);
          return;
        }
        out('Ctrl-C stops everything.');
        await new Promise<void>((done) => {
          const onSignal = () => {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
            out('\nstopping...');
            done();
          };
          process.on('SIGINT', onSignal);
          process.on('SIGTERM', onSignal);
        });
      } finally {
        await stopAll();
      }
    });
}

/** One example record: the bundle's input example, else what the service's /model says, else {}. */
async function exampleRecord(bundleDir: string | null, url: string): Promise<Record<string, unknown>> {
  const pick = (ex: unknown): Record<string, unknown> | null => {
    if (Array.isArray(ex))
      return ex[0] && typeof ex[0] === 'object' ? (ex[0] as Record<string, unknown>) : null;
    if (!ex || typeof ex !== 'object') return null;
    const o = ex as Record<string, unknown>;
    for (const k of ['dataframe_records', 'records', 'instances', 'inputs'])
      if (Array.isArray(o[k])) return pick(o[k]);
    const split = (o.dataframe_split ?? o) as { columns?: unknown; data?: unknown };
    if (Array.isArray(split.columns) && Array.isArray(split.data) && Array.isArray(split.data[0])) {
      const row = split.data[0] as unknown[];
      return Object.fromEntries((split.columns as string[]).map((c, i) => [c, row[i] ?? null]));
    }
    return o;
  };
  try {
    const local =
      bundleDir === null ? null : pick(JSON.parse(readFileSync(join(bundleDir, 'input_example.json'), 'utf8')));
    if (local) return local;
  } catch {
    // fall through to the service
  }
  try {
    const body = (await (await fetch(`${url}/model`)).json()) as Record<string, unknown>;
    return pick(body.input_example ?? body.inputExample) ?? {};
  } catch {
    return {};
  }
}

/** The tracking server's `/` must be the built web UI (a script-loading page), not the "not built" page. */
async function checkWebUi(trackingUri: string): Promise<string> {
  const res = await fetch(`${trackingUri}/`);
  const html = await res.text();
  if (!res.ok || !/<script[^>]+src="\/assets\//.test(html))
    throw new TasselError(
      'INTERNAL_ERROR',
      `web UI check failed: ${trackingUri}/ answered HTTP ${res.status} without the built UI${
        /not built/.test(html) ? ' (dist-ui/ is missing: npm ci builds it, or run npm run build:ui)' : ''
      }`,
    );
  return `HTTP ${res.status} ${trackingUri}/ serves the built UI`;
}
