import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import YAML from 'yaml';
import type { DatasetSchema } from '../data/schema.js';
import { createTable, type RawRecord } from '../data/table.js';
import { defaultFeatureSpec, fitTransform, transformTable } from '../features/index.js';
import { loadBundle, saveBundle } from './bundle.js';
import { DummyClassifier } from './dummy.js';
import { LogisticRegression } from './logistic.js';

const schema: DatasetSchema = {
  name: 'toy',
  target: 'done',
  positiveLabel: 'yes',
  columns: [
    { name: 'sid', type: 'id', role: 'id', nullable: false },
    { name: 'hours', type: 'numeric', role: 'feature', min: 0, max: 100 },
    { name: 'visits', type: 'integer', role: 'feature', min: 0 },
    { name: 'city', type: 'categorical', role: 'feature' },
    { name: 'paid', type: 'boolean', role: 'feature' },
    { name: 'enrolled', type: 'date', role: 'feature', dateFormat: 'DMY' },
    { name: 'done', type: 'categorical', role: 'target', allowed: ['yes', 'no'] },
  ],
};

const n = 200;
const cities = ['Oslo', 'Lima', 'Pune', 'Kyiv'];
const hours = new Float64Array(n);
const visits = new Float64Array(n);
const paid = new Float64Array(n);
const enrolled = new Float64Array(n);
const city: (string | null)[] = [];
const y = new Uint8Array(n);
let seed = 7;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
for (let i = 0; i < n; i++) {
  hours[i] = i % 17 === 0 ? Number.NaN : Math.round(rnd() * 1000) / 10;
  visits[i] = Math.floor(rnd() * 30);
  paid[i] = rnd() < 0.5 ? 1 : 0;
  enrolled[i] = 19000 + Math.floor(rnd() * 400);
  city.push(i % 23 === 0 ? null : cities[Math.floor(rnd() * 4)]!);
  y[i] = rnd() < 0.2 + 0.006 * (Number.isNaN(hours[i]!) ? 50 : hours[i]!) ? 1 : 0;
}
const table = createTable({
  sid: Array.from({ length: n }, (_, i) => `S${i}`),
  hours,
  visits,
  city,
  paid,
  enrolled,
});
const ft = fitTransform(defaultFeatureSpec(schema), table, schema);
const X = transformTable(ft, table);
const model = new LogisticRegression({ C: 0.7 });
model.fit(X, y);

const root = mkdtempSync(join(tmpdir(), 'tassel-bundle-'));
after(() => rmSync(root, { recursive: true, force: true }));
const parts = {
  model,
  transform: ft,
  schema,
  threshold: 0.4,
  prior: 0.35,
  inputExample: [
    { sid: 'S0', hours: 1.5, visits: 3, city: 'Oslo', paid: true, enrolled: '01/02/2024' },
  ] as RawRecord[],
  metrics: { test: { roc_auc: 0.8 } },
};
const fixed = { createdAt: '2025-01-02T03:04:05.678Z', modelUuid: 'a'.repeat(32), runId: 'r1' };

