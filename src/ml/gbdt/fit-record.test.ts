import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitRecord } from './fit-record.js';

test('fitRecord copies every own field, values untouched, into a new object', () => {
  const cuts = new Float64Array([1, 2]);
  const fields = { nFeatures: 2, cuts, upper: null, label: 'x' };
  const record = fitRecord(fields);
  assert.notEqual(record, fields);
  assert.deepEqual(Object.keys(record), ['nFeatures', 'cuts', 'upper', 'label']);
  assert.equal(record.cuts, cuts, 'arrays are shared, not copied');
  assert.equal(record.nFeatures, 2);
  assert.equal(record.upper, null);
  assert.equal(record.label, 'x');
});
