import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { DatasetSchema } from '../data/schema.js';
import { createTable, type RawRecord, type Table } from '../data/table.js';
import {
  createRecordEncoder,
  defaultFeatureSpec,
  featureNames,
  fittedTransformFromJSON,
  fitTransform,
  hashSlot,
  padVector,
  parseDateToDays,
  transformRecords,
  transformTable,
} from './index.js';

interface TransformFixture {
  train: Record<string, (number | string | null)[]>;
  test: Record<string, (number | string | null)[]>;
  onehot_categories: string[][];
  onehot_train_first20: number[][];
  onehot_test: number[][];
  hashed_n_features: number;
  hashed_train_first20: number[][];
  hashed_test: number[][];
}
const fx = JSON.parse(
  readFileSync(new URL('./fixtures/transform.json', import.meta.url), 'utf8'),
) as TransformFixture;

const schema: DatasetSchema = {
  name: 'fixture',
  target: 'y',
  positiveLabel: '1',
  columns: [
    { name: 'id', type: 'id', role: 'id' },
    { name: 'a', type: 'numeric', role: 'feature' },
    { name: 'b', type: 'integer', role: 'feature' },
    { name: 'c', type: 'categorical', role: 'feature' },
    { name: 'd', type: 'categorical', role: 'feature' },
    { name: 'y', type: 'categorical', role: 'target' },
  ],
};

function toTable(cols: Record<string, (number | string | null)[]>): Table {
  const n = cols.a!.length;
  return createTable({
    id: Array.from({ length: n }, (_, i) => `s${i}`),
    a: Float64Array.from(cols.a!, (v) => (v === null ? Number.NaN : Number(v))),
    b: Float64Array.from(cols.b!, (v) => (v === null ? Number.NaN : Number(v))),
    c: cols.c!.map((v) => (v === null ? null : String(v))),
    d: cols.d!.map((v) => (v === null ? null : String(v))),
  });
}

function toRecords(cols: Record<string, (number | string | null)[]>): RawRecord[] {
  return cols.a!.map((_, i) => ({ a: cols.a![i], b: cols.b![i], c: cols.c![i], d: cols.d![i] }));
}

const assertClose = (actual: ArrayLike<number>, expected: number[], what: string, tol = 1e-12) => {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let j = 0; j < expected.length; j++) {
    assert.ok(Math.abs(actual[j]! - expected[j]!) <= tol, `${what}[${j}]: ${actual[j]} vs ${expected[j]}`);
  }
};

