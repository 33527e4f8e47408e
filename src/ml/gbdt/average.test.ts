import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMatrix } from '../matrix.js';
import { averageGbdt } from './average.js';
import { type GbdtClassifier, gbdtFactory, gbdtFromJSON } from './gbdt-classifier.js';
import { createPrng } from './prng.js';

function rows(n: number, cols: number, seed: number) {
  const rng = createPrng(seed);
  const X = createMatrix(n, cols);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < cols; j++) X.data[i * cols + j] = rng.next() < 0.05 ? Number.NaN : rng.next() * 2 - 1;
    const z = 2 * (X.data[i * cols] || 0) - 3 * (X.data[i * cols + 1] || 0) * (X.data[i * cols + 2] || 0);
    y[i] = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return { X, y };
}

const fit = (params: Record<string, unknown>, seed: number) => {
  const { X, y } = rows(800, 4, 1);
  const m = gbdtFactory.create({ n_estimators: 25, ...params }) as GbdtClassifier;
  m.fit(X, y, { seed, featureNames: ['a', 'b', 'c', 'd'] });
  return m;
};

describe('averageGbdt', () => {
  const members = [
    fit({ max_depth: 3, eta: 0.3 }, 1),
    fit({ max_depth: 5, eta: 0.1, subsample: 0.7 }, 2),
    fit({ max_depth: 2, eta: 0.5, colsample_bytree: 0.5 }, 3),
  ];
  const avg = averageGbdt(members);
  const probe = rows(300, 4, 9).X;

  test('its margin is the mean of the members margins, row by row and one row at a time', () => {
    const margins = members.map((m) => m.predictMargin(probe));
    const got = avg.predictMargin(probe);
    // margins summed in float32 as XGBoost sums them: the mean up to the members' and the average's rounding
    // (and the average's leaves and base, divided and rounded to float32: one more tree's worth)
    const e = avg.ensemble;
    const tol =
      (e.float32Slack() * (e.nTrees + 1)) / e.nTrees +
      members.reduce((s, m) => s + m.ensemble.float32Slack(), 0) / 3;
    for (let i = 0; i < probe.rows; i++) {
      const want = (margins[0]![i]! + margins[1]![i]! + margins[2]![i]!) / 3;
      assert.ok(Math.abs(got[i]! - want) <= tol, `row ${i}: ${got[i]} vs ${want}`);
      const row = probe.data.subarray(i * 4, i * 4 + 4);
      assert.equal(avg.marginOne(row), got[i]);
    }
    // not simply one member
    assert.notDeepEqual(Array.from(got), Array.from(margins[0]!));
  });

  test('is an ordinary gbdt model: every member tree, the first member params, a JSON round trip', () => {
    const s = avg.summary();
    assert.equal(
      s.n_trees,
      members.reduce((n, m) => n + m.ensemble.nTrees, 0),
    );
    assert.equal(avg.params.max_depth, 3);
    const back = gbdtFromJSON(JSON.parse(JSON.stringify(avg.toJSON())));
    assert.deepEqual(back.predictProba(probe), avg.predictProba(probe));
    assert.deepEqual(Object.keys(back.featureImportances()).sort(), ['a', 'b', 'c', 'd']);
  });

  test('refuses members that score different columns, and an empty list', () => {
    const other = gbdtFactory.create({ n_estimators: 3 }) as GbdtClassifier;
    const { X, y } = rows(200, 3, 4);
    other.fit(X, y);
    assert.throws(() => averageGbdt([members[0]!, other]), /member 1 has 3 features, member 0 4/);
    assert.throws(() => averageGbdt([]), /no models/);
  });
});
