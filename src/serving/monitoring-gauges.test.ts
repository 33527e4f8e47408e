import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { courseCompletionSchema } from '../data/builtin-schemas.js';
import { readCsvTable } from '../data/read-csv.js';
import { generateCourseCompletion, parseShift } from '../data/synthetic.js';
import { parseMonitoringConfig } from '../monitoring/config.js';
import { runMonitor } from '../monitoring/monitor.js';
import type { OutcomeRecord, PredictionRecord, PredictionSource } from '../monitoring/records.js';
import { createMonitoringTracking } from '../monitoring/tracking.js';
import { buildReferenceProfile } from '../pipeline/profile.js';
import { type RunningTrackingServer, startTrackingServer } from '../tracking/server/start.js';
import { saveBundle } from '../ml/bundle.js';
import { createRegistryClient } from '../tracking/client/registry-client.js';
import { createTrackingClient } from '../tracking/client/tracking-client.js';
import { createServingMetrics } from './metrics.js';
import { createLatestWindowReader, createMonitoringGauges } from './monitoring-gauges.js';
import { startServing } from './server.js';
import { trainTestModel } from './testing.js';

// tassel monitor logs a window of shifted traffic to a real tracking server; the serving metrics of that version
// then show its drift scores and AUCs, and nothing at all for a version with no window.

const MODEL = 'gauges-model';
/** A score that carries some signal (so the AUCs are neither 0.5 nor 1): label mixed with a per-row hash. */
const score = (y: number, i: number) => 0.3 * y + 0.7 * (((i * 2654435761) % 1000) / 1000);

function parseRows(csv: string) {
  const lines = csv.trim().split('\n');
  const header = lines[0]!.split(',');
  const numeric = new Set(
    courseCompletionSchema.columns
      .filter((c) => c.type === 'numeric' || c.type === 'integer')
      .map((c) => c.name),
  );
  return lines.slice(1).map((line) => {
    const cells = line.split(',');
    const rec: Record<string, unknown> = {};
    header.forEach((h, i) => {
      rec[h] = cells[i] === '' ? null : numeric.has(h) ? Number(cells[i]) : cells[i];
    });
    return rec;
  });
}