describe('fitted transform vs scikit-learn (fixture)', () => {
  const train = toTable(fx.train);
  const testTable = toTable(fx.test);

  test('linear preset = SimpleImputer(median) + StandardScaler + OneHotEncoder(handle_unknown=ignore)', () => {
    const ft = fitTransform(defaultFeatureSpec(schema, { preset: 'linear' }), train, schema);
    const cats = ft.columns
      .filter((c) => c.kind === 'categorical')
      .map((c) => ('categories' in c ? c.categories : []));
    assert.deepEqual(cats, fx.onehot_categories);
    const m = transformTable(ft, train);
    fx.onehot_train_first20.forEach((row, i) => {
      assertClose(m.data.subarray(i * m.cols, (i + 1) * m.cols), row, `train ${i}`);
    });
    const mt = transformTable(ft, testTable);
    fx.onehot_test.forEach((row, i) => {
      assertClose(mt.data.subarray(i * mt.cols, (i + 1) * mt.cols), row, `test ${i}`);
    });
    assert.deepEqual(featureNames(ft).slice(0, 3), ['a', 'b', 'c=Zürich']);
  });

  test('hashed categoricals = FeatureHasher(16, alternate_sign=True) on "col=value" tokens', () => {
    const spec = defaultFeatureSpec(schema, {
      hashCategoricals: { nFeatures: fx.hashed_n_features, alternateSign: true },
    });
    const ft = fitTransform(spec, train, schema);
    assert.equal(ft.width, 2 + fx.hashed_n_features);
    const m = transformTable(ft, train);
    fx.hashed_train_first20.forEach((row, i) => {
      assertClose(m.data.subarray(i * m.cols, (i + 1) * m.cols), row, `train ${i}`);
    });
    const mt = transformTable(ft, testTable);
    fx.hashed_test.forEach((row, i) => {
      assertClose(mt.data.subarray(i * mt.cols, (i + 1) * mt.cols), row, `test ${i}`);
    });
  });

  test('the record encoder gives exactly the batch output (one-hot and hashed)', () => {
    for (const spec of [
      defaultFeatureSpec(schema),
      defaultFeatureSpec(schema, { hashCategoricals: { nFeatures: 16 } }),
      defaultFeatureSpec(schema, { preset: 'tree' }),
    ]) {
      const ft = fitTransform(spec, train, schema);
      for (const [table, cols] of [
        [train, fx.train],
        [testTable, fx.test],
      ] as const) {
        const batch = transformTable(ft, table);
        const viaRecords = transformRecords(ft, toRecords(cols));
        assert.deepEqual(viaRecords.data, batch.data);
      }
    }
  });

  test('a column can hash into a block of its own next to the shared block', () => {
    const spec = defaultFeatureSpec(schema, { hashCategoricals: { nFeatures: 16 } });
    spec.columns.c = { kind: 'categorical', encoding: 'hash', nFeatures: 8, alternateSign: false };
    const ft = fitTransform(spec, train, schema);
    assert.equal(ft.width, 2 + 8 + 16);
    assert.deepEqual(featureNames(ft).slice(2, 4), ['c#hash_0', 'c#hash_1']);
    assert.equal(featureNames(ft)[10], 'hash_0');
    const m = transformTable(ft, testTable);
    fx.test.c!.forEach((v, i) => {
      const row = m.data.subarray(i * m.cols, (i + 1) * m.cols);
      const own = new Array(8).fill(0);
      own[hashSlot(`c=${v ?? '__NA__'}`, 8, false).index] += 1;
      assert.deepEqual([...row.subarray(2, 10)], own, `row ${i} own block`);
      const shared = new Array(16).fill(0);
      const d = hashSlot(`d=${fx.test.d![i] ?? '__NA__'}`, 16, true);
      shared[d.index] += d.sign;
      assert.deepEqual([...row.subarray(10)], shared, `row ${i} shared block`);
    });
    assert.deepEqual(transformRecords(ft, toRecords(fx.test)).data, m.data);
  });

  test('the encoder overwrites stale values in a reused row buffer', () => {
    const ft = fitTransform(
      defaultFeatureSpec(schema, { hashCategoricals: { nFeatures: 16 } }),
      train,
      schema,
    );
    const enc = createRecordEncoder(ft);
    const out = new Float64Array(ft.width).fill(7);
    enc.encode({ a: 1, b: 2, c: 'red', d: 'x' }, out);
    const fresh = new Float64Array(ft.width);
    enc.encode({ a: 1, b: 2, c: 'red', d: 'x' }, fresh);
    assert.deepEqual(out, fresh);
  });

  test('tree preset keeps NaN and does not scale', () => {
    const ft = fitTransform(defaultFeatureSpec(schema, { preset: 'tree' }), testTable, schema);
    const m = transformTable(ft, testTable);
    assert.ok(Number.isNaN(m.data[0]), 'missing a stays NaN');
    assert.equal(m.data[m.cols], 10, 'a kept as is');
  });

  test('JSON round trip and version check', () => {
    const ft = fitTransform(defaultFeatureSpec(schema), train, schema);
    const back = fittedTransformFromJSON(JSON.parse(JSON.stringify(ft)));
    assert.deepEqual(transformTable(back, testTable).data, transformTable(ft, testTable).data);
    assert.throws(
      () => fittedTransformFromJSON({ ...ft, format_version: 2 }),
      /feature transform format 2 is newer than this Tassel \(supports 1\.x\)/,
    );
    assert.throws(() => fittedTransformFromJSON({ ...ft, width: 3 }), /feature names for width 3/);
  });
});

describe('top-K one-hot with "other"', () => {
  const s: DatasetSchema = {
    name: 'k',
    target: 'y',
    positiveLabel: '1',
    columns: [
      { name: 'city', type: 'categorical', role: 'feature' },
      { name: 'y', type: 'categorical', role: 'target' },
    ],
  };
  const cities = ['A', 'A', 'A', 'B', 'B', 'C', 'D', null];
  const t = createTable({ city: cities });

  test('keeps the K most frequent, routes rare, missing-as-rare and unseen values to other', () => {
    const ft = fitTransform(
      {
        preset: 'custom',
        columns: { city: { kind: 'categorical', encoding: 'onehot', maxCategories: 2, minFrequency: 1 } },
      },
      t,
      s,
    );
    assert.deepEqual(featureNames(ft), ['city=A', 'city=B', 'city=__other__']);
    const enc = createRecordEncoder(ft);
    const out = new Float64Array(3);
    enc.encode({ city: 'Atlantis' }, out);
    assert.deepEqual([...out], [0, 0, 1]);
    enc.encode({ city: 'B' }, out);
    assert.deepEqual([...out], [0, 1, 0]);
  });

  test('minFrequency drops rare categories', () => {
    const ft = fitTransform(
      {
        preset: 'custom',
        columns: { city: { kind: 'categorical', encoding: 'onehot', maxCategories: 50, minFrequency: 2 } },
      },
      t,
      s,
    );
    assert.deepEqual(featureNames(ft), ['city=A', 'city=B', 'city=__other__']);
  });
});

