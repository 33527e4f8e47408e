import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DatasetSchema } from '../data/schema.js';
import { coerceRecords } from '../data/validate.js';
import { InputError } from '../errors.js';
import {
  type FeatureRecord,
  type FeatureStep,
  augmentSchema,
  createFeatureStepRunner,
  fitFeatureSteps,
  resolveStepOutputs,
} from './feature-step.js';
import { defaultFeatureSpec } from './spec.js';
import { createRecordEncoder, fitTransform, transformTable } from './transform.js';

const schema: DatasetSchema = {
  name: 't',
  target: 'y',
  positiveLabel: '1',
  columns: [
    { name: 'id', type: 'id', role: 'id' },
    { name: 'score', type: 'numeric', role: 'feature' },
    { name: 'paid', type: 'boolean', role: 'feature', trueValues: ['Yes'], falseValues: ['No'] },
    { name: 'start', type: 'date', role: 'feature', dateFormat: 'DMY' },
    { name: 'city', type: 'categorical', role: 'feature' },
    { name: 'y', type: 'categorical', role: 'target' },
  ],
};

const raw = [
  { id: 'a', score: '10', paid: 'Yes', start: '31/01/2024', city: 'Oslo', y: '1' },
  { id: 'b', score: 20, paid: 'No', start: '2024-03-15', city: 'Rome', y: '0' },
  { id: 'c', score: '', paid: '', start: '', city: '', y: '1' },
  { id: 'd', score: 35.5, paid: 'yes', start: '01/12/2023', city: 'Oslo', y: '0' },
];
const table = coerceRecords(raw, schema, { policy: 'fail' }).table;

/** Sees every kind of input value; learns the mean score; overwrites `city`. */
const seen: FeatureRecord[] = [];
const probe: FeatureStep<{ mean: number; keys: Record<string, number> }> = {
  outputs: [
    { name: 'score_centered', kind: 'numeric' },
    { name: 'city', kind: 'categorical' },
    { name: 'desc', kind: 'categorical' },
  ],
  fit(rows) {
    const xs = rows.map((r) => r.score).filter((v): v is number => typeof v === 'number');
    return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, keys: { z: 1, a: 2 } };
  },
  transform(row, { state }) {
    seen.push({ ...row });
    return {
      score_centered: typeof row.score === 'number' ? row.score - state.mean : null,
      city: row.city === null ? null : String(row.city).toUpperCase(),
      desc: `${row.id}|${row.paid}|${row.start}|${Object.keys(state.keys).join('')}`,
    };
  },
};

describe('feature steps', () => {
  test('fit on the rows, then records and tables give the same derived values and encodings', async () => {
    const fitted = await fitFeatureSteps(
      [{ name: 'probe', step: probe, params: {} }],
      table,
      schema,
      [1, 0, 1, 0],
      1,
    );
    // state after the JSON round trip the bundle makes: sorted keys
    assert.deepEqual(fitted[0]!.state, { keys: { a: 2, z: 1 }, mean: (10 + 20 + 35.5) / 3 });
    // what the step saw: typed values, dates as ISO, booleans as booleans, missing as null, never the target
    assert.deepEqual(seen[0], { id: 'a', score: 10, paid: true, start: '2024-01-31', city: 'Oslo' });
    assert.deepEqual(seen[2], { id: 'c', score: null, paid: null, start: null, city: null });

    const runner = createFeatureStepRunner(schema, fitted);
    const derived = runner.applyTable(table, 'test');
    assert.deepEqual(derived.columns.city, ['OSLO', 'ROME', null, 'OSLO']);
    assert.equal(derived.columns.desc![3], 'd|true|2023-12-01|az');
    assert.ok(Number.isNaN((derived.columns.score_centered as Float64Array)[2]!));

    const ft = fitTransform(defaultFeatureSpec(runner.schema, { preset: 'linear' }), derived, runner.schema);
    assert.ok(ft.feature_names.includes('score_centered'));
    assert.ok(ft.feature_names.includes('city=OSLO'));
    const batch = transformTable(ft, derived);
    const enc = createRecordEncoder(ft);
    const row = new Float64Array(ft.width);
    for (let i = 0; i < raw.length; i++) {
      enc.encode(runner.applyRecord(raw[i]!), row);
      assert.deepEqual(
        Array.from(row),
        Array.from(batch.data.subarray(i * ft.width, (i + 1) * ft.width)),
        `row ${i}`,
      );
    }
  });

  test('outputs are checked: shape, duplicates, and never the target or an id column', () => {
    assert.throws(
      () => resolveStepOutputs('s', { outputs: [], transform: () => ({}) }, {}),
      /feature step "s": outputs must be a non-empty array/,
    );
    assert.throws(
      () =>
        resolveStepOutputs(
          's',
          { outputs: [{ name: 'x', kind: 'text' as never }], transform: () => ({}) },
          {},
        ),
      /outputs\[0\] must be \{name: string, kind/,
    );
    assert.throws(
      () =>
        resolveStepOutputs(
          's',
          {
            outputs: [
              { name: 'x', kind: 'numeric' },
              { name: 'x', kind: 'numeric' },
            ],
            transform: () => ({}),
          },
          {},
        ),
      /output "x" is declared twice/,
    );
    assert.throws(
      () => augmentSchema(schema, [{ name: 's', outputs: [{ name: 'y', kind: 'numeric' }] }]),
      (e: unknown) => e instanceof InputError && /would overwrite the target "y"/.test(e.message),
    );
    assert.throws(
      () => augmentSchema(schema, [{ name: 's', outputs: [{ name: 'id', kind: 'categorical' }] }]),
      /would overwrite the id column "id"/,
    );
    const aug = augmentSchema(schema, [{ name: 's', outputs: [{ name: 'score', kind: 'categorical' }] }]);
    assert.equal(aug.columns.find((c) => c.name === 'score')!.type, 'categorical');
    assert.equal(
      schema.columns.find((c) => c.name === 'score')!.type,
      'numeric',
      'the input schema is unchanged',
    );
  });

  test('a throwing or misbehaving transform is named at serving too; state must be JSON', async () => {
    const flaky: FeatureStep = {
      outputs: [{ name: 'z', kind: 'numeric' }],
      transform: (row) => {
        if (row.city === 'Rome') throw new Error('no Rome');
        return { z: row.city === 'Oslo' ? Number.POSITIVE_INFINITY : 1 };
      },
    };
    const runner = createFeatureStepRunner(schema, [
      { name: 'flaky', step: flaky, params: {}, state: null, outputs: [{ name: 'z', kind: 'numeric' }] },
    ]);
    assert.throws(
      () => runner.applyRecord(raw[1]!),
      /feature step "flaky": transform threw on a record: no Rome/,
    );
    assert.throws(
      () => runner.applyRecord(raw[0]!),
      /output "z" must be a finite number or null, got Infinity/,
    );
    assert.equal(runner.applyRecord(raw[2]!).z, 1);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(
      fitFeatureSteps(
        [
          {
            name: 'cyc',
            step: {
              outputs: [{ name: 'q', kind: 'numeric' }],
              fit: () => cyclic,
              transform: () => ({ q: 1 }),
            },
            params: {},
          },
        ],
        table,
        schema,
        [1, 0, 1, 0],
        1,
      ),
      /feature step "cyc": the state fit returned is not JSON/,
    );
  });
});
