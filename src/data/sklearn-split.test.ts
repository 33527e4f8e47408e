import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { anchorsSplit, createNumpyRandomState, sklearnStratifiedSplit } from './sklearn-split.js';

// Expected values printed once by Debian's python3-sklearn 1.2.1 / numpy:
//   np.random.RandomState(42).permutation(10)
//   train_test_split(np.arange(40), test_size=0.25, stratify=[(i*7)%3==0 for i in range(40)], random_state=7)
//   train_test_split(np.arange(20), test_size=0.25, stratify=[0,1]*10, random_state=123)   (tied remainders)
describe('scikit-learn split replay', () => {
  test('numpy RandomState(42).permutation(10)', () => {
    assert.deepEqual(Array.from(createNumpyRandomState(42).permutation(10)), [8, 1, 5, 0, 7, 2, 9, 4, 3, 6]);
  });

  test('train_test_split(stratify=y) gives the same rows in the same order as scikit-learn', () => {
    const y = Array.from({ length: 40 }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0));
    const a = sklearnStratifiedSplit(y, { testSize: 0.25, seed: 7 });
    assert.deepEqual(
      Array.from(a.train),
      [
        16, 2, 25, 28, 20, 31, 3, 15, 30, 38, 10, 9, 23, 32, 18, 39, 26, 13, 21, 12, 8, 17, 19, 35, 1, 36, 27,
        4, 14, 37,
      ],
    );
    assert.deepEqual(Array.from(a.test), [22, 33, 7, 34, 6, 24, 0, 5, 29, 11]);
    const y2 = Array.from({ length: 20 }, (_, i) => i % 2);
    const b = sklearnStratifiedSplit(y2, { testSize: 0.25, seed: 123 });
    assert.deepEqual(Array.from(b.train), [11, 5, 6, 2, 19, 14, 13, 7, 0, 15, 17, 8, 16, 10, 9]);
    assert.deepEqual(Array.from(b.test), [4, 1, 3, 18, 12]);
  });

  test('anchorsSplit: sorted train/test partition and a stratified is_val slice of train', () => {
    const y = Array.from({ length: 300 }, (_, i) => (i % 5 < 2 ? 1 : 0));
    const s = anchorsSplit(y);
    assert.equal(s.test.length, 60);
    assert.equal(s.train.length, 240);
    assert.deepEqual(
      Array.from(s.train),
      [...s.train].sort((a, b) => a - b),
    );
    assert.equal(new Set([...s.train, ...s.test]).size, 300);
    const val = Array.from(s.train).filter((i) => s.isVal[i]);
    assert.equal(val.length, 24);
    assert.equal(Array.from(s.test).filter((i) => s.isVal[i]).length, 0);
    assert.throws(() => sklearnStratifiedSplit([0, 1, 1], { testSize: 0.5, seed: 1 }), /at least 2 rows/);
  });
});
