import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PredictionStore } from '../serving/prediction-sink/port.js';
import { openPredictionStore } from '../serving/prediction-sink/registry.js';
import { createPredictionSink } from '../serving/prediction-sink/sink.js';
import { createTrackingClient } from '../tracking/client/tracking-client.js';
import { type RunningTrackingServer, startTrackingServer } from '../tracking/server/start.js';
import type { AlertMessage } from './alerts.js';
import { parseMonitoringConfig } from './config.js';
import { MONITORING_TAGS, type MonitorOptions, runMonitor } from './monitor.js';
import { createReaderPredictionSource } from './records.js';
import { logPredictions, registerModel } from './monitor-fixtures.test-helper.js';
import { createMonitoringTracking } from './tracking.js';

// runMonitor over a real tracking server and the local prediction log: time windows, late, duplicate and
// corrected labels.
const T0 = Date.UTC(2026, 0, 1);

describe('runMonitor', () => {
  let dir: string;
  let server: RunningTrackingServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tassel-monitor-'));
    server = await startTrackingServer({
      backendStoreUri: `sqlite:///${join(dir, 'mlflow.db')}`,
      artifactsDestination: `file://${join(dir, 'artifacts')}`,
      port: 0,
      logger: false,
    });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const optionsFor = (
    model: string,
    store: PredictionStore,
    extra: Partial<MonitorOptions> = {},
  ): MonitorOptions => ({
    model,
    tracking: createMonitoringTracking({ uri: server.url }),
    source: createReaderPredictionSource(store),
    config: parseMonitoringConfig({ window_size: 600, min_window: 100, cooldown_minutes: 0 }),
    ...extra,
  });

  test('time windows: one per period, judged once the period is over, each checked once', async () => {
    const model = 'time-windows';
    await registerModel(server.url, model);
    const store = await openPredictionStore(join(dir, model));
    // 400 predictions a minute (150 ms apart): two whole minutes and the first half of the third
    for (let m = 0; m < 2; m++)
      await logPredictions(store, model, {
        n: 400,
        seed: 10 + m,
        start: T0 + m * 60_000,
        stepMs: 150,
        prefix: `m${m}`,
      });
    await logPredictions(store, model, { n: 200, seed: 12, start: T0 + 120_000, stepMs: 150, prefix: 'm2a' });
    const config = parseMonitoringConfig({ window_minutes: 1, min_window: 100, cooldown_minutes: 0 });
    // at 02:30 the third minute is still going on: two windows
    const first = await runMonitor(optionsFor(model, store, { config, now: () => T0 + 150_000 }));
    assert.deepEqual(
      first.windows.map((w) => [
        w.index,
        w.report.n,
        new Date(w.start).toISOString(),
        new Date(w.end).toISOString(),
      ]),
      [
        [0, 400, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:59.850Z'],
        [1, 400, '2026-01-01T00:01:00.000Z', '2026-01-01T00:01:59.850Z'],
      ],
    );
    // the rest of the third minute, and 50 predictions in the fourth
    await logPredictions(store, model, { n: 200, seed: 13, start: T0 + 150_000, stepMs: 150, prefix: 'm2b' });
    await logPredictions(store, model, { n: 50, seed: 20, start: T0 + 180_000, stepMs: 100, prefix: 'm3' });
    const second = await runMonitor(optionsFor(model, store, { config, now: () => T0 + 10 * 60_000 }));
    assert.deepEqual(
      second.windows.map((w) => [w.index, w.report.n]),
      [[2, 400]],
    );
    const third = await runMonitor(optionsFor(model, store, { config, now: () => T0 + 10 * 60_000 }));
    assert.equal(third.windows.length, 0);
    // a one-shot run also judges the last, incomplete period when it is big enough
    await logPredictions(store, model, { n: 200, seed: 21, start: T0 + 190_000, stepMs: 100, prefix: 'm3b' });
    const partial = await runMonitor(
      optionsFor(model, store, { config, includePartial: true, now: () => T0 + 210_000 }),
    );
    assert.deepEqual(
      partial.windows.map((w) => [w.index, w.report.n]),
      [[3, 250]],
    );
    await store.close();
  });

  test('late labels attach to windows already checked; duplicates change nothing, corrections recompute', async () => {
    const model = 'late-labels';
    await registerModel(server.url, model);
    const store = await openPredictionStore(join(dir, model));
    const sink = createPredictionSink({ store, flushIntervalMs: 10_000 });
    const w0 = await logPredictions(store, model, { n: 600, seed: 30, start: T0, stepMs: 10, prefix: 'a' });
    const w1 = await logPredictions(store, model, {
      n: 600,
      seed: 31,
      start: T0 + 60_000,
      stepMs: 10,
      prefix: 'b',
    });
    const alerts: AlertMessage[] = [];
    const lines: string[] = [];
    const options = optionsFor(model, store, {
      alerter: { send: async (m) => void alerts.push(m), close: async () => {} },
      log: (line) => lines.push(line),
    });
    const first = await runMonitor(options);
    assert.deepEqual(
      first.windows.map((w) => [w.index, w.decision, w.report.performance.labelled]),
      [
        [0, 'none', 0],
        [1, 'none', 0],
      ],
    );
    assert.equal(alerts.length, 0);

    // the outcomes of window 0 arrive, inverted (the model got worse at ranking), and half of window 1's
    const inverted = w0.ids.map((id, k) => ({ request_id: id, outcome: (1 - w0.outcomes[k]!) as 0 | 1 }));
    const half = w1.ids.slice(0, 300).map((id, k) => ({ request_id: id, outcome: w1.outcomes[k] as 0 | 1 }));
    const attached = await sink.attachOutcomes([...inverted, ...half]);
    assert.ok(attached.every((r) => r.status === 'attached'));
    const second = await runMonitor(options);
    assert.equal(second.windows.length, 0);
    assert.deepEqual(second.late.map((w) => [w.index, w.labelled, w.decision]).sort(), [
      [0, 600, 'alert'],
      [1, 300, 'none'],
    ]);
    const late0 = second.late.find((w) => w.index === 0)!;
    assert.ok(late0.realised.roc_auc < 0.5, `inverted labels: AUC ${late0.realised.roc_auc}`);
    assert.equal(alerts.length, 1, 'the revealed drop is alerted once');
    assert.equal(alerts[0]!.details.late_labels, true);
    assert.equal(alerts[0]!.details.window_index, 0);
    assert.ok(
      lines.some((l) =>
        /window 0: realised ROC AUC 0\.\d+ on 600 labels \(updated with late labels\); decision alert/.test(
          l,
        ),
      ),
    );

    // the window runs carry the realised metrics at the window's step and the late decision
    const tracking = createTrackingClient({ trackingUri: server.url, env: {} });
    const run0 = await tracking.getRun(late0.runId);
    const tag = (key: string) => run0.data.tags?.find((t) => t.key === key)?.value;
    assert.equal(tag(MONITORING_TAGS.labelled), '600');
    assert.equal(tag(MONITORING_TAGS.lateDecision), 'alert');
    const metric = run0.data.metrics?.find((m) => m.key === 'realised_roc_auc');
    assert.ok(metric && Math.abs(metric.value - late0.realised.roc_auc) < 1e-12 && Number(metric.step) === 0);

    // the same labels again: duplicates, not stored; the next pass has nothing to update and alerts nothing
    const again = await sink.attachOutcomes(inverted.slice(0, 100));
    assert.ok(again.every((r) => r.status === 'duplicate'));
    const third = await runMonitor(options);
    assert.deepEqual(third.late, []);
    assert.equal(alerts.length, 1);

    // corrections (window 0's labels set right) and the rest of window 1: both recomputed, no second alert
    const corrected = w0.ids.map((id, k) => ({ request_id: id, outcome: w0.outcomes[k] as 0 | 1 }));
    const rest = w1.ids
      .slice(300)
      .map((id, k) => ({ request_id: id, outcome: w1.outcomes[300 + k] as 0 | 1 }));
    const results = await sink.attachOutcomes([...corrected, ...rest]);
    assert.equal(results.filter((r) => r.status === 'updated').length, 600);
    const fourth = await runMonitor(options);
    const byIndex = new Map(fourth.late.map((w) => [w.index, w]));
    assert.equal(byIndex.get(0)!.labelled, 600);
    assert.ok(byIndex.get(0)!.realised.roc_auc > 0.6, `corrected: AUC ${byIndex.get(0)!.realised.roc_auc}`);
    assert.equal(byIndex.get(0)!.decision, 'none', 'acted on once per window');
    assert.equal(byIndex.get(1)!.labelled, 600);
    assert.equal(alerts.length, 1);
    await sink.close();
  });

  test('late labels from a source whose outcomes carry no recording time (an --outcomes file)', async () => {
    const model = 'untimed-labels';
    await registerModel(server.url, model);
    const store = await openPredictionStore(join(dir, model));
    const w0 = await logPredictions(store, model, { n: 600, seed: 40, start: T0, stepMs: 10, prefix: 'u' });
    const labels: Array<{ request_id: string; outcome: 0 | 1 }> = [];
    const base = createReaderPredictionSource(store);
    const options = optionsFor(model, store, {
      source: {
        predictions: (q) => base.predictions(q),
        ...(base.predictionColumns ? { predictionColumns: base.predictionColumns } : {}),
        async *outcomes() {
          yield* labels;
        },
      },
    });
    assert.equal((await runMonitor(options)).windows.length, 1);
    labels.push(
      ...w0.ids.slice(0, 200).map((id, k) => ({ request_id: id, outcome: w0.outcomes[k] as 0 | 1 })),
    );
    const second = await runMonitor(options);
    assert.deepEqual(
      second.late.map((w) => [w.index, w.labelled]),
      [[0, 200]],
    );
    // nothing new: not logged again
    assert.deepEqual((await runMonitor(options)).late, []);
    await store.close();
  });
});
