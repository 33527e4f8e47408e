import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { transformRecords } from '../features/transform.js';
import { createServingApp } from './app.js';
import { createModelHolder } from './model-holder.js';
import { type TrainedTestModel, trainTestModel } from './testing.js';

// The routes on a real GBDT trained on generated course-completion data with the real feature transform.
describe('serving a real GBDT model', () => {
  let trained: TrainedTestModel;
  let app: FastifyInstance;

  before(async () => {
    trained = await trainTestModel({ rows: 600, trees: 20 });
    app = await createServingApp({ holder: createModelHolder(trained.served()) });
  });
  after(async () => {
    await app?.close();
  });

  test('/predict, /predict/batch and /invocations agree with the model scored in batch', async () => {
    const records = trained.records.slice(0, 40);
    const expected = trained.model.predictProba(transformRecords(trained.transform, records));
    const batch = await app.inject({ method: 'POST', url: '/predict/batch', payload: { records } });
    assert.equal(batch.statusCode, 200, batch.body);
    const got = batch.json().predictions as { probability: number; label: number }[];
    assert.equal(got.length, 40);
    let positives = 0;
    for (let i = 0; i < 40; i++) {
      assert.ok(Math.abs(got[i]!.probability - expected[i]!) < 1e-12, `record ${i}`);
      assert.equal(got[i]!.label, expected[i]! >= 0.5 ? 1 : 0);
      positives += got[i]!.label;
    }
    assert.ok(positives > 0 && positives < 40, 'the model separates the records');
    for (const i of [0, 7, 19]) {
      const one = await app.inject({ method: 'POST', url: '/predict', payload: records[i]! });
      assert.equal(one.statusCode, 200);
      assert.ok(Math.abs(one.json().probability - expected[i]!) < 1e-12);
      assert.deepEqual(one.json().model, {
        name: 'course-completion',
        version: '1',
        run_id: 'run-1',
        fallback: false,
      });
    }
    const columns = Object.keys(records[0]!);
    const inv = await app.inject({
      method: 'POST',
      url: '/invocations',
      payload: {
        dataframe_split: { columns, data: records.slice(0, 3).map((r) => columns.map((c) => r[c] as never)) },
      },
    });
    assert.equal(inv.statusCode, 200, inv.body);
    assert.ok(Math.abs(inv.json().predictions[2].probability - expected[2]!) < 1e-12);
  });

  test("the model's signature drives validation; unseen open categories are scored as in training", async () => {
    const r = trained.records[0]!;
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...r, Gender: 'Robot' }, /"Gender".*one of/],
      [{ ...r, Age: 7 }, /"Age".*\[14, 90\]/],
      [{ ...r, Age: 30.5 }, /"Age".*integer/],
      [{ ...r, Enrollment_Date: '2024-31-12' }, /"Enrollment_Date"/],
      [{ ...r, Fee_Paid: 'perhaps' }, /"Fee_Paid"/],
      [{ ...r, Shoe_Size: 42 }, /"Shoe_Size" is not an input/],
    ];
    for (const [payload, message] of bad) {
      const res = await app.inject({ method: 'POST', url: '/predict', payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.equal(res.json().error_code, 'INVALID_PARAMETER_VALUE');
      assert.match(res.json().message, message);
    }
    const unseen = await app.inject({
      method: 'POST',
      url: '/predict',
      payload: { ...r, City: 'Atlantis', Course_ID: 'ZZ999' },
    });
    assert.equal(unseen.statusCode, 200);
    const expected = trained.model.predictProba(
      transformRecords(trained.transform, [{ ...r, City: 'Atlantis', Course_ID: 'ZZ999' }]),
    );
    assert.ok(Math.abs(unseen.json().probability - expected[0]!) < 1e-12);
    // identifiers and the target are known fields: accepted, not scored
    const withId = await app.inject({
      method: 'POST',
      url: '/predict',
      payload: { ...r, Student_ID: 'S-1', Completed: 'Completed' },
    });
    assert.equal(withId.statusCode, 200);
  });

  test('vector input pads to the transform width', async () => {
    const width = trained.transform.width;
    const res = await app.inject({ method: 'POST', url: '/predict', payload: { features: [1, 2, 3] } });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json().padding, { expected: width, received: 3, padded: width - 3, truncated: 0 });
    const model = (await app.inject({ method: 'GET', url: '/model' })).json();
    assert.equal(model.width, width);
    assert.equal(model.kind, 'gbdt');
    assert.equal(model.feature_names.length, width);
  });
});
