import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DatasetSchema } from '../data/schema.js';
import { createTable, type RawRecord, type Table } from '../data/table.js';
import { createFieldGrouper } from '../features/field-groups.js';
import { defaultFeatureSpec, fitTransform, transformRecords, transformTable } from '../features/index.js';
import { DummyClassifier } from './dummy.js';
import { createModelExplainer, logit } from './explain.js';
import { GbdtClassifier } from './gbdt/gbdt-classifier.js';
import { LogisticRegression } from './logistic.js';
import { createRecordExplainer } from './record-explainer.js';

const schema: DatasetSchema = {
  name: 'explain',
  target: 'y',
  positiveLabel: '1',
  columns: [
    { name: 'score', type: 'numeric', role: 'feature' },
    { name: 'gender', type: 'categorical', role: 'feature' },
    { name: 'region', type: 'categorical', role: 'feature' },
    { name: 'start', type: 'date', role: 'feature' },
    { name: 'y', type: 'categorical', role: 'target' },
  ],
};

function data(n: number): { table: Table; y: Uint8Array } {
  const score = new Float64Array(n);
  const start = new Float64Array(n);
  const gender: (string | null)[] = [];
  const region: (string | null)[] = [];
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    score[i] = i % 17 === 0 ? Number.NaN : (i * 37) % 100;
    start[i] = 19000 + ((i * 13) % 90);
    gender.push(i % 3 === 0 ? 'F' : i % 11 === 0 ? null : 'M');
    region.push(['North', 'South', 'East', 'West', 'Wales'][(i * 7) % 5]!);
    const z =
      0.04 * ((score[i]! || 50) - 50) + (gender[i] === 'F' ? 0.8 : 0) + (region[i] === 'Wales' ? -1 : 0);
    y[i] = (i * 0.618) % 1 < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return { table: createTable({ score, gender, region, start, y: Array.from(y, String) }), y };
}

const record: RawRecord = { score: 71, gender: 'F', region: 'Wales', start: '2022-03-05' };

describe('linear SHAP for logistic regression', () => {
  const { table, y } = data(400);
  const ft = fitTransform(defaultFeatureSpec(schema, { preset: 'linear' }), table, schema);
  const X = transformTable(ft, table);
  const model = new LogisticRegression({ C: 1 });
  model.fit(X, y);
  const explainer = createModelExplainer(model, { featureMeans: ft.output_mean });
  const row = transformRecords(ft, [record]).data;
  const out = new Float64Array(explainer.width);
  const margin = explainer.explain(row, out);

  test('the fitted transform stores each output column’s training mean', () => {
    for (let j = 0; j < X.cols; j++) {
      let s = 0;
      for (let i = 0; i < X.rows; i++) s += X.data[i * X.cols + j]!;
      assert.ok(Math.abs(ft.output_mean![j]! - s / X.rows) < 1e-12, `column ${ft.feature_names[j]}`);
    }
  });

  test('contribution j = coef_j (x_j - mean_j); base + sum = the margin = logit of the probability', () => {
    let sum = 0;
    for (let j = 0; j < out.length; j++) {
      assert.ok(Math.abs(out[j]! - model.coef[j]! * (row[j]! - ft.output_mean![j]!)) < 1e-12);
      sum += out[j]!;
    }
    assert.equal(explainer.method, 'linear_shap');
    assert.ok(Math.abs(explainer.baseValue + sum - margin) < 1e-10);
    assert.ok(Math.abs(margin - logit(model.predictOne(row))) < 1e-9);
  });

  test('one-hot columns group to one number per field: coef . (onehot(x) - category shares)', () => {
    const grouper = createFieldGrouper(ft);
    assert.deepEqual(grouper.fields, ['score', 'gender', 'region', 'start']);
    const fields = grouper.group(out, new Float64Array(4));
    // closed form for gender: sum over its categories of coef_k * (1[x = k] - share of k in training)
    let closed = 0;
    const rows = table.nRows;
    ft.feature_names.forEach((name, j) => {
      if (!name.startsWith('gender=')) return;
      const k = name.slice('gender='.length);
      const share =
        (table.columns.gender as (string | null)[]).filter((g) => (g ?? '__NA__') === k).length / rows;
      closed += model.coef[j]! * ((k === 'F' ? 1 : 0) - share);
    });
    assert.ok(Math.abs(fields[1]! - closed) < 1e-12, `${fields[1]} vs ${closed}`);
    // date parts (days, dow, month) come back as one field
    const dateCols = ft.feature_names.flatMap((n, j) => (n.startsWith('start__') ? [j] : []));
    assert.equal(dateCols.length, 3);
    assert.ok(Math.abs(fields[3]! - dateCols.reduce((s, j) => s + out[j]!, 0)) < 1e-15);
    let total = 0;
    for (const v of fields) total += v;
    assert.ok(Math.abs(explainer.baseValue + total - margin) < 1e-10);
  });

  test('interactions: none off the diagonal (a linear margin), the contributions on it; grouped, the same', () => {
    const m = explainer.interactions(row);
    const w = explainer.width;
    for (let i = 0; i < w; i++) {
      for (let k = 0; k < w; k++) assert.equal(m[i * w + k], i === k ? out[i] : 0);
    }
    const fi = createRecordExplainer({ model, transform: ft }).fieldInteractions(row, record);
    const grouped = createFieldGrouper(ft).group(out, new Float64Array(4));
    assert.deepEqual(fi.fields, ['score', 'gender', 'region', 'start']);
    for (let a = 0; a < 4; a++) {
      for (let b = 0; b < 4; b++) {
        const want = a === b ? grouped[a]! : 0;
        assert.ok(Math.abs(fi.values[a]![b]! - want) < 1e-12, `${a},${b}`);
      }
    }
  });

  test('a transform without stored means is refused with the reason', () => {
    assert.throws(() => createModelExplainer(model, {}), /output_mean/);
  });
});

