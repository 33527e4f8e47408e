import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DatasetSchema } from '../data/schema.js';
import type { RawRecord } from '../data/table.js';
import { createServingApp } from './app.js';
import { createFallbackModel } from './fallback.js';
import { createModelHolder } from './model-holder.js';
import { createRecordValidator } from './record-validator.js';
import type { ServedModel } from './served-model.js';

// A hand-written model over a small schema: these tests are about the HTTP layer (routes, validation,
// errors, fallback, metrics); bundle-served.test.ts runs the same routes on a real trained bundle.
const schema: DatasetSchema = {
  name: 'toy',
  target: 'y',
  positiveLabel: '1',
  columns: [
    { name: 'student_id', type: 'id', role: 'id' },
    { name: 'score', type: 'numeric', role: 'feature', min: 0, max: 100 },
    { name: 'credits', type: 'integer', role: 'feature', min: 0, max: 600, nullable: false },
    { name: 'module', type: 'categorical', role: 'feature' },
    { name: 'gender', type: 'categorical', role: 'feature', allowed: ['F', 'M'] },
    { name: 'paid', type: 'boolean', role: 'feature', trueValues: ['Yes'], falseValues: ['No'] },
    { name: 'y', type: 'categorical', role: 'target' },
  ],
};

function toyModel(version: string, options: { throwOn?: string } = {}): ServedModel {
  const w = new Float64Array(3);
  return {
    identity: { name: 'toy', version, runId: `run-${version}`, uri: 'models:/toy@production' },
    fallback: false,
    threshold: 0.5,
    prior: 0.3,
    width: 3,
    featureNames: ['score', 'credits', 'paid'],
    schema,
    signature: { inputs: '[]' },
    metrics: { roc_auc: 0.8 },
    kind: 'toy',
    validator: createRecordValidator(schema),
    scoreRecord(r: RawRecord) {
      if (options.throwOn !== undefined && r.module === options.throwOn) throw new Error('boom');
      w[0] = typeof r.score === 'number' ? r.score : 50;
      w[1] = typeof r.credits === 'number' ? r.credits : Number(r.credits);
      w[2] = r.paid === 'Yes' || r.paid === true ? 1 : 0;
      return this.scoreVector(w);
    },
    scoreVector(v: Float64Array) {
      const z = (v[0]! - 50) / 10 + (v[1]! - 60) / 100 + (v[2]! ? 0.5 : 0);
      return 1 / (1 + Math.exp(-z));
    },
  };
}

const good = { student_id: 'x1', score: 80, credits: 60, module: 'AAA', gender: 'F', paid: 'Yes' };

async function appWith(
  model: ServedModel | null,
  extra: Parameters<typeof createServingApp>[0] extends infer O ? Partial<O> : never = {},
) {
  const holder = createModelHolder(model);
  const app = await createServingApp({ holder, ...extra });
  return { app, holder };
}

