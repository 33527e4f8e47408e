import assert from 'node:assert/strict';
import { createTrackingClient } from '../client/tracking-client.js';

/** Figures from {@link checkConcurrentLogBatch}. */
export interface ConcurrencyResult {
  calls: number;
  metrics: number;
  seconds: number;
}

/**
 * Test helper: `clients` independent REST clients each send `callsPerClient` log-batch calls (all clients
 * at once) to a few shared runs, then checks that every metric, param and tag arrived and that
 * latest_metrics holds the highest step. Throws an AssertionError when anything was lost.
 */
export async function checkConcurrentLogBatch(
  url: string,
  clients = 16,
  callsPerClient = 200,
  metricsPerCall = 5,
): Promise<ConcurrencyResult> {
  const admin = createTrackingClient({ trackingUri: url });
  const expId = await admin.createExperiment({
    name: `concurrency-${Date.now()}-${Math.random().toString(36).slice(2)}`,
  });
  const runIds: string[] = [];
  for (let r = 0; r < 4; r++) runIds.push((await admin.createRun({ experiment_id: expId })).info.run_id);
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const client = createTrackingClient({ trackingUri: url, maxRetries: 0, timeoutMs: 60_000 });
      for (let i = 0; i < callsPerClient; i++) {
        const runId = runIds[(c + i) % runIds.length];
        const step = c * callsPerClient + i;
        await client.logBatch({
          run_id: runId,
          metrics: Array.from({ length: metricsPerCall }, (_, k) => ({
            key: `m${k}`,
            value: step + k / 10,
            timestamp: 1000 + step,
            step,
          })),
          params: [{ key: `p-${c}-${i}`, value: String(step) }],
          tags: [{ key: `t-${c}`, value: String(i) }],
        });
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const calls = clients * callsPerClient;
  let totalMetrics = 0;
  let totalParams = 0;
  for (const runId of runIds) {
    const run = await admin.getRun(runId);
    totalParams += run.data.params.length;
    const history = await admin.getMetricHistory({ run_id: runId, metric_key: 'm0' });
    totalMetrics += history.metrics.length;
    const maxStep = Math.max(...history.metrics.map((m) => m.step));
    const latest = run.data.metrics.find((m) => m.key === 'm0');
    assert.equal(latest?.step, maxStep, 'latest_metrics holds the highest step');
    const steps = new Set(history.metrics.map((m) => m.step));
    assert.equal(steps.size, history.metrics.length, 'no duplicated metric rows');
  }
  assert.equal(totalMetrics, calls, 'every m0 value was stored');
  assert.equal(totalParams, calls, 'every param was stored');
  return { calls, metrics: calls * metricsPerCall, seconds };
}
