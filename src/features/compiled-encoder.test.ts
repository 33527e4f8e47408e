import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { DatasetSchema } from '../data/schema.js';
import { createTable, type RawRecord } from '../data/table.js';
import { compileRecordEncoder } from './compiled-encoder.js';
import type { FeatureSpec } from './spec.js';
import { createRecordEncoder, type FittedTransform, fitTransform } from './transform.js';

// Serving encodes with code generated per transform; the interpreted encoder is the reference. They must agree
// bit for bit (Object.is, so NaN and -0 count) on every record, valid or not.

const schema: DatasetSchema = {
  name: 'agreement',
  target: 'y',
  positiveLabel: '1',
  columns: [
    { name: 'id', type: 'id', role: 'id' },
    { name: 'amount', type: 'numeric', role: 'feature' },
    { name: 'count', type: 'integer', role: 'feature' },
    { name: 'paid', type: 'boolean', role: 'feature', trueValues: ['Yes'], falseValues: ['No'] },
    { name: 'enrolled', type: 'date', role: 'feature', dateFormat: 'DMY' },
    { name: 'city', type: 'categorical', role: 'feature' },
    // a name and categories that would break generated code if they were pasted into it
    { name: '"]; throw new Error("x"); //\u2028', type: 'categorical', role: 'feature' },
    { name: 'shop', type: 'categorical', role: 'feature' },
    { name: 'y', type: 'categorical', role: 'target' },
  ],
};
const ODD = schema.columns[6]!.name;
/** The text of a template literal (built in two parts so no linter takes it for a mistyped template). */
const TEMPLATE = ['`$', '{x}`'].join('');

const table = createTable({
  id: ['a', 'b', 'c', 'd', 'e', 'f'],
  amount: Float64Array.from([1.5, -2, Number.NaN, 1e6, 0, 3.25]),
  count: Float64Array.from([1, 2, 3, Number.NaN, 0, 7]),
  paid: Float64Array.from([1, 0, Number.NaN, 1, 1, 0]),
  enrolled: Float64Array.from([19_000, 19_500.5, Number.NaN, 18_000, 19_001, 20_000]),
  city: ['Lyon', 'Paris', 'Paris', null, 'Nice', 'Lyon'],
  [ODD]: [TEMPLATE, "'", '\\', '"', '__proto__', TEMPLATE],
  shop: ['s1', 's2', 's3', 's1', null, 's4'],
});

const spec = (preset: 'linear' | 'tree', maxCategories: number, ownHashBlock: boolean): FeatureSpec => ({
  preset,
  columns: {
    amount: { kind: 'numeric', impute: preset === 'linear' ? 'median' : 'none', scale: 'standard' },
    count: { kind: 'numeric', impute: 'median', scale: preset === 'linear' ? 'standard' : 'none' },
    paid: { kind: 'boolean', impute: preset === 'linear' ? 'median' : 'none' },
    enrolled: { kind: 'date', parts: ['days', 'dow', 'month'], impute: 'median', scale: 'none' },
    city: { kind: 'categorical', encoding: 'onehot', maxCategories, minFrequency: 1 },
    [ODD]: { kind: 'categorical', encoding: 'onehot', maxCategories: 50, minFrequency: 1 },
    shop: ownHashBlock
      ? { kind: 'categorical', encoding: 'hash', nFeatures: 4, alternateSign: true }
      : { kind: 'categorical', encoding: 'hash' },
  },
  hashing: { nFeatures: 8, alternateSign: true },
});

const transforms: FittedTransform[] = [
  fitTransform(spec('linear', 2, false), table, schema),
  fitTransform(spec('tree', 50, true), table, schema),
  fitTransform(spec('linear', 50, true), table, schema),
];

const oddValue: fc.Arbitrary<unknown> = fc.constantFrom(
  undefined,
  null,
  '',
  '  ',
  ' 12 ',
  '1e3',
  'abc',
  'Yes',
  'no',
  '15/03/2024',
  '2024-02-30',
  true,
  false,
  0,
  -0,
  1,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  -1e300,
  [1],
  { a: 1 },
  '__proto__',
  'toString',
  TEMPLATE,
);

const fieldValue = (seen: readonly string[]): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.constantFrom(...seen),
    fc.double(),
    fc.integer({ min: -5, max: 5 }),
    fc.string({ maxLength: 6 }),
    oddValue,
  );

const seen = ['Lyon', 'Paris', 'Nice', 's1', 's2', 's4', TEMPLATE, "'", '\\', '"', '__proto__', 'Yes', 'No'];
const names = schema.columns.map((c) => c.name);
const recordArb: fc.Arbitrary<RawRecord> = fc.record(
  Object.fromEntries(names.map((name) => [name, fieldValue(seen)])),
  { requiredKeys: [] },
) as fc.Arbitrary<RawRecord>;

/** Whether an encoder runs generated code (its function's text holds the one-hot switch). */
const isGenerated = (encoder: { encode: (...args: never[]) => void }) =>
  encoder.encode.toString().includes('switch (typeof v === "string"');

test('the generated encoder writes exactly what the interpreted one writes, for any record', () => {
  for (const ft of transforms) {
    const interpreted = createRecordEncoder(ft);
    const generated = compileRecordEncoder(ft);
    assert.equal(generated.width, ft.width);
    assert.ok(
      isGenerated(generated),
      'the transform compiles (else this test compares the interpreter to itself)',
    );
    // a stale row buffer: every output must be overwritten
    const a = new Float64Array(ft.width).fill(7);
    const b = new Float64Array(ft.width).fill(-7);
    fc.assert(
      fc.property(recordArb, (record) => {
        interpreted.encode(record, a);
        generated.encode(record, b);
        for (let j = 0; j < ft.width; j++) {
          assert.ok(
            Object.is(a[j], b[j]),
            `output ${j} (${ft.feature_names[j]}): ${a[j]} vs ${b[j]} for ${JSON.stringify(record)}`,
          );
        }
      }),
      { numRuns: 700, seed: 7 },
    );
  }
});

test('the generated code holds names and categories as data', () => {
  const ft = transforms[1]!;
  const odd = ft.columns.find((c) => c.name === ODD);
  assert.ok(odd?.kind === 'categorical' && odd.encoding === 'onehot' && odd.categories.includes('"'));
  const out = new Float64Array(ft.width);
  compileRecordEncoder(ft).encode({ [ODD]: '"' }, out);
  assert.equal(out[odd.offset + odd.categories.indexOf('"')], 1);
});

test('a transform whose constants are not numbers gets the interpreted encoder, same outputs', () => {
  const ft = structuredClone(transforms[0]!);
  const amount = ft.columns[0]!;
  assert.equal(amount.kind, 'numeric');
  (amount as unknown as { center: string }).center = '1); throw new Error("injected"); (1';
  const a = new Float64Array(ft.width);
  const b = new Float64Array(ft.width);
  const fallback = compileRecordEncoder(ft);
  assert.ok(!isGenerated(fallback));
  createRecordEncoder(ft).encode({ amount: 3 }, a);
  fallback.encode({ amount: 3 }, b);
  assert.ok(Number.isNaN(a[0]!) && Number.isNaN(b[0]!));
  assert.deepEqual([...b], [...a]);
});
