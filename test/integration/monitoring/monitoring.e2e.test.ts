import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { courseCompletionSchema } from '../../../src/data/builtin-schemas.js';
import { type SyntheticOptions, generateCourseCompletion, parseShift } from '../../../src/data/synthetic.js';
import { createAlerter } from '../../../src/monitoring/alerts.js';
import { type MonitorOptions, runMonitor } from '../../../src/monitoring/monitor.js';
import { type OpenedPredictionSource, openPredictionSource } from '../../../src/monitoring/records.js';
import { createRetrainAction } from '../../../src/monitoring/retrain.js';
import { createMonitoringTracking } from '../../../src/monitoring/tracking.js';
import { parsePipelineConfig } from '../../../src/pipeline/config.js';
import { runPipeline } from '../../../src/pipeline/runner.js';
import { createClientTracking } from '../../../src/pipeline/tracking-client-adapter.js';
import { type RunningServer, startServing } from '../../../src/serving/server.js';
import { createTrackingClient } from '../../../src/tracking/client/tracking-client.js';
import { dropPostgresSchema } from '../../../src/tracking/sql/database.js';
import { type RunningTrackingServer, startTrackingServer } from '../../../src/tracking/server/start.js';
import { pgSkipReason } from '../registry/pg-helpers.js';

// The loop closed end to end: the pipeline trains and promotes v1, the service serves it and logs every
// prediction, reference traffic does not alarm, shifted traffic alarms naming the shifted features (webhook +
// run), labels arrive and realised performance appears, the retrain action trains on fresh data, the gate
// promotes the challenger and the service swaps to it. Once on SQLite + local artifacts, once on PostgreSQL.

const PG_URI = process.env.TASSEL_TEST_PG_URI ?? 'postgresql://postgres@127.0.0.1:5432/test';
const MODEL = 'course-completion';
const NUMERIC = new Set(
  courseCompletionSchema.columns
    .filter((c) => c.type === 'numeric' || c.type === 'integer')
    .map((c) => c.name),
);

/** Generated rows as JSON records (ids made unique per batch), and their outcomes by Student_ID. */
function traffic(prefix: string, options: SyntheticOptions) {
  const lines = generateCourseCompletion(options).trim().split('\n');
  const header = lines[0]!.split(',');
  const records: Record<string, unknown>[] = [];
  const outcomes: Array<{ entity_id: string; outcome: 0 | 1 }> = [];
  for (const line of lines.slice(1)) {
    const cells = line.split(',');
    const rec: Record<string, unknown> = {};
    header.forEach((h, i) => {
      const v = cells[i]!;
      if (h === 'Completed') return;
      rec[h] = v === '' ? null : NUMERIC.has(h) ? Number(v) : v;
    });
    rec.Student_ID = `${prefix}-${String(rec.Student_ID)}`;
    records.push(rec);
    outcomes.push({
      entity_id: rec.Student_ID as string,
      outcome: cells[header.indexOf('Completed')] === 'Completed' ? 1 : 0,
    });
  }
  return { records, outcomes };
}

