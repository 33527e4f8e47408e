import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { GbdtClassifier } from '../ml/gbdt/gbdt-classifier.js';
import { createServingApp } from './app.js';
import { createFallbackModel } from './fallback.js';
import { createModelHolder } from './model-holder.js';
import { trainTestModel, type TrainedTestModel } from './testing.js';

interface Explained {
  method: string;
  base_value: number;
  base_probability: number;
  margin: number;
  contributions: Record<string, number>;
  top: { field: string; contribution: number; probability_delta: number; value: unknown }[];
  note?: string;
}

const sum = (o: Record<string, number>) => Object.values(o).reduce((s, v) => s + v, 0);

function assertConsistent(
  e: Explained,
  probability: number,
  fields: readonly string[],
  model: GbdtClassifier,
): void {
  assert.equal(e.method, 'tree_shap');
  assert.deepEqual(Object.keys(e.contributions).sort(), [...fields].sort());
  // the margin is summed in float32 as XGBoost sums it, the contributions add up to the float64 sum
  const slack = model.ensemble.float32Slack() + 1e-9;
  assert.ok(
    Math.abs(e.base_value + sum(e.contributions) - e.margin) <= slack,
    'base + contributions = margin',
  );
  assert.equal(model.probabilityOf(e.margin), probability, "the model's probability of the margin");
  for (let k = 1; k < e.top.length; k++) {
    assert.ok(Math.abs(e.top[k - 1]!.contribution) >= Math.abs(e.top[k]!.contribution), 'top is sorted');
  }
  for (const t of e.top) {
    assert.equal(t.contribution, e.contributions[t.field]);
    assert.equal(t.probability_delta, probability - model.probabilityOf(e.margin - t.contribution));
  }
}