describe('monitoring gauges on /metrics', () => {
  let dir: string;
  let server: RunningTrackingServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tassel-monitor-gauges-'));
    server = await startTrackingServer({
      backendStoreUri: `sqlite:///${join(dir, 'mlflow.db')}`,
      artifactsDestination: `file://${join(dir, 'artifacts')}`,
      port: 0,
      logger: false,
    });
    // the reference: a training table's profile with test scores and labels
    const file = join(dir, 'train.csv');
    await writeFile(file, generateCourseCompletion({ rows: 1500, seed: 3 }));
    const { table, y } = await readCsvTable(file, { schema: courseCompletionSchema });
    const scores = Array.from(y!, (v, i) => score(v, i));
    const profile = buildReferenceProfile(table, courseCompletionSchema, scores, {
      threshold: 0.5,
      scores,
      labels: y!,
    });
    // traffic with Age shifted by +10 years, every outcome known
    const rows = parseRows(generateCourseCompletion({ rows: 600, seed: 4, shift: parseShift(['Age=+10']) }));
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const predictions: PredictionRecord[] = [];
    const outcomes: OutcomeRecord[] = [];
    rows.forEach((r, i) => {
      const yv = r.Completed === 'Completed' ? 1 : 0;
      delete r.Completed;
      const p = score(yv, i + 7);
      predictions.push({
        request_id: `r${i}`,
        time: t0 + i * 1000,
        model_name: MODEL,
        model_version: '3',
        inputs: r,
        probability: p,
        label: p >= 0.5 ? 1 : 0,
      });
      outcomes.push({ request_id: `r${i}`, outcome: yv });
    });
    const source: PredictionSource = {
      async *predictions() {
        yield* predictions;
      },
      async *outcomes() {
        yield* outcomes;
      },
    };
    // the real monitor, logging to the real server; only the version lookup and profile read are given
    const tracking = createMonitoringTracking({ uri: server.url, retries: 0 });
    const result = await runMonitor({
      model: MODEL,
      version: '3',
      tracking: {
        ...tracking,
        resolveVersion: async () => ({ name: MODEL, version: '3', runId: null, tags: {} }),
        readProfile: async () => profile,
      },
      source,
      config: parseMonitoringConfig({ window_size: 600, min_window: 100 }),
      includePartial: true,
      now: () => t0 + 3_600_000,
    });
    assert.equal(result.windows.length, 1);
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const scrape = async (version: string | null) => {
    const metrics = createServingMetrics();
    const gauges = createMonitoringGauges({
      registry: metrics.registry,
      read: createLatestWindowReader({ trackingUri: server.url }),
      served: () => (version === null ? null : { name: MODEL, version }),
    });
    await gauges.refresh();
    return metrics.render();
  };
  const value = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  test('the served version shows its latest window: drift per feature, estimated and realised ROC AUC', async () => {
    const text = await scrape('3');
    const mv = `model="${MODEL}",version="3"`;
    const ageKs = value(text, `tassel_monitoring_drift_score{${mv},feature="Age",statistic="statistic"}`);
    assert.ok(ageKs !== undefined && ageKs > 0.2, `Age KS D after a 10-year shift: ${ageKs}\n${text}`);
    const agePsi = value(text, `tassel_monitoring_drift_score{${mv},feature="Age",statistic="psi"}`);
    assert.ok(agePsi !== undefined && agePsi > 0.2, `Age PSI ${agePsi}`);
    assert.equal(value(text, `tassel_monitoring_feature_drifted{${mv},feature="Age"}`), 1);
    const estimated = value(text, `tassel_monitoring_estimated_roc_auc{${mv}}`);
    const realised = value(text, `tassel_monitoring_realised_roc_auc{${mv}}`);
    assert.ok(estimated !== undefined && estimated > 0.5 && estimated < 1, `estimated ${estimated}`);
    assert.ok(realised !== undefined && realised > 0.5 && realised < 1, `realised ${realised}`);
    assert.ok((value(text, `tassel_monitoring_alerts{${mv}}`) ?? 0) >= 1);
    assert.match(
      text,
      /tassel_monitoring_window_info\{model="gauges-model",version="3",window_index="0",decision="alert",run_id="[0-9a-f]+"\} 1/,
    );
  });

  test('tassel serve of that version shows them on GET /metrics; a version without a window shows none', async () => {
    const m = await trainTestModel({ rows: 300, seed: 1, trees: 4 });
    const bundle = join(dir, 'bundle');
    await saveBundle(bundle, {
      model: m.model,
      transform: m.transform,
      schema: courseCompletionSchema,
      prior: m.prior,
      inputExample: m.records.slice(0, 2),
    });
    const tracking = createTrackingClient({ trackingUri: server.url, maxRetries: 0 });
    const registry = createRegistryClient({ trackingUri: server.url, maxRetries: 0 });
    const run = await tracking.createRun({ experiment_id: '0' });
    await tracking.logArtifacts(run.info.run_id, bundle, 'model');
    await registry.createRegisteredModel({ name: MODEL });
    const versions: string[] = [];
    for (let i = 0; i < 3; i++) {
      const v = await registry.createModelVersion({
        name: MODEL,
        source: `${run.info.artifact_uri}/model`,
        run_id: run.info.run_id,
      });
      versions.push(String(v.version));
    }
    assert.deepEqual(versions, ['1', '2', '3']);
    for (const [version, expectSeries] of [
      ['3', true],
      ['2', false],
    ] as const) {
      const serving = await startServing({
        modelUri: `models:/${MODEL}/${version}`,
        trackingUri: server.url,
        port: 0,
        cacheDir: join(dir, `cache-${version}`),
        logLevel: 'silent',
        monitoringIntervalMs: 100,
      });
      try {
        let text = '';
        for (let i = 0; i < 50; i++) {
          text = await (await fetch(`${serving.url}/metrics`)).text();
          if (!expectSeries || text.includes('tassel_monitoring_realised_roc_auc{')) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        if (!expectSeries) await new Promise((r) => setTimeout(r, 300)); // a few refreshes have run
        if (!expectSeries) text = await (await fetch(`${serving.url}/metrics`)).text();
        const realised = value(text, `tassel_monitoring_realised_roc_auc{model="${MODEL}",version="3"}`);
        if (expectSeries) assert.ok(realised !== undefined && realised > 0.5, text);
        else
          assert.deepEqual(
            text.split('\n').filter((l) => l.startsWith('tassel_monitoring_')),
            [],
          );
      } finally {
        await serving.close();
      }
    }
  });

  test("tassel serve --workers 2: the aggregated /metrics shows each worker's gauges under its worker label", async () => {
    const port = await new Promise<number>((res) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    const root = resolve(import.meta.dirname, '..', '..');
    const proc = spawn(
      process.execPath,
      [
        join(root, 'bin', 'tassel.js'),
        'serve',
        '--model-uri',
        `models:/${MODEL}/3`,
        '--tracking-uri',
        server.url,
        '--port',
        String(port),
        '--workers',
        '2',
        '--monitoring-interval',
        '1',
        '--cache-dir',
        join(dir, 'cache-cluster'),
      ],
      { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], detached: true },
    );
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    try {
      const t0 = Date.now();
      let workers = new Set<string>();
      let text = '';
      while (workers.size < 2 && Date.now() - t0 < 90_000) {
        assert.equal(proc.exitCode, null, stderr);
        text = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { connection: 'close' } }).then(
          (r) => r.text(),
          () => '',
        );
        workers = new Set(
          [...text.matchAll(/^tassel_monitoring_realised_roc_auc\{[^}]*worker="(\d+)"\} (0\.\d+)$/gm)].map(
            (m) => m[1]!,
          ),
        );
        if (workers.size < 2) await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(workers.size, 2, `${stderr}\n${text}`);
    } finally {
      process.kill(-proc.pid!, 'SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
  });

  test('a version without a monitoring window, or no versioned model, has no monitoring series at all', async () => {
    for (const text of [await scrape('4'), await scrape(null)]) {
      const series = text.split('\n').filter((l) => l.startsWith('tassel_monitoring_'));
      assert.deepEqual(series, []);
    }
  });
});