describe('serving routes', () => {
  test('/predict answers probability, label, threshold and the model', async () => {
    const { app } = await appWith(toyModel('3'));
    const res = await app.inject({ method: 'POST', url: '/predict', payload: good });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.ok(body.probability > 0.9 && body.probability < 1);
    assert.equal(body.label, 1);
    assert.equal(body.threshold, 0.5);
    assert.deepEqual(body.model, { name: 'toy', version: '3', run_id: 'run-3', fallback: false });
    const low = await app.inject({ method: 'POST', url: '/predict', payload: { ...good, score: 10 } });
    assert.equal(low.json().label, 0);
    await app.close();
  });

  test('validation: types, ranges, allowed values, NaN/Infinity, required, unknown fields -> 400 naming the field', async () => {
    const { app } = await appWith(toyModel('1'));
    const cases: Array<[unknown, string]> = [
      [{ ...good, score: 'abc' }, 'score'],
      [{ ...good, score: 101 }, 'score'],
      [{ ...good, credits: 1.5 }, 'credits'],
      [{ ...good, gender: 'X' }, 'gender'],
      [{ ...good, paid: 'maybe' }, 'paid'],
      [{ ...good, score: 'NaN' }, 'score'],
      [{ ...good, score: 'Infinity' }, 'score'],
      [{ ...good, credits: null }, 'credits'],
      [{ ...good, colour: 'red' }, 'colour'],
      [{ ...good, module: { nested: 1 } }, 'module'],
      [{ ...good, module: [1] }, 'module'],
    ];
    for (const [payload, field] of cases) {
      const res = await app.inject({ method: 'POST', url: '/predict', payload: payload as object });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      const body = res.json();
      assert.equal(body.error_code, 'INVALID_PARAMETER_VALUE');
      assert.match(body.message, new RegExp(`"${field}`), body.message);
    }
    // 1e999 parses to Infinity: refused too
    const inf = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json' },
      payload: '{"score": 1e999, "credits": 60}',
    });
    assert.equal(inf.statusCode, 400);
    assert.match(inf.json().message, /"score"/);
    // an unseen category of an open column is fine; missing optional fields are fine; numeric strings are read
    const ok = await app.inject({
      method: 'POST',
      url: '/predict',
      payload: { credits: '60', module: 'ZZZ-new' },
    });
    assert.equal(ok.statusCode, 200, ok.body);
    await app.close();
  });

  test('malformed JSON, wrong content type and unknown routes are 4xx in MLflow error form', async () => {
    const { app } = await appWith(toyModel('1'));
    const bad = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json' },
      payload: '{"score": ',
    });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error_code, 'MALFORMED_REQUEST');
    const text = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'text/plain' },
      payload: 'hi',
    });
    assert.equal(text.statusCode, 415, 'only JSON bodies: text/plain is an unsupported media type');
    const xml = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/xml' },
      payload: '<a/>',
    });
    assert.equal(xml.statusCode, 415);
    assert.ok(xml.json().error_code);
    const arr = await app.inject({ method: 'POST', url: '/predict', payload: [1, 2] as unknown as object });
    assert.equal(arr.statusCode, 400);
    const proto = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json' },
      payload: '{"__proto__": {"x": 1}, "credits": 60}',
    });
    assert.equal(proto.statusCode, 400);
    const none = await app.inject({ method: 'GET', url: '/nope' });
    assert.equal(none.statusCode, 404);
    assert.equal(none.json().error_code, 'ENDPOINT_NOT_FOUND');
    await app.close();
  });

  test('body over the size limit -> 413; batch over the cap -> 413', async () => {
    const { app } = await appWith(toyModel('1'), { bodyLimit: 2000, batchCap: 5 });
    const big = await app.inject({
      method: 'POST',
      url: '/predict',
      payload: { ...good, module: 'x'.repeat(3000) },
    });
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().error_code, 'REQUEST_TOO_LARGE');
    const many = await app.inject({
      method: 'POST',
      url: '/predict/batch',
      payload: Array(6).fill({ credits: 1 }),
    });
    assert.equal(many.statusCode, 413);
    assert.match(many.json().message, /cap of 5/);
    const ok = await app.inject({
      method: 'POST',
      url: '/predict/batch',
      payload: { records: Array(5).fill(good) },
    });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().predictions.length, 5);
    await app.close();
  });

  test('/predict/batch accepts an array or {records}, and names the bad record and field', async () => {
    const { app } = await appWith(toyModel('1'));
    const res = await app.inject({
      method: 'POST',
      url: '/predict/batch',
      payload: [good, { ...good, score: 10 }],
    });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(
      body.predictions.map((p: { label: number }) => p.label),
      [1, 0],
    );
    assert.equal(body.model.version, '1');
    const bad = await app.inject({
      method: 'POST',
      url: '/predict/batch',
      payload: { records: [good, { ...good, gender: 'Q' }] },
    });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().message, /records\[1\].*"gender"/);
    await app.close();
  });

  test('/invocations speaks all four MLflow input formats and answers {predictions}', async () => {
    const { app } = await appWith(toyModel('1'));
    const low = { ...good, score: 10 };
    const bodies = [
      { dataframe_split: { columns: Object.keys(good), data: [Object.values(good), Object.values(low)] } },
      { dataframe_records: [good, low] },
      { instances: [good, low] },
      { inputs: [good, low] },
      {
        inputs: Object.fromEntries(
          Object.keys(good).map((k) => [k, [good[k as keyof typeof good], low[k as keyof typeof low]]]),
        ),
      },
    ];
    for (const payload of bodies) {
      const res = await app.inject({ method: 'POST', url: '/invocations', payload });
      assert.equal(res.statusCode, 200, `${JSON.stringify(payload)} -> ${res.body}`);
      const preds = res.json().predictions;
      assert.equal(preds.length, 2);
      assert.deepEqual(
        preds.map((p: { label: number }) => p.label),
        [1, 0],
      );
    }
    const two = await app.inject({
      method: 'POST',
      url: '/invocations',
      payload: { instances: [good], inputs: [good] },
    });
    assert.equal(two.statusCode, 400);
    assert.match(two.json().message, /exactly one/);
    const ragged = await app.inject({
      method: 'POST',
      url: '/invocations',
      payload: { dataframe_split: { columns: ['score', 'credits'], data: [[1]] } },
    });
    assert.equal(ragged.statusCode, 400);
    await app.close();
  });

  test('vector input is padded or cut to the model width, says so, and is counted', async () => {
    const { app } = await appWith(toyModel('1'));
    const short = await app.inject({ method: 'POST', url: '/predict', payload: { features: [80] } });
    assert.equal(short.statusCode, 200, short.body);
    assert.deepEqual(short.json().padding, { expected: 3, received: 1, padded: 2, truncated: 0 });
    const long = await app.inject({
      method: 'POST',
      url: '/predict',
      payload: { features: [80, 60, 1, 7, 7] },
    });
    assert.deepEqual(long.json().padding, { expected: 3, received: 5, padded: 0, truncated: 2 });
    const mixed = await app.inject({ method: 'POST', url: '/predict', payload: { features: [1], score: 3 } });
    assert.equal(mixed.statusCode, 400);
    const notNumbers = await app.inject({ method: 'POST', url: '/predict', payload: { features: ['a'] } });
    assert.equal(notNumbers.statusCode, 400);
    const vec = await app.inject({
      method: 'POST',
      url: '/invocations',
      payload: { instances: [[80, 60, 1], [10]] },
    });
    assert.equal(vec.statusCode, 200);
    assert.deepEqual(
      vec.json().predictions.map((p: { label: number }) => p.label),
      [1, 0],
    );
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /tassel_serving_padding_total\{kind="padded"\} 2/);
    assert.match(metrics, /tassel_serving_padding_total\{kind="truncated"\} 1/);
    await app.close();
  });

  test('an inference error is answered by the prior, marked fallback with a reason, and counted', async () => {
    const { app } = await appWith(toyModel('1', { throwOn: 'BOOM' }), { logLevel: 'silent' });
    const res = await app.inject({ method: 'POST', url: '/predict', payload: { ...good, module: 'BOOM' } });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.probability, 0.3);
    assert.equal(body.label, 0);
    assert.equal(body.model.fallback, true);
    assert.match(body.model.reason, /inference error/);
    const next = await app.inject({ method: 'POST', url: '/predict', payload: good });
    assert.equal(next.json().model.fallback, false);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /tassel_serving_inference_errors_total 1/);
    assert.match(metrics, /tassel_serving_predictions_total\{label="0",fallback="true"\} 1/);
    await app.close();
  });

  test('health: loading (503), ok, degraded (200, or 503 with failReadyOnFallback); swap is reflected', async () => {
    const { app, holder } = await appWith(null);
    const loading = await app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(loading.statusCode, 503);
    assert.equal(loading.json().status, 'loading');
    assert.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200);
    const early = await app.inject({ method: 'POST', url: '/predict', payload: good });
    assert.equal(early.statusCode, 503);
    assert.equal(early.json().error_code, 'TEMPORARILY_UNAVAILABLE');

    holder.swap(
      createFallbackModel({
        reason: 'registry unreachable',
        prior: 0.7,
        identity: { name: 'toy', version: null, runId: null, uri: 'models:/toy@production' },
      }),
    );
    const degraded = await app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(degraded.statusCode, 200);
    assert.equal(degraded.json().status, 'degraded');
    assert.equal(degraded.json().reason, 'registry unreachable');
    const fb = await app.inject({ method: 'POST', url: '/predict', payload: { anything: 1 } });
    assert.equal(fb.statusCode, 200);
    assert.deepEqual(fb.json().model, {
      name: 'toy',
      version: null,
      run_id: null,
      fallback: true,
      reason: 'registry unreachable',
    });
    assert.equal(fb.json().probability, 0.7);
    assert.equal(fb.json().label, 1);
    let metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /tassel_serving_fallback_active 1/);

    holder.swap(toyModel('9'));
    const ok = await app.inject({ method: 'GET', url: '/health/ready' });
    assert.deepEqual(ok.json(), {
      status: 'ok',
      model: { name: 'toy', version: '9', run_id: 'run-9', fallback: false },
    });
    metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /tassel_serving_fallback_active 0/);
    assert.match(
      metrics,
      /tassel_serving_model_info\{name="toy",version="9",run_id="run-9",kind="toy",fallback="false"\} 1/,
    );
    await app.close();

    const strict = await appWith(
      createFallbackModel({
        reason: 'x',
        prior: 0.5,
        identity: { name: 't', version: null, runId: null, uri: 'u' },
      }),
      { failReadyOnFallback: true },
    );
    assert.equal((await strict.app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 503);
    await strict.app.close();
  });

  test('/model describes the model; /metrics counts requests by route and status; each app has its own registry', async () => {
    const a = await appWith(toyModel('4'));
    const b = await appWith(toyModel('5'));
    const model = (await a.app.inject({ method: 'GET', url: '/model' })).json();
    assert.equal(model.version, '4');
    assert.deepEqual(model.feature_names, ['score', 'credits', 'paid']);
    assert.deepEqual(model.metrics, { roc_auc: 0.8 });
    assert.ok(model.fields.some((f: { name: string }) => f.name === 'gender'));
    await a.app.inject({ method: 'POST', url: '/predict', payload: good });
    await a.app.inject({ method: 'POST', url: '/predict', payload: good });
    await a.app.inject({ method: 'POST', url: '/predict', payload: { bad: 1 } });
    const text = (await a.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(text, /tassel_serving_requests_total\{route="\/predict",method="POST",status="200"\} 2/);
    assert.match(text, /tassel_serving_requests_total\{route="\/predict",method="POST",status="400"\} 1/);
    assert.match(
      text,
      /tassel_serving_request_duration_seconds_count\{route="\/predict",method="POST",status="200"\} 2/,
    );
    assert.match(text, /tassel_serving_predictions_total\{label="1",fallback="false"\} 2/);
    const other = (await b.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.doesNotMatch(other, /route="\/predict"/);
    await a.app.close();
    await b.app.close();
  });

  test('OpenAPI document at /openapi.json describes the routes from the validating schemas; /docs serves Swagger UI', async () => {
    const { app } = await appWith(toyModel('1'));
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.equal(doc.openapi, '3.1.0');
    for (const path of [
      '/predict',
      '/predict/batch',
      '/invocations',
      '/health/ready',
      '/model',
      '/metrics',
    ]) {
      assert.ok(doc.paths[path], path);
    }
    const predict = doc.paths['/predict'].post;
    assert.ok(predict.requestBody.content['application/json'].schema.properties.features);
    assert.ok(predict.responses['200'].content['application/json'].schema.properties.probability);
    assert.ok(
      doc.paths['/invocations'].post.requestBody.content['application/json'].schema.properties
        .dataframe_split,
    );
    const ui = await app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(ui.statusCode, 200);
    assert.match(ui.body, /swagger/i);
    await app.close();
  });
});