async function send(url: string, records: Record<string, unknown>[]) {
  for (let i = 0; i < records.length; i += 250) {
    const res = await fetch(`${url}/predict/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ records: records.slice(i, i + 250) }),
    });
    assert.equal(res.status, 200, await res.text());
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`monitoring closes the loop (${backend})`, async () => {
    const skip = backend === 'postgres' ? ((await pgSkipReason(PG_URI)) ?? false) : false;
    let dir: string;
    let server: RunningTrackingServer;
    let serving: RunningServer;
    let hook: Server;
    let hookUrl: string;
    const hooks: Array<{ headers: Record<string, unknown>; body: Record<string, unknown> }> = [];
    const schema = `tassel_monitor_${process.pid}_${Date.now().toString(36)}`;
    // the prediction log in the same kind of store as the tracking server: segment files, or PostgreSQL
    const logUri = () => (backend === 'sqlite' ? join(dir, 'predictions') : `${PG_URI}?schema=${schema}_log`);
    const opened: OpenedPredictionSource[] = [];

    before(async () => {
      if (skip) return;
      dir = await mkdtemp(join(tmpdir(), 'tassel-monitor-e2e-'));
      await writeFile(join(dir, 'train.csv'), generateCourseCompletion({ rows: 4000, seed: 11 }));
      // fresh data: the world moved (population and concept), with recent labelled data to gate on
      const drift = { shift: parseShift(['Age=+10', 'Device_Type=Mobile*4']), conceptDrift: 1 };
      await writeFile(join(dir, 'fresh.csv'), generateCourseCompletion({ rows: 4000, seed: 12, ...drift }));
      await writeFile(join(dir, 'recent.csv'), generateCourseCompletion({ rows: 1500, seed: 13, ...drift }));
      server = await startTrackingServer({
        backendStoreUri:
          backend === 'sqlite' ? `sqlite:///${join(dir, 'mlflow.db')}` : `${PG_URI}?schema=${schema}`,
        artifactsDestination: `file://${join(dir, 'artifacts')}`,
        port: 0,
        logger: false,
      });
      hook = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => {
          body += c;
        });
        req.on('end', () => {
          hooks.push({ headers: req.headers, body: JSON.parse(body) });
          res.end('ok');
        });
      });
      await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
      hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
    });
    after(async () => {
      if (skip) return;
      await serving?.close();
      hook?.close();
      for (const o of opened) await o.close();
      if (backend === 'postgres') {
        await dropPostgresSchema(server.database, schema).catch(() => {});
        await dropPostgresSchema(server.database, `${schema}_log`).catch(() => {});
      }
      await server?.close();
      await rm(dir, { recursive: true, force: true });
    });

    const pipelineConfig = (monitoring: Record<string, unknown>) =>
      parsePipelineConfig(
        {
          data: { path: 'train.csv', schema: 'builtin:course-completion' },
          model_name: MODEL,
          candidates: [{ kind: 'logistic', params: { C: 1 } }],
          gate: { min_delta: 0.01 },
          monitoring: {
            window_size: 1000,
            min_window: 500,
            cooldown_minutes: 0,
            entity_field: 'Student_ID',
            fresh_data: { path: 'fresh.csv', test_data: 'recent.csv' },
            webhook_urls: [hookUrl],
            ...monitoring,
          },
        },
        dir,
      );

    const monitorOptions = async (
      monitoring: Record<string, unknown>,
      withRetrain = false,
    ): Promise<MonitorOptions> => {
      const config = pipelineConfig(monitoring);
      const log = await openPredictionSource(logUri());
      opened.push(log);
      return {
        model: MODEL,
        tracking: createMonitoringTracking({ uri: server.url }),
        source: log.source,
        config: config.monitoring!,
        includePartial: true,
        alerter: await createAlerter({
          webhookUrls: config.monitoring!.webhook_urls,
          secret: 's3cret',
          log: () => {},
        }),
        ...(withRetrain
          ? { retrain: createRetrainAction(config, createClientTracking({ uri: server.url })) }
          : {}),
      };
    };

    test('reference traffic passes, shifted traffic alarms, labels give realised performance, retraining promotes and serving swaps', {
      skip,
    }, async () => {
      const tracking = createClientTracking({ uri: server.url });
      const first = await runPipeline({ config: pipelineConfig({}), tracking });
      assert.equal(first.productionVersion, first.version);
      serving = await startServing({
        modelUri: `models:/${MODEL}@production`,
        trackingUri: server.url,
        port: 0,
        cacheDir: join(dir, 'cache'),
        logLevel: 'silent',
        predictionLog: { uri: logUri(), sample: 1 },
        entityField: 'Student_ID',
        pollIntervalMs: 200,
      });

      // 1. reference traffic: no alarm
      await send(serving.url, traffic('ref', { rows: 1000, seed: 31 }).records);
      await sleep(400); // the log flushes every 200 ms
      const r1 = await runMonitor(await monitorOptions({}));
      assert.equal(r1.windows.length, 1);
      const w0 = r1.windows[0]!;
      assert.equal(w0.report.n, 1000);
      assert.deepEqual(w0.report.drifted_features, [], JSON.stringify(w0.report.alerts));
      assert.equal(w0.decision, 'none', JSON.stringify(w0.report.alerts));
      assert.ok(
        Math.abs(w0.report.performance.estimated!.roc_auc - w0.report.performance.reference_auc!) < 0.05,
      );

      // 2. shifted traffic: the alarm names the shifted features; the webhook hears of it
      const shifted = traffic('shift', {
        rows: 1000,
        seed: 22,
        shift: parseShift(['Age=+10', 'Device_Type=Mobile*4']),
      });
      await send(serving.url, shifted.records);
      await sleep(400);
      const r2 = await runMonitor(await monitorOptions({}));
      assert.equal(r2.windows.length, 1);
      const w1 = r2.windows[0]!;
      assert.equal(w1.index, 1);
      for (const f of ['Age', 'Device_Type'])
        assert.ok(w1.report.drifted_features.includes(f), `${f} in ${w1.report.drifted_features.join(', ')}`);
      assert.equal(w1.decision, 'alert');
      const alertHook = hooks.find((h) => h.body.type === 'monitoring_alert');
      assert.ok(alertHook, 'alert webhook delivered');
      assert.match(String(alertHook.headers['x-tassel-signature']), /^sha256=[0-9a-f]{64}$/);
      assert.ok((alertHook.body.details as { drifted_features: string[] }).drifted_features.includes('Age'));

      // the windows are runs of monitoring/<model>: per-feature metrics with step = window index, tags, report
      const client = createTrackingClient({ trackingUri: server.url });
      const run = await client.getRun(w1.runId);
      const tags = Object.fromEntries(run.data.tags!.map((t) => [t.key, t.value]));
      assert.equal(tags['tassel.monitoring.model_version'], first.version);
      assert.equal(tags['tassel.monitoring.decision'], 'alert');
      const age = run.data.metrics!.find((m) => m.key === 'drift.Age.pvalue_adjusted')!;
      assert.equal(age.step, 1);
      assert.ok(age.value < 0.05);
      const artifacts = await client.listArtifacts(w1.runId);
      assert.ok(artifacts.files.some((f) => f.path === 'monitoring_report.json'));

      // 3. labels arrive (POST /feedback by Student_ID): the shifted window gets realised performance
      const fb = await fetch(`${serving.url}/feedback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ outcomes: [...shifted.outcomes, { entity_id: 'never-served', outcome: 1 }] }),
      });
      assert.equal(fb.status, 200, await fb.clone().text());
      const fbBody = (await fb.json()) as { results: Array<{ status: string }> };
      assert.equal(fbBody.results.at(-1)!.status, 'unknown');
      const r3 = await runMonitor(await monitorOptions({}));
      assert.equal(r3.relabelled, 1);
      const relabelled = await client.getRun(w1.runId);
      const realised = relabelled.data.metrics!.find((m) => m.key === 'realised_roc_auc');
      assert.ok(realised && realised.value > 0.6 && realised.step === 1, JSON.stringify(realised));
      assert.equal(relabelled.data.metrics!.find((m) => m.key === 'labelled')!.value, 1000);

      // 4. more shifted traffic with the retrain action: a challenger on fresh data, gated on recent labelled
      // data, promoted; the service swaps to it by itself
      await send(
        serving.url,
        traffic('shift2', { rows: 1000, seed: 23, shift: parseShift(['Age=+10', 'Device_Type=Mobile*4']) })
          .records,
      );
      await sleep(400);
      const r4 = await runMonitor(await monitorOptions({ actions: ['alert', 'retrain'] }, true));
      const w2 = r4.windows[0]!;
      assert.equal(w2.decision, 'alert+retrain');
      assert.ok(w2.retrain, 'retrained');
      assert.equal(w2.retrain.promoted, true, `gate ${w2.retrain.decision}`);
      assert.notEqual(w2.retrain.version, first.version);
      const swapped = Date.now();
      while (serving.holder.current?.identity.version !== w2.retrain.version) {
        assert.ok(Date.now() - swapped < 15_000, 'serving swapped to the promoted version');
        await sleep(50);
      }
      const decided = Object.fromEntries(
        (await client.getRun(w2.runId)).data.tags!.map((t) => [t.key, t.value]),
      );
      assert.equal(decided['tassel.monitoring.retrain.version'], w2.retrain.version);
      assert.equal(decided['tassel.monitoring.retrain.promoted'], 'true');

      // 5. cool-down: another alarmed window within the cool-down is recorded, not acted on
      await send(
        serving.url,
        traffic('shift3', { rows: 1000, seed: 24, shift: parseShift(['Age=+10']) }).records,
      );
      await sleep(400);
      // the new production version is monitored now; its own first window
      const r5 = await runMonitor(await monitorOptions({ cooldown_minutes: 60 }));
      assert.equal(r5.version.version, w2.retrain.version);
      assert.equal(r5.windows.length, 1);
      assert.equal(r5.windows[0]!.index, 3);
    });
  });
}
