import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { splitByColumn, stratifiedSplit, validationMask } from './split.js';
import { createTable } from './table.js';

describe('splits', () => {
  const y = new Uint8Array(1000).map((_, i) => (i % 10 < 3 ? 1 : 0)); // 30% positive

  test('stratified split is deterministic, disjoint, complete and keeps the class balance', () => {
    const a = stratifiedSplit(y, { testFraction: 0.2, seed: 42 });
    const b = stratifiedSplit(y, { testFraction: 0.2, seed: 42 });
    const c = stratifiedSplit(y, { testFraction: 0.2, seed: 43 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.test, c.test);
    assert.equal(a.test.length, 200);
    assert.equal(a.train.length, 800);
    const all = new Set([...a.train, ...a.test]);
    assert.equal(all.size, 1000);
    const pos = [...a.test].filter((i) => y[i] === 1).length;
    assert.equal(pos, 60);
    assert.throws(() => stratifiedSplit(y, { testFraction: 1, seed: 1 }), /test fraction/);
  });

  test('split by a 0/1 column such as is_val', () => {
    const t = createTable({ is_val: new Float64Array([0, 1, 0, 1, 1]), s: ['0', '1', '0', '0', '1'] });
    assert.deepEqual(splitByColumn(t, 'is_val'), {
      train: new Uint32Array([0, 2]),
      test: new Uint32Array([1, 3, 4]),
    });
    assert.deepEqual([...validationMask(t, 's')], [0, 1, 0, 0, 1]);
    const bad = createTable({ v: new Float64Array([0, 2]) });
    assert.throws(() => validationMask(bad, 'v'), /row 2 holds 2, expected 0 or 1/);
    assert.throws(() => validationMask(bad, 'nope'), /not in the table/);
  });
});