describe('model bundle', () => {
  test('MLflow layout: MLmodel with tassel flavor, signature, run_id, time; model.json; input examples', async () => {
    const dir = join(root, 'layout');
    await saveBundle(dir, parts, fixed);
    assert.deepEqual(readdirSync(dir).sort(), [
      'MLmodel',
      'input_example.json',
      'model.json',
      'serving_input_example.json',
    ]);
    const ml = YAML.parse(readFileSync(join(dir, 'MLmodel'), 'utf8'));
    assert.equal(ml.flavors.tassel.format_version, 1);
    assert.equal(ml.flavors.tassel.model_kind, 'logistic');
    assert.equal(ml.run_id, 'r1');
    assert.equal(ml.model_uuid, 'a'.repeat(32));
    assert.equal(ml.utc_time_created, '2025-01-02 03:04:05.678000');
    assert.equal(ml.mlflow_version, undefined);
    // quoted, so YAML 1.1 readers (PyYAML in MLflow) keep it a string rather than a datetime
    assert.match(
      readFileSync(join(dir, 'MLmodel'), 'utf8'),
      /^utc_time_created: '2025-01-02 03:04:05\.678000'$/m,
    );
    const inputs = JSON.parse(ml.signature.inputs);
    assert.deepEqual(
      inputs.map((c: { name: string; type: string }) => `${c.name}:${c.type}`),
      ['sid:string', 'hours:double', 'visits:long', 'city:string', 'paid:boolean', 'enrolled:datetime'],
    );
    assert.match(ml.signature.outputs, /"name": "probability"/);
    const serving = JSON.parse(readFileSync(join(dir, 'serving_input_example.json'), 'utf8'));
    assert.deepEqual(serving.dataframe_split.columns, ['sid', 'hours', 'visits', 'city', 'paid', 'enrolled']);
  });

  test('save -> load -> identical predictions (table, records, hot path, vector)', async () => {
    const dir = join(root, 'roundtrip');
    await saveBundle(dir, parts, fixed);
    const b = await loadBundle(dir);
    assert.equal(b.kind, 'logistic');
    assert.equal(b.threshold, 0.4);
    assert.equal(b.prior, 0.35);
    assert.equal(b.width, ft.width);
    assert.deepEqual(b.featureNames, ft.feature_names);
    const expected = model.predictProba(X);
    assert.deepEqual(b.predictTable(table), expected);
    const records: RawRecord[] = [
      { sid: 'S1', hours: '12.5', visits: '3', city: 'Lima', paid: 'yes', enrolled: '15/03/2024' },
      { sid: 'S2', hours: null, visits: 0, city: 'Atlantis', paid: 'no', enrolled: null },
    ];
    const viaRecords = b.predictRecords(records);
    records.forEach((r, i) => {
      const hot = b.scoreRecord(r);
      assert.ok(
        Math.abs(hot - viaRecords[i]!.probability) < 1e-15,
        `record ${i}: ${hot} vs ${viaRecords[i]!.probability}`,
      );
      assert.equal(viaRecords[i]!.label, viaRecords[i]!.probability >= 0.4 ? 1 : 0);
    });
    const row = X.data.slice(0, X.cols);
    const v = b.predictVector(Array.from(row));
    assert.equal(v.probability, expected[0]);
    assert.deepEqual(v.padding, { expected: X.cols, received: X.cols, padded: 0, truncated: 0 });
    const short = b.predictVector([1]);
    assert.equal(short.padding.padded, X.cols - 1);
  });

  test('invalid records fail naming row and column', async () => {
    const dir = join(root, 'invalid');
    await saveBundle(dir, parts, fixed);
    const b = await loadBundle(dir);
    assert.throws(
      () =>
        b.predictRecords(
          [
            { sid: 'a', hours: 1 },
            { sid: 'b', hours: 'lots' },
          ],
          'request',
        ),
      (e: Error) => /row 2, column hours/.test(e.message) && e.name === 'DataValidationError',
    );
  });

  test('same inputs and options -> byte-identical files', async () => {
    const a = join(root, 'det-a');
    const c = join(root, 'det-b');
    await saveBundle(a, parts, fixed);
    await saveBundle(c, parts, fixed);
    for (const f of readdirSync(a))
      assert.equal(readFileSync(join(a, f), 'utf8'), readFileSync(join(c, f), 'utf8'), f);
    const d = join(root, 'det-c');
    await saveBundle(d, parts, { ...fixed, modelUuid: 'b'.repeat(32) });
    assert.notEqual(readFileSync(join(a, 'MLmodel'), 'utf8'), readFileSync(join(d, 'MLmodel'), 'utf8'));
    assert.equal(readFileSync(join(a, 'model.json'), 'utf8'), readFileSync(join(d, 'model.json'), 'utf8'));
  });

  test('a dummy model round-trips too', async () => {
    const dir = join(root, 'dummy');
    const m = new DummyClassifier();
    m.fit(X, y);
    await saveBundle(dir, { ...parts, model: m });
    const b = await loadBundle(dir);
    assert.equal(b.scoreRecord({}), m.prior);
  });

  test('damaged, missing or too-new bundles give clear errors', async () => {
    const dir = join(root, 'damaged');
    await saveBundle(dir, parts, fixed);
    const good = readFileSync(join(dir, 'model.json'), 'utf8');
    writeFileSync(join(dir, 'model.json'), good.slice(0, good.length / 2));
    await assert.rejects(loadBundle(dir), new RegExp(`model.json in ${dir} is not valid JSON`));

    const j = JSON.parse(good);
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...j, format_version: 3 }));
    await assert.rejects(
      loadBundle(dir),
      /bundle format 3\.x .* is newer than this Tassel \(supports 2\.x\)/,
    );

    writeFileSync(
      join(dir, 'model.json'),
      JSON.stringify({ ...j, estimator: { ...j.estimator, kind: 'quantum' } }),
    );
    await assert.rejects(loadBundle(dir), /estimator: Unknown model kind "quantum"; known kinds: .*logistic/);

    writeFileSync(
      join(dir, 'model.json'),
      JSON.stringify({ ...j, estimator: { ...j.estimator, coef: 'oops' } }),
    );
    await assert.rejects(
      loadBundle(dir),
      /model.json in .*: estimator: logistic model JSON: coef must be an array/,
    );

    writeFileSync(
      join(dir, 'model.json'),
      JSON.stringify({ ...j, estimator: { ...j.estimator, coef: [1, 2] } }),
    );
    await assert.rejects(loadBundle(dir), /the estimator expects 2 features but the transform makes \d+/);

    writeFileSync(join(dir, 'model.json'), good);
    const ml = readFileSync(join(dir, 'MLmodel'), 'utf8');
    writeFileSync(join(dir, 'MLmodel'), ml.replace('format_version: 1', 'format_version: 3.2'));
    await assert.rejects(
      loadBundle(dir),
      /bundle format 3\.x \(MLmodel in .*\) is newer than this Tassel \(supports 2\.x\)/,
    );
    writeFileSync(join(dir, 'MLmodel'), 'flavors: [unclosed');
    await assert.rejects(loadBundle(dir), /MLmodel in .* is not valid YAML/);
    writeFileSync(join(dir, 'MLmodel'), ml);
    unlinkSync(join(dir, 'model.json'));
    await assert.rejects(loadBundle(dir), /model.json is missing from the model bundle/);
    await assert.rejects(loadBundle(join(root, 'nope')), /model bundle .*nope does not exist/);
    await assert.rejects(loadBundle(root), /is not a model bundle: it has no MLmodel file/);
  });
});
