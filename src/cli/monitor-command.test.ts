import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { registerModel } from '../monitoring/monitor-fixtures.test-helper.js';
import { createSimulation } from '../monitoring/simulate.js';
import type { PendingPrediction } from '../serving/prediction-sink/port.js';
import { openPredictionStore } from '../serving/prediction-sink/registry.js';
import { type RunningTrackingServer, startTrackingServer } from '../tracking/server/start.js';
import { runCli } from './cli-capture.test-helper.js';

// `tassel monitor` (the default `check`) end to end through the CLI: a registered version with a reference
// profile, a prediction log of one reference window and one shifted window, a tracking server.
describe('tassel monitor', () => {
  let dir: string;
  let server: RunningTrackingServer;
  const MODEL = 'cli-model';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tassel-monitor-cli-'));
    server = await startTrackingServer({
      backendStoreUri: `sqlite:///${join(dir, 'mlflow.db')}`,
      artifactsDestination: `file://${join(dir, 'artifacts')}`,
      port: 0,
      logger: false,
    });
    const sim = createSimulation(4);
    await registerModel(server.url, MODEL);
    const store = await openPredictionStore(join(dir, 'predictions'));
    for (const [w, shift] of [
      [0, {}],
      [1, { mean: { 2: 0.6 } }],
    ] as const) {
      const data = sim.window(800, 40 + w, shift);
      const batch: PendingPrediction[] = [];
      for (let k = 0; k < data.n; k++) {
        const inputs: Record<string, unknown> = {};
        for (const [n, col] of data.numeric) inputs[n] = col[k];
        for (const [n, col] of data.categorical) inputs[n] = col[k];
        batch.push({
          request_id: `w${w}-${k}`,
          time: Date.UTC(2026, 0, 1) + w * 60_000 + k,
          model_name: MODEL,
          model_version: '1',
          inputs,
          inputs_json: null,
          probability: data.scores[k]!,
          label: data.scores[k]! >= 0.5 ? 1 : 0,
          fallback: false,
          route: '/predict',
        });
      }
      await store.appendPredictions(batch);
    }
    await store.close();
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('checks every new window once, names the drifted feature, and exits 0', async () => {
    const args = [
      'monitor',
      '--tracking-uri',
      server.url,
      '--prediction-log',
      join(dir, 'predictions'),
      '--model',
      MODEL,
    ];
    const first = await runCli(...args, '--window-size', '800', '--json');
    assert.equal(first.code, 0, first.stderr);
    const result = JSON.parse(first.stdout) as {
      windows: Array<{ index: number; decision: string; report: { drifted_features: string[] } }>;
    };
    assert.deepEqual(
      result.windows.map((w) => [w.index, w.decision, w.report.drifted_features]),
      [
        [0, 'none', []],
        [1, 'alert', ['x2']],
      ],
    );
    assert.match(first.stderr, /ALERT cli-model v1 window 1: x2: drift/);
    // a second pass finds nothing new; `check` is the same command spelled out
    const second = await runCli('monitor', 'check', ...args.slice(1), '--window-size', '800');
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /cli-model v1: 0 window\(s\) checked/);
  });

  test('a model with no production version is a usage error', async () => {
    const r = await runCli(
      'monitor',
      '--tracking-uri',
      server.url,
      '--prediction-log',
      join(dir, 'predictions'),
      '--model',
      'nope',
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /nope has no production version to monitor/);
  });
});
