import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { firstBadProbability } from './evaluate.js';
import { prCurve, rocCurve } from './metrics.js';

describe('pipeline curves', () => {
  const y = Uint8Array.from([0, 0, 1, 1]);
  const p = [0.1, 0.4, 0.35, 0.8];
  test('ROC points step through each distinct score', () => {
    const r = rocCurve(y, p);
    assert.deepEqual(r.fpr, [0, 0, 0.5, 0.5, 1]);
    assert.deepEqual(r.tpr, [0, 0.5, 0.5, 1, 1]);
  });
  test('PR points start at recall 0, precision 1', () => {
    const r = prCurve(y, p);
    assert.deepEqual(r.recall, [0, 0.5, 0.5, 1, 1]);
    assert.deepEqual(r.precision, [1, 1, 0.5, 2 / 3, 0.5]);
  });
  test('invalid probabilities are found', () => {
    assert.equal(firstBadProbability([0.2, 1, 0]), -1);
    assert.equal(firstBadProbability([0.2, Number.NaN]), 1);
    assert.equal(firstBadProbability([1.5]), 0);
  });
});
