import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createServingApp } from './app.js';
import { createServingMetrics } from './metrics.js';
import { createModelHolder } from './model-holder.js';
import { createLocalPredictionStore } from './prediction-sink/local/local-prediction-store.js';
import type { PredictionSink } from './prediction-sink/port.js';
import { createPredictionSink } from './prediction-sink/sink.js';
import { postOverSocket, type TrainedTestModel, trainTestModel } from './testing.js';

const TOKEN = 'admin-secret-1';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('GET and PUT /admin/prediction-log', () => {
  let trained: TrainedTestModel;
  let dir: string;
  let sink: PredictionSink;
  let app: FastifyInstance;
  let base: string;
  const told: number[] = [];
  const metrics = createServingMetrics();

  before(async () => {
    trained = await trainTestModel({ rows: 300, trees: 5 });
    dir = await mkdtemp(join(tmpdir(), 'tassel-log-admin-'));
    sink = createPredictionSink({ store: createLocalPredictionStore({ dir }), flushIntervalMs: 20 });
    app = await createServingApp({
      holder: createModelHolder(trained.served()),
      metrics,
      predictionSink: sink,
      adminToken: TOKEN,
      onSampleRate: (rate) => told.push(rate),
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await app?.close();
    await sink?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * Sends `n` single records over a socket (the fast and wire lanes) and, unless `batch` is false, one batch of
   * `n`; returns the rows logged.
   */
  const logged = async (n: number, batch = true): Promise<number> => {
    await sink.flush();
    const before = sink.stats.written;
    for (const r of trained.records.slice(0, n))
      assert.equal((await postOverSocket(base, '/predict', JSON.stringify(r))).status, 200);
    if (batch) {
      const res = await app.inject({
        method: 'POST',
        url: '/predict/batch',
        payload: { records: trained.records.slice(0, n) },
      });
      assert.equal(res.statusCode, 200);
    }
    await sink.flush();
    return sink.stats.written - before;
  };

  test('the sample rate changes from the next request on, on every route, and shows in GET and /metrics', async () => {
    const initial = await app.inject({ method: 'GET', url: '/admin/prediction-log' });
    assert.equal(initial.statusCode, 200);
    assert.deepEqual(
      { ...(initial.json() as object), written: 0 },
      {
        enabled: true,
        sample: 1,
        written: 0,
        dropped: 0,
        queued: 0,
      },
    );
    assert.equal(await logged(20), 40);

    const off = await app.inject({
      method: 'PUT',
      url: '/admin/prediction-log',
      headers: bearer(TOKEN),
      payload: { sample: 0 },
    });
    assert.equal(off.statusCode, 200);
    assert.equal(off.json().sample, 0);
    assert.equal(await logged(20), 0);
    assert.match(await metrics.render(), /^tassel_serving_prediction_log_sample_rate 0$/m);

    const half = await app.inject({
      method: 'PUT',
      url: '/admin/prediction-log',
      headers: bearer(TOKEN),
      payload: { sample: 0.5 },
    });
    assert.equal(half.json().sample, 0.5);
    // a batch is sampled as one request, so single records only: 200 draws at p = 0.5 fall outside [60, 140]
    // with probability ~1e-8
    const some = await logged(200, false);
    assert.ok(some >= 60 && some <= 140, `${some} of 200 logged at 0.5`);

    await app.inject({
      method: 'PUT',
      url: '/admin/prediction-log',
      headers: bearer(TOKEN),
      payload: { sample: 1 },
    });
    assert.equal(await logged(10), 20);
    assert.deepEqual(told, [0, 0.5, 1]);
    assert.equal((await app.inject({ method: 'GET', url: '/admin/prediction-log' })).json().sample, 1);
    assert.match(await metrics.render(), /^tassel_serving_prediction_log_sample_rate 1$/m);
  });

  test('a missing or wrong token is a 401, bad bodies a 400; none changes the rate', async () => {
    const put = (headers: Record<string, string>, payload: unknown) =>
      app.inject({ method: 'PUT', url: '/admin/prediction-log', headers, payload: payload as object });
    for (const headers of [{}, bearer('wrong'), bearer(`${TOKEN}x`), { authorization: `Basic ${TOKEN}` }]) {
      const res = await put(headers, { sample: 0 });
      assert.equal(res.statusCode, 401, JSON.stringify(headers));
      assert.equal(res.json().error_code, 'UNAUTHENTICATED');
    }
    for (const payload of [{ sample: 1.5 }, { sample: -0.1 }, { sample: '0' }, {}, { sample: 0, extra: 1 }]) {
      const res = await put(bearer(TOKEN), payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.equal(res.json().error_code, 'INVALID_PARAMETER_VALUE');
    }
    assert.equal(sink.sampleRate, 1);
    assert.equal(await logged(5), 10);
  });

  test('the routes are in the OpenAPI document, PUT with its bearer scheme', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const path = doc.paths['/admin/prediction-log'];
    assert.ok(path.get && path.put);
    assert.deepEqual(path.put.security, [{ adminToken: [] }]);
    assert.equal(doc.components.securitySchemes.adminToken.scheme, 'bearer');
  });
});

test('without an admin token PUT is refused (403) and without a log it is a 501; GET says disabled', async () => {
  const trained = await trainTestModel({ rows: 200, trees: 3 });
  const dir = await mkdtemp(join(tmpdir(), 'tassel-log-admin-'));
  const sink = createPredictionSink({ store: createLocalPredictionStore({ dir }) });
  const open = await createServingApp({ holder: createModelHolder(trained.served()), predictionSink: sink });
  const noLog = await createServingApp({ holder: createModelHolder(trained.served()), adminToken: TOKEN });
  try {
    const refused = await open.inject({
      method: 'PUT',
      url: '/admin/prediction-log',
      headers: bearer('anything'),
      payload: { sample: 0 },
    });
    assert.equal(refused.statusCode, 403);
    assert.equal(refused.json().error_code, 'PERMISSION_DENIED');
    assert.match(refused.json().message, /--admin-token/);
    assert.equal(sink.sampleRate, 1);

    const none = await noLog.inject({
      method: 'PUT',
      url: '/admin/prediction-log',
      headers: bearer(TOKEN),
      payload: { sample: 0 },
    });
    assert.equal(none.statusCode, 501);
    assert.match(none.json().message, /--prediction-log/);
    const state = (await noLog.inject({ method: 'GET', url: '/admin/prediction-log' })).json();
    assert.equal(state.enabled, false);
  } finally {
    await open.close();
    await noLog.close();
    await sink.close();
    await rm(dir, { recursive: true, force: true });
  }
});
