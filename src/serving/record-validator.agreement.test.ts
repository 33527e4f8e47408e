import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { courseCompletionSchema } from '../data/builtin-schemas.js';
import { type ColumnSpec, isRequiredInput } from '../data/schema.js';
import type { RawRecord } from '../data/table.js';
import { coerceRecords } from '../data/validate.js';
import { createRecordValidator } from './record-validator.js';

// Serving checks records with a compiled, allocation-free validator; `tassel predict` and training use
// coerceRecords. A record must be accepted by one exactly when the other accepts it.

const features = courseCompletionSchema.columns.filter((c) => c.role === 'feature');

function validValue(spec: ColumnSpec): fc.Arbitrary<unknown> {
  switch (spec.type) {
    case 'numeric':
      return fc.double({ min: spec.min ?? -1e6, max: spec.max ?? 1e6, noNaN: true });
    case 'integer':
      return fc.integer({ min: Math.ceil(spec.min ?? -1e6), max: Math.floor(spec.max ?? 1e6) });
    case 'boolean':
      return fc.constantFrom(true, false, ...(spec.trueValues ?? ['Yes']), ...(spec.falseValues ?? ['No']));
    case 'date':
      return fc.constantFrom('2024-01-15', '15/01/2024', '31/12/2023');
    default:
      return spec.allowed?.length ? fc.constantFrom(...spec.allowed) : fc.string({ maxLength: 8 });
  }
}

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.constant(''),
  fc.constant('abc'),
  fc.constant('12'),
  fc.constant(-1),
  fc.constant(1e9),
  fc.constant(0.5),
  fc.constant(true),
  fc.constant('Yes'),
  fc.constant('2024-02-30'),
  fc.constant([1]),
  fc.constant({ a: 1 }),
);

// Identifiers are not scored: serving ignores them, coerceRecords wants them; every record here carries one.
const featureRecordArb = fc.record(
  Object.fromEntries(
    features.map((spec) => [
      spec.name,
      fc.oneof({ weight: 60, arbitrary: validValue(spec) }, { weight: 1, arbitrary: anyValue }),
    ]),
  ),
  // optional features may be absent; a required one is left out by the map below now and then
  { requiredKeys: features.filter(isRequiredInput).map((c) => c.name) },
);
const requiredNames = features.filter(isRequiredInput).map((c) => c.name);
const recordArb: fc.Arbitrary<RawRecord> = fc
  .tuple(featureRecordArb, fc.nat({ max: 4 * requiredNames.length }))
  .map(([r, drop]) => {
    const record = { Student_ID: 'S1', ...r } as RawRecord;
    if (drop < requiredNames.length) delete record[requiredNames[drop]!];
    return record;
  });

test('the serving validator accepts exactly the records coerceRecords accepts', () => {
  const validator = createRecordValidator(courseCompletionSchema, { allowUnknownFields: true });
  let accepted = 0;
  let rejected = 0;
  fc.assert(
    fc.property(recordArb, (record) => {
      const served = validator.check(record) === null;
      const { issues } = coerceRecords([record], courseCompletionSchema, { requireTarget: false });
      const predicted = issues.length === 0;
      if (served) accepted++;
      else rejected++;
      assert.equal(
        served,
        predicted,
        `disagree on ${JSON.stringify(record)}: serving says ${validator.check(record)}, coerceRecords says ${JSON.stringify(issues)}`,
      );
    }),
    { numRuns: 1500, seed: 42 },
  );
  // both outcomes must be exercised, or the agreement says nothing
  assert.ok(accepted > 100 && rejected > 100, `accepted ${accepted}, rejected ${rejected}`);
});

// The accepting pass runs as code generated per schema; the interpreted pass is its reference. Same answer
// (null or the same message) on every record, with unknown fields refused or allowed.
const unknownFieldArb = fc.dictionary(
  fc.constantFrom('extra', '__proto__', 'toString', 'constructor', '"]; //'),
  anyValue,
  { maxKeys: 2 },
);
const withUnknownArb = fc
  .tuple(recordArb, unknownFieldArb, fc.boolean())
  .map(([r, extra, add]) => (add ? Object.assign(Object.create(null), r, extra) : r) as RawRecord);

test('the generated validator answers exactly as the interpreted one', () => {
  for (const allowUnknownFields of [false, true]) {
    const generated = createRecordValidator(courseCompletionSchema, { allowUnknownFields });
    const interpreted = createRecordValidator(courseCompletionSchema, {
      allowUnknownFields,
      compiled: false,
    });
    assert.ok(generated.check.toString().includes('switch (key)'), 'the schema compiles');
    assert.ok(!interpreted.check.toString().includes('switch (key)'));
    let accepted = 0;
    fc.assert(
      fc.property(withUnknownArb, (record) => {
        const answer = generated.check(record);
        assert.equal(answer, interpreted.check(record));
        if (answer === null) accepted++;
      }),
      { numRuns: 1500, seed: 11 },
    );
    assert.ok(accepted > 100, `accepted ${accepted}`);
    for (const notRecord of [null, 3, 'x', [1]])
      assert.equal(generated.check(notRecord), interpreted.check(notRecord));
  }
});

// A null in an optional field is a missing value whatever the column's type: the generated pass once read
// `v === null || typeof v === "number" ? ... : ...` as `(v === null || ...) ? ...`, so a null optional number
// was refused with an empty message. Every feature of the schema, made optional, is sent null alone here.
test('the generated validator accepts null in every optional field, as the interpreted one', () => {
  const optional = {
    ...courseCompletionSchema,
    columns: courseCompletionSchema.columns.map((c) => ({ ...c, nullable: true })),
  };
  const generated = createRecordValidator(optional);
  const interpreted = createRecordValidator(optional, { compiled: false });
  assert.ok(generated.check.toString().includes('switch (key)'), 'the schema compiles');
  for (const spec of features) {
    const record: RawRecord = { Student_ID: 'S1', [spec.name]: null };
    assert.equal(interpreted.check(record), null, spec.name);
    assert.equal(generated.check(record), null, spec.name);
  }
});