describe('explanations over HTTP (a real GBDT on the course-completion data)', () => {
  let trained: TrainedTestModel;
  let app: FastifyInstance;
  let fields: string[];
  before(async () => {
    trained = await trainTestModel({ trees: 15 });
    fields = trained.transform.columns.map((c) => c.name);
    app = await createServingApp({ holder: createModelHolder(trained.served()) });
  });
  after(() => app.close());

  test('/predict: no explanation unless asked; ?explain=true adds one that adds up to the prediction', async () => {
    const record = trained.records[3]!;
    const plain = await app.inject({ method: 'POST', url: '/predict', payload: record });
    assert.equal(plain.statusCode, 200);
    assert.equal(plain.json().explanation, undefined);
    const res = await app.inject({ method: 'POST', url: '/predict?explain=true&top=3', payload: record });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    const { explanation: _, ...rest } = body;
    assert.deepEqual(rest, plain.json(), 'the prediction part is the plain response');
    assertConsistent(body.explanation, body.probability, fields, trained.model);
    assert.equal(body.explanation.top.length, 3);
    assert.equal(body.explanation.top[0].value, record[body.explanation.top[0].field] ?? null);
    // one-hot columns are summed back: a categorical field has one number
    assert.ok(trained.transform.feature_names.some((n) => n.startsWith('Gender=')));
    assert.equal(typeof body.explanation.contributions.Gender, 'number');
  });

  test('a served model explains the record it has just scored from that scoring (same values, exact probability)', () => {
    const served = trained.served();
    for (const record of trained.records.slice(0, 30)) {
      const fresh = served.explainRecord!(record, 5);
      const p = served.scoreRecord(record);
      const reused = served.explainRecord!(record, 5);
      assert.deepEqual(reused, fresh);
      assert.equal(
        trained.model.probabilityOf(reused.margin),
        p,
        'the margin is the one the probability came from',
      );
      // another record scored in between: its own encoding, not the last one's
      served.scoreRecord(trained.records[40]!);
      assert.deepEqual(served.explainRecord!(record, 5), fresh);
    }
  });

  test('/predict/batch?explain=true explains every record as /predict does; /explain adds the summary', async () => {
    const records = trained.records.slice(0, 20);
    const batch = await app.inject({ method: 'POST', url: '/predict/batch?explain=1', payload: { records } });
    assert.equal(batch.statusCode, 200);
    const preds = batch.json().predictions;
    const one = await app.inject({ method: 'POST', url: '/predict?explain=true', payload: records[7] });
    assert.deepEqual(preds[7].explanation, one.json().explanation);
    for (const p of preds) assertConsistent(p.explanation, p.probability, fields, trained.model);
    const plain = await app.inject({ method: 'POST', url: '/predict/batch', payload: records });
    assert.equal(plain.json().predictions[0].explanation, undefined);

    const ex = await app.inject({ method: 'POST', url: '/explain?top=2', payload: records });
    assert.equal(ex.statusCode, 200);
    const body = ex.json();
    assert.equal(body.explanations.length, 20);
    assert.equal(body.explanations[0].explanation.top.length, 2);
    const f = body.summary.features;
    assert.equal(f.length, fields.length);
    for (let k = 1; k < f.length; k++) assert.ok(f[k - 1].mean_abs >= f[k].mean_abs);
    const genderMeanAbs =
      preds.reduce(
        (s: number, p: { explanation: Explained }) => s + Math.abs(p.explanation.contributions.Gender!),
        0,
      ) / 20;
    assert.ok(
      Math.abs(f.find((x: { field: string }) => x.field === 'Gender').mean_abs - genderMeanAbs) < 1e-12,
    );
  });

  test('?explain=encoded adds the encoded columns, ?explain=interactions field interactions that add up', async () => {
    const record = trained.records[4]!;
    const plain = (
      await app.inject({ method: 'POST', url: '/predict?explain=true', payload: record })
    ).json();
    assert.equal(plain.explanation.encoded, undefined);
    assert.equal(plain.explanation.interactions, undefined);

    const enc = await app.inject({ method: 'POST', url: '/predict?explain=encoded', payload: record });
    assert.equal(enc.statusCode, 200);
    const e = enc.json().explanation;
    assert.deepEqual(e.contributions, plain.explanation.contributions, 'the field view is unchanged');
    assert.deepEqual(Object.keys(e.encoded), trained.transform.feature_names);
    assert.ok(Math.abs(sum(e.encoded) - sum(e.contributions)) < 1e-9);
    // a one-hot field's number is the sum of its category columns
    const gender = Object.entries(e.encoded as Record<string, number>).filter(([k]) =>
      k.startsWith('Gender='),
    );
    assert.ok(gender.length >= 2);
    assert.ok(Math.abs(gender.reduce((t, [, v]) => t + v, 0) - e.contributions.Gender) < 1e-12);
    assert.equal(e.interactions, undefined);

    const res = await app.inject({ method: 'POST', url: '/predict?explain=interactions', payload: record });
    assert.equal(res.statusCode, 200);
    const x = res.json().explanation;
    assertConsistent(x, res.json().probability, fields, trained.model);
    const { fields: order, values } = x.interactions as { fields: string[]; values: number[][] };
    assert.deepEqual(order, Object.keys(x.contributions));
    assert.equal(values.length, order.length);
    let offDiagonal = 0;
    order.forEach((a, i) => {
      const row = values[i]!;
      assert.equal(row.length, order.length);
      const total = row.reduce((t, v) => t + v, 0);
      assert.ok(Math.abs(total - x.contributions[a]) < 1e-9, `row ${a} sums to its contribution`);
      row.forEach((v, k) => {
        assert.ok(Math.abs(v - values[k]![i]!) < 1e-9, `symmetric at ${a}, ${order[k]}`);
        if (k !== i) offDiagonal = Math.max(offDiagonal, Math.abs(v));
      });
    });
    assert.ok(offDiagonal > 1e-6, 'a 15-tree GBDT has interactions between fields');

    const both = await app.inject({
      method: 'POST',
      url: '/predict/batch?explain=encoded,interactions',
      payload: [record, trained.records[5]],
    });
    assert.equal(both.statusCode, 200);
    const first = both.json().predictions[0].explanation;
    assert.deepEqual(first.encoded, e.encoded);
    assert.deepEqual(first.interactions, x.interactions);
    const ex = await app.inject({ method: 'POST', url: '/explain?explain=interactions', payload: [record] });
    assert.deepEqual(ex.json().explanations[0].explanation.interactions, x.interactions);
    // interaction values are costly: a bounded number of records per request, said before any work
    for (const url of ['/predict/batch?explain=interactions', '/explain?explain=encoded,interactions']) {
      const big = await app.inject({ method: 'POST', url, payload: trained.records.slice(0, 17) });
      assert.equal(big.statusCode, 413, url);
      assert.match(big.json().message, /limited to 16 records/);
    }
    const encodedBatch = await app.inject({
      method: 'POST',
      url: '/predict/batch?explain=encoded',
      payload: trained.records.slice(0, 17),
    });
    assert.equal(encodedBatch.statusCode, 200);
  });

  test('bad input: a bad explain or top value, a vector with explain, an invalid record -> 400, nothing explained', async () => {
    const record = trained.records[0]!;
    for (const url of [
      '/predict?explain=yes',
      '/predict?explain=interaction',
      '/predict?explain=true&top=-1',
      '/predict?top=abc',
    ]) {
      const res = await app.inject({ method: 'POST', url, payload: record });
      assert.equal(res.statusCode, 400, url);
      assert.equal(res.json().error_code, 'INVALID_PARAMETER_VALUE');
    }
    const vec = await app.inject({
      method: 'POST',
      url: '/predict?explain=true',
      payload: { features: [1, 2] },
    });
    assert.equal(vec.statusCode, 400);
    assert.match(vec.json().message, /named fields/);
    const bad = await app.inject({
      method: 'POST',
      url: '/explain',
      payload: [record, { ...record, Gender: 7 }],
    });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().message, /Gender/);
  });

  test('the fast lane hands explained requests to the route (listening server)', async () => {
    const lane = await createServingApp({ holder: createModelHolder(trained.served()) });
    const base = await lane.listen({ port: 0, host: '127.0.0.1' });
    try {
      const post = (url: string) =>
        fetch(base + url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(trained.records[5]),
        }).then((r) => r.json() as Promise<{ probability: number; explanation?: Explained }>);
      const plain = await post('/predict');
      const explained = await post('/predict?explain=true');
      assert.equal(plain.explanation, undefined);
      assertConsistent(explained.explanation!, explained.probability, fields, trained.model);
    } finally {
      await lane.close();
    }
  });

  test('/openapi.json documents /explain and the explain parameter and response', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.ok(doc.paths['/explain'].post);
    const params = doc.paths['/predict'].post.parameters.map((p: { name: string }) => p.name);
    assert.deepEqual(params.sort(), ['explain', 'top']);
    const schema = JSON.stringify(doc.paths['/predict'].post.responses['200']);
    assert.match(schema, /base_value/);
    assert.match(schema, /probability_delta/);
    assert.match(schema, /pred_interactions/);
    assert.match(schema, /"encoded"/);
    const explain = doc.paths['/predict'].post.parameters.find((p: { name: string }) => p.name === 'explain');
    assert.match(JSON.stringify(explain), /interactions/);
    assert.ok(doc.paths['/explain'].post.parameters.some((p: { name: string }) => p.name === 'explain'));
  });
});

