import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { averageGbdt } from '../../ml/gbdt/average.js';
import type { GbdtClassifier } from '../../ml/gbdt/gbdt-classifier.js';
import { createPrng } from '../../ml/gbdt/prng.js';
import { createMatrix } from '../../ml/matrix.js';
import { findModelFactory } from '../../ml/model-kinds.js';
import { parsePipelineConfig } from '../config.js';
import { searchEnsemble } from './search-ensemble.js';

function rows(n: number, seed: number) {
  const rng = createPrng(seed);
  const X = createMatrix(n, 3);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 3; j++) X.data[i * 3 + j] = rng.next() * 2 - 1;
    y[i] = rng.next() < 1 / (1 + Math.exp(-3 * X.data[i * 3]! * X.data[i * 3 + 1]!)) ? 1 : 0;
  }
  return { X, y };
}
const train = rows(600, 1);
const valid = rows(300, 2);
const f = { train: train.X, valid: valid.X, featureNames: ['a', 'b', 'c'] };
const labels = { train: train.y, valid: valid.y };
const gbdt = (depth: number) => {
  const m = findModelFactory('gbdt').create({ n_estimators: 10, max_depth: depth }) as GbdtClassifier;
  m.fit(train.X, train.y);
  return m;
};
const logistic = () => {
  const m = findModelFactory('logistic').create({});
  m.fit(train.X, train.y);
  return m;
};

describe('searchEnsemble: the average of the best trials by validation score', () => {
  const trials = [
    { name: 't1', selectionScore: 0.7, model: gbdt(1) },
    { name: 't2', selectionScore: 0.9, model: gbdt(2) },
    { name: 't3', selectionScore: 0.8, model: gbdt(3) },
    { name: 't4', selectionScore: 0.8, model: gbdt(4) },
    { name: 'lr', selectionScore: 0.95, model: logistic() },
  ];

  test('takes the k best GBDT trials (ties: the earlier), best first, scored on train and validation rows', () => {
    const e = searchEnsemble(trials, 3, f, labels)!;
    assert.deepEqual(e.members, ['t2', 't3', 't4']);
    const want = averageGbdt([1, 2, 3].map((i) => trials[i]!.model as GbdtClassifier)).predictProba(valid.X);
    assert.deepEqual(e.model.predictProba(valid.X), want);
    assert.equal(e.valid.n, 300);
    assert.equal(e.train.n, 600);
  });

  test('is null with fewer than two GBDT trials; k above the count takes them all', () => {
    assert.equal(searchEnsemble(trials.slice(0, 1), 3, f, labels), null);
    assert.equal(searchEnsemble([trials[4]!, trials[0]!], 3, f, labels), null);
    assert.deepEqual(searchEnsemble(trials, 10, f, labels)!.members, ['t2', 't3', 't4', 't1']);
  });

  test('the config accepts ensemble_top on a gbdt search only', () => {
    const cfg = (kind: string) =>
      parsePipelineConfig({
        data: { path: 'x.csv', schema: 'builtin:course-completion' },
        candidates: [{ kind, tune: { ensemble_top: 3, space: { C: { float: [0.1, 10] } } } }],
      });
    assert.equal(cfg('gbdt').candidates[0]!.tune!.ensemble_top, 3);
    assert.throws(() => cfg('logistic'), /tune\.ensemble_top: only gbdt trials/);
  });
});