describe('booleans and dates', () => {
  const s: DatasetSchema = {
    name: 'bd',
    target: 'y',
    positiveLabel: '1',
    columns: [
      { name: 'paid', type: 'boolean', role: 'feature', trueValues: ['Yes'], falseValues: ['No'] },
      { name: 'enrolled', type: 'date', role: 'feature', dateFormat: 'DMY' },
      { name: 'y', type: 'categorical', role: 'target' },
    ],
  };
  const d = (y: number, m: number, day: number) => Date.UTC(y, m - 1, day) / 86_400_000;
  const t = createTable({
    paid: Float64Array.from([1, 1, 0, Number.NaN]),
    enrolled: Float64Array.from([d(2024, 1, 1), d(2024, 3, 15), d(2023, 12, 31), Number.NaN]),
  });

  test('date parts: days since epoch, weekday (0 = Sunday), month', () => {
    const ft = fitTransform(defaultFeatureSpec(s, { preset: 'tree' }), t, s);
    assert.deepEqual(featureNames(ft), ['paid', 'enrolled__days', 'enrolled__dow', 'enrolled__month']);
    const m = transformTable(ft, t);
    assert.deepEqual([...m.data.subarray(0, 4)], [1, d(2024, 1, 1), 1, 1]); // a Monday in January
    assert.deepEqual([...m.data.subarray(8, 12)], [0, d(2023, 12, 31), 0, 12]); // a Sunday in December
    assert.ok(Number.isNaN(m.data[13]!));
  });

  test('records: Yes/No spellings, day-first date strings, missing imputed with the median', () => {
    const ft = fitTransform(defaultFeatureSpec(s, { preset: 'linear' }), t, s);
    const enc = createRecordEncoder(ft);
    const a = new Float64Array(ft.width);
    const b = new Float64Array(ft.width);
    enc.encode({ paid: 'Yes', enrolled: '15/03/2024' }, a);
    const m = transformTable(ft, t);
    assert.deepEqual(
      [...a],
      [...m.data.subarray(4, 8)].map((v, j) => (j === 0 ? 1 : v)),
    );
    enc.encode({}, b);
    const imputed = transformTable(
      ft,
      createTable({ paid: Float64Array.of(Number.NaN), enrolled: Float64Array.of(Number.NaN) }),
    );
    assert.deepEqual([...b], [...imputed.data]);
    assert.ok(b.every((v) => Number.isFinite(v)));
  });

  test('parseDateToDays', () => {
    assert.equal(parseDateToDays('2024-02-29'), d(2024, 2, 29));
    assert.equal(parseDateToDays('29/02/2024', 'DMY'), d(2024, 2, 29));
    assert.equal(parseDateToDays('02/29/2024', 'MDY'), d(2024, 2, 29));
    assert.ok(Number.isNaN(parseDateToDays('31/02/2024', 'DMY')));
    assert.ok(Number.isNaN(parseDateToDays('yesterday')));
  });
});

describe('padVector', () => {
  test('pads with zeros', () => {
    const r = padVector([1, 2], 4);
    assert.deepEqual([...r.vector], [1, 2, 0, 0]);
    assert.deepEqual(
      { ...r, vector: undefined },
      { vector: undefined, expected: 4, received: 2, padded: 2, truncated: 0 },
    );
  });
  test('cuts to the width', () => {
    const r = padVector(Float64Array.of(1, 2, 3, 4, 5), 3);
    assert.deepEqual([...r.vector], [1, 2, 3]);
    assert.equal(r.truncated, 2);
    assert.equal(r.padded, 0);
  });
  test('exact width is untouched', () => {
    const r = padVector([1, 2, 3], 3);
    assert.equal(r.padded + r.truncated, 0);
  });
});