describe('explanations when the model cannot give them', () => {
  test('the fallback prior answers with the prior’s explanation: base = logit(prior), no field contributes', async () => {
    const trained = await trainTestModel({ trees: 3, rows: 200 });
    const fallback = createFallbackModel({
      reason: 'registry unreachable',
      prior: 0.25,
      identity: { name: 'course-completion', version: null, runId: null, uri: 'models:/x@production' },
      schema: trained.served().schema,
    });
    const app = await createServingApp({ holder: createModelHolder(fallback) });
    const res = await app.inject({
      method: 'POST',
      url: '/predict?explain=true',
      payload: trained.records[0],
    });
    assert.equal(res.statusCode, 200);
    const e = res.json().explanation as Explained;
    assert.equal(e.method, 'constant');
    assert.ok(Math.abs(e.base_value - Math.log(0.25 / 0.75)) < 1e-12);
    assert.equal(e.margin, e.base_value);
    assert.equal(sum(e.contributions), 0);
    assert.ok(Object.keys(e.contributions).length > 3);
    assert.deepEqual(e.top, []);
    assert.match(e.note!, /fallback prior answered \(registry unreachable\)/);
    const views = await app.inject({
      method: 'POST',
      url: '/predict?explain=encoded,interactions',
      payload: trained.records[0],
    });
    const v = views.json().explanation;
    assert.deepEqual(v.encoded, {});
    assert.deepEqual(v.interactions.fields, Object.keys(e.contributions));
    assert.ok(v.interactions.values.flat().every((x: number) => x === 0));
    await app.close();
  });

  test('a model that throws on a record: the prior answered, and the explanation says so', async () => {
    const trained = await trainTestModel({ trees: 3, rows: 200 });
    const real = trained.served();
    const broken = {
      ...real,
      scoreRecord: () => {
        throw new Error('boom');
      },
    };
    const app = await createServingApp({ holder: createModelHolder(broken) });
    const res = await app.inject({
      method: 'POST',
      url: '/predict?explain=true',
      payload: trained.records[0],
    });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.model.fallback, true);
    assert.equal(body.explanation.method, 'constant');
    assert.match(body.explanation.note, /model failed on this record/);
    await app.close();
  });

  test('a model kind without explanations says why not (501), and plain predictions still work', async () => {
    const trained = await trainTestModel({ trees: 3, rows: 200 });
    const { explainRecord: _, ...noExplain } = trained.served();
    const app = await createServingApp({ holder: createModelHolder(noExplain) });
    const res = await app.inject({
      method: 'POST',
      url: '/predict?explain=true',
      payload: trained.records[0],
    });
    assert.equal(res.statusCode, 501);
    assert.equal(res.json().error_code, 'NOT_IMPLEMENTED');
    assert.match(res.json().message, /offers no explanations/);
    const plain = await app.inject({ method: 'POST', url: '/predict', payload: trained.records[0] });
    assert.equal(plain.statusCode, 200);
    await app.close();
  });
});
