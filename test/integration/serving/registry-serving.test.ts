import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { courseCompletionSchema } from '../../../src/data/builtin-schemas.js';
import { saveBundle } from '../../../src/ml/bundle.js';
import { type RunningServer, startServing } from '../../../src/serving/server.js';
import { type TrainedTestModel, trainTestModel } from '../../../src/serving/testing.js';
import { createRegistryClient } from '../../../src/tracking/client/registry-client.js';
import { createTrackingClient } from '../../../src/tracking/client/tracking-client.js';
import { type RunningTrackingServer, startTrackingServer } from '../../../src/tracking/server/start.js';

// Serving against a real tracking + registry server (SQLite, local artifacts through the proxy), with real
// bundles of real GBDT models: alias moves under load, corrupt artifacts, registry down at start.

const MODEL = 'course-completion';

/** The parts of the service's JSON answers these tests read. */
interface Answer {
  status: string;
  probability: number;
  label: number;
  version: string;
  fallback: boolean;
  model: { version: string; fallback: boolean; reason?: string };
}
const json = async (res: Response) => (await res.json()) as Answer;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await check()) return Date.now() - t0;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('serving from a real registry', () => {
  let dir: string;
  let m1: TrainedTestModel;
  let m2: TrainedTestModel;
  const bundles: Record<string, string> = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tassel-serving-it-'));
    m1 = await trainTestModel({ rows: 400, seed: 1, trees: 8 });
    m2 = await trainTestModel({ rows: 400, seed: 2, trees: 12 });
    for (const [name, m] of [
      ['v1', m1],
      ['v2', m2],
    ] as const) {
      bundles[name] = join(dir, `bundle-${name}`);
      await saveBundle(bundles[name]!, {
        model: m.model,
        transform: m.transform,
        schema: courseCompletionSchema,
        prior: m.prior,
        inputExample: m.records.slice(0, 2),
      });
    }
    bundles.corrupt = join(dir, 'bundle-corrupt');
    await cp(bundles.v1!, bundles.corrupt, { recursive: true });
    await writeFile(
      join(bundles.corrupt, 'model.json'),
      '{"format_version": 1, "estimator": {"kind": "gbdt", "trees": [',
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function startRegistry(port = 0): Promise<RunningTrackingServer> {
    const sub = await mkdtemp(join(dir, 'server-'));
    return startTrackingServer({
      backendStoreUri: `sqlite:///${join(sub, 'mlflow.db')}`,
      artifactsDestination: `file://${join(sub, 'artifacts')}`,
      port,
    });
  }

  /** Logs a bundle as a run's artifacts and registers it as a new version; returns the version number. */
  async function publish(url: string, bundle: string, tags: Record<string, string> = {}): Promise<string> {
    const tracking = createTrackingClient({ trackingUri: url, maxRetries: 0 });
    const registry = createRegistryClient({ trackingUri: url, maxRetries: 0 });
    let experimentId: string;
    try {
      experimentId = await tracking.createExperiment({ name: 'serving-it' });
    } catch {
      experimentId = (await tracking.getExperimentByName('serving-it'))!.experiment_id;
    }
    const run = await tracking.createRun({ experiment_id: experimentId });
    await tracking.logArtifacts(run.info.run_id, bundle, 'model');
    await registry.createRegisteredModel({ name: MODEL }).catch(() => {});
    const v = await registry.createModelVersion({
      name: MODEL,
      source: `${run.info.artifact_uri}/model`,
      run_id: run.info.run_id,
      tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
    });
    return v.version;
  }

  const setAlias = (url: string, version: string) =>
    createRegistryClient({ trackingUri: url, maxRetries: 0 }).setRegisteredModelAlias(
      MODEL,
      'production',
      version,
    );

  test('alias moved under load: zero failed requests, the new version within 2 s; a corrupt version never replaces a working one; rollback', async () => {
    const registry = await startRegistry();
    let serving: RunningServer | undefined;
    let running = false;
    try {
      const v1 = await publish(registry.url, bundles.v1!);
      const v2 = await publish(registry.url, bundles.v2!);
      const vBad = await publish(registry.url, bundles.corrupt!);
      await setAlias(registry.url, v1);
      const t0 = Date.now();
      serving = await startServing({
        modelUri: `models:/${MODEL}@production`,
        trackingUri: registry.url,
        port: 0,
        cacheDir: join(dir, 'cache-a'),
        logLevel: 'silent',
      });
      assert.equal(serving.holder.state, 'ok');
      assert.ok(Date.now() - t0 < 5000, 'ready quickly');
      const ready = await json(await fetch(`${serving.url}/health/ready`));
      assert.deepEqual(ready.model.version, v1);

      const record = m1.records[3]!;
      const seen = new Map<string, number>();
      let failures = 0;
      let requests = 0;
      running = true;
      const loop = async () => {
        while (running) {
          try {
            const res = await fetch(`${serving!.url}/predict`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(record),
            });
            const body = await json(res);
            requests++;
            if (res.status !== 200 || body.model.fallback) failures++;
            else if (!seen.has(body.model.version)) seen.set(body.model.version, Date.now());
          } catch {
            failures++;
          }
        }
      };
      let swappedAt = 0;
      serving.holder.onSwap(() => {
        swappedAt = Date.now();
      });
      const loops = [loop()];
      await sleep(300);
      const moved = Date.now();
      await setAlias(registry.url, v2);
      await waitFor('the new version in responses', () => seen.has(v2), 5000);
      const lag = seen.get(v2)! - moved;
      assert.ok(
        lag < 2000,
        `new version served ${lag} ms after the alias moved (swapped after ${swappedAt - moved} ms)`,
      );

      // a corrupt version: the loader refuses it, v2 keeps serving
      await setAlias(registry.url, vBad);
      await waitFor('the load failure', async () =>
        /model_load_failures_total\{stage="load"\} 1/.test(
          await (await fetch(`${serving!.url}/metrics`)).text(),
        ),
      );
      await sleep(200);
      running = false;
      await Promise.all(loops);
      assert.equal(failures, 0, `${failures} of ${requests} requests failed`);
      assert.ok(requests > 20);
      assert.ok(!seen.has(vBad));
      const model = await json(await fetch(`${serving.url}/model`));
      assert.equal(model.version, v2);
      assert.equal(model.fallback, false);

      // rollback is the alias moving back
      await setAlias(registry.url, v1);
      await waitFor('rollback to v1', () => serving!.holder.current?.identity.version === v1, 5000);
      const probe = await fetch(`${serving.url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(record),
      });
      assert.equal((await json(probe)).model.version, v1);
    } finally {
      running = false;
      await serving?.close();
      await registry.close();
    }
  });

  test('registry down at start: fallback (degraded, prior from configuration), then recovery when it comes up', async () => {
    const port = await freePort();
    const serving = await startServing({
      modelUri: `models:/${MODEL}@production`,
      trackingUri: `http://127.0.0.1:${port}`,
      port: 0,
      cacheDir: join(dir, 'cache-b'),
      fallbackPrior: 0.42,
      retryInitialMs: 100,
      retryMaxMs: 400,
      logLevel: 'silent',
    });
    let registry: RunningTrackingServer | undefined;
    try {
      assert.equal(serving.holder.state, 'degraded');
      const ready = await fetch(`${serving.url}/health/ready`);
      assert.equal(ready.status, 200);
      assert.equal((await json(ready)).status, 'degraded');
      const res = await fetch(`${serving.url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(m1.records[0]),
      });
      assert.equal(res.status, 200);
      const body = await json(res);
      assert.equal(body.model.fallback, true);
      assert.equal(body.probability, 0.42);
      assert.match(body.model.reason ?? '', /cannot resolve/);
      assert.match(await (await fetch(`${serving.url}/metrics`)).text(), /tassel_serving_fallback_active 1/);

      registry = await startRegistry(port);
      const v1 = await publish(registry.url, bundles.v1!);
      await setAlias(registry.url, v1);
      await waitFor('recovery', () => serving.holder.state === 'ok', 10_000);
      const after = await json(
        await fetch(`${serving.url}/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(m1.records[0]),
        }),
      );
      assert.equal(after.model.fallback, false);
      assert.equal(after.model.version, v1);
    } finally {
      await serving.close();
      await registry?.close();
    }
  });

  test('corrupt artifact at start: fallback with the prior from the version tags, 503 readiness with failReadyOnFallback', async () => {
    const registry = await startRegistry();
    let serving: RunningServer | undefined;
    try {
      const bad = await publish(registry.url, bundles.corrupt!, { 'tassel.prior': '0.77' });
      await setAlias(registry.url, bad);
      serving = await startServing({
        modelUri: `models:/${MODEL}@production`,
        trackingUri: registry.url,
        port: 0,
        cacheDir: join(dir, 'cache-c'),
        failReadyOnFallback: true,
        retryInitialMs: 60_000,
        logLevel: 'silent',
      });
      assert.equal(serving.holder.state, 'degraded');
      assert.equal((await fetch(`${serving.url}/health/ready`)).status, 503);
      const body = await json(
        await fetch(`${serving.url}/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(m1.records[0]),
        }),
      );
      assert.equal(body.probability, 0.77);
      assert.equal(body.label, 1);
      assert.equal(body.model.fallback, true);
      assert.match(body.model.reason ?? '', /cannot load/);
      // a good version appears: the event stream brings it in without waiting for the retry
      const good = await publish(registry.url, bundles.v2!);
      await setAlias(registry.url, good);
      await waitFor('the good version', () => serving!.holder.state === 'ok', 5000);
      assert.equal((await fetch(`${serving.url}/health/ready`)).status, 200);
    } finally {
      await serving?.close();
      await registry.close();
    }
  });
});