describe('TreeSHAP through the model explainer, grouped to raw fields', () => {
  test('a GBDT over one-hot and own-block hashed columns: field values sum to the margin', async () => {
    const { table, y } = data(600);
    const spec = defaultFeatureSpec(schema, { preset: 'tree' });
    spec.columns.region = { kind: 'categorical', encoding: 'hash', nFeatures: 8 };
    const ft = fitTransform(spec, table, schema);
    const X = transformTable(ft, table);
    const model = new GbdtClassifier({ n_estimators: 20, max_depth: 4, seed: 1 });
    await model.fit(X, y);
    const explainer = createModelExplainer(model);
    const grouper = createFieldGrouper(ft);
    const out = new Float64Array(explainer.width);
    const fields = new Float64Array(grouper.fields.length);
    for (const r of [record, { score: null, gender: null, region: 'Mars', start: null }]) {
      const row = transformRecords(ft, [r]).data;
      const margin = explainer.explain(row, out);
      assert.ok(Math.abs(margin - model.marginOne(row)) < 1e-12);
      grouper.group(out, fields);
      const total = fields.reduce((s, v) => s + v, explainer.baseValue);
      // the margin is summed in float32 as XGBoost sums it; the contributions add up to the float64 sum
      const slack = model.ensemble.float32Slack(row) + 1e-9;
      assert.ok(Math.abs(total - margin) <= slack, `${total} vs ${margin}`);
    }
  });
});

describe('shared hashed block grouping', () => {
  test('a bucket goes to the fields whose token hit it; other buckets are shared; the total is kept', () => {
    const { table } = data(50);
    const ft = fitTransform(
      defaultFeatureSpec(schema, {
        preset: 'linear',
        hashCategoricals: { nFeatures: 16, alternateSign: false },
      }),
      table,
      schema,
    );
    const grouper = createFieldGrouper(ft);
    assert.equal(grouper.sharedFields, 2);
    const slots = grouper.slotsOfRecord(record, new Int32Array(2));
    const encoded = new Float64Array(ft.width);
    const block = ft.hashing!;
    for (let s = 0; s < block.n_features; s++) encoded[block.offset + s] = 0.01 * (s + 1);
    const fields = grouper.group(encoded, new Float64Array(4), slots);
    const gi = grouper.fields.indexOf('gender');
    const ri = grouper.fields.indexOf('region');
    let unhit = 0;
    for (let s = 0; s < 16; s++) if (s !== slots[0] && s !== slots[1]) unhit += 0.01 * (s + 1);
    const own = (k: number) =>
      slots[0] === slots[1] ? (0.01 * (slots[k]! + 1)) / 2 : 0.01 * (slots[k]! + 1);
    assert.ok(Math.abs(fields[gi]! - (own(0) + unhit / 2)) < 1e-12);
    assert.ok(Math.abs(fields[ri]! - (own(1) + unhit / 2)) < 1e-12);
    assert.ok(Math.abs(fields[gi]! + fields[ri]! - encoded.reduce((s, v) => s + v, 0)) < 1e-12);
    // the table form gives the same slots as the record form
    const tableSlots = grouper.slotsOfTable(table);
    const first: RawRecord = { gender: table.columns.gender![0], region: table.columns.region![0] };
    assert.deepEqual(
      Array.from(tableSlots.subarray(0, 2)),
      Array.from(grouper.slotsOfRecord(first, new Int32Array(2))),
    );
  });
});

describe('the dummy model', () => {
  test('no feature contributes; the base value is the prior as a margin', () => {
    const m = new DummyClassifier();
    m.fit({ data: new Float64Array(0), rows: 4, cols: 0 }, Uint8Array.from([1, 1, 1, 0]));
    const e = createModelExplainer(m);
    assert.equal(e.method, 'constant');
    assert.ok(Math.abs(e.baseValue - Math.log(3)) < 1e-12);
    assert.equal(e.explain(new Float64Array(0), new Float64Array(0)), e.baseValue);
  });
});
