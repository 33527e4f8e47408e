import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { DummyClassifier, dummyModel } from './dummy.js';
import { LogisticRegression, logisticModel } from './logistic.js';
import { createMatrix, rowView } from './matrix.js';

interface LogisticFixture {
  X: number[][];
  y: number[];
  sample_weight: number[];
  cases: {
    name: string;
    params: { C: number; class_weight?: 'balanced' | Record<string, number> };
    sample_weight: boolean;
    coef: number[];
    intercept: number;
    proba_first10: number[];
  }[];
}
const fx = JSON.parse(
  readFileSync(new URL('./fixtures/logistic.json', import.meta.url), 'utf8'),
) as LogisticFixture;
const X = createMatrix(fx.X.length, fx.X[0]!.length, Float64Array.from(fx.X.flat()));
const y = Uint8Array.from(fx.y);

describe('logistic regression vs scikit-learn LogisticRegression (fixture)', () => {
  for (const c of fx.cases) {
    test(`${c.name}: coefficients within 1e-4`, () => {
      const params: Record<string, unknown> = { C: c.params.C };
      if (c.params.class_weight) params.classWeight = c.params.class_weight;
      const m = new LogisticRegression(params);
      m.fit(X, y, c.sample_weight ? { sampleWeight: Float64Array.from(fx.sample_weight) } : {});
      assert.ok(m.converged, 'converged');
      c.coef.forEach((w, j) => {
        assert.ok(Math.abs(m.coef[j]! - w) < 1e-4, `coef[${j}] ${m.coef[j]} vs sklearn ${w}`);
      });
      assert.ok(Math.abs(m.intercept - c.intercept) < 1e-4, `intercept ${m.intercept} vs ${c.intercept}`);
      const p = m.predictProba(X);
      c.proba_first10.forEach((q, i) => {
        assert.ok(Math.abs(p[i]! - q) < 1e-5, `proba ${i}: ${p[i]} vs ${q}`);
        assert.equal(m.predictOne(rowView(X, i)), p[i]);
      });
    });
  }

  test('the L-BFGS solver (used above 2,000 features) matches sklearn within 1e-4 too', () => {
    for (const c of fx.cases.filter((k) => ['C=1', 'C=0.05', 'balanced'].includes(k.name))) {
      const params: Record<string, unknown> = { C: c.params.C, solver: 'lbfgs' };
      if (c.params.class_weight) params.classWeight = c.params.class_weight;
      const m = new LogisticRegression(params);
      m.fit(X, y);
      c.coef.forEach((w, j) => {
        assert.ok(Math.abs(m.coef[j]! - w) < 1e-4, `${c.name} coef[${j}] ${m.coef[j]} vs sklearn ${w}`);
      });
      assert.ok(Math.abs(m.intercept - c.intercept) < 1e-4, `${c.name} intercept`);
    }
  });

  test('auto picks L-BFGS for very wide sparse inputs (no dim^2 Hessian)', () => {
    const n = 300;
    const p = 5_000;
    const Xw = createMatrix(n, p);
    const yw = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      yw[i] = i % 2;
      Xw.data[i * p + (i % 97)] = 1;
      Xw.data[i * p + 4_000 + (i % 2)] = 1; // a perfectly informative pair of columns
    }
    const m = new LogisticRegression({ C: 1 });
    m.fit(Xw, yw);
    assert.ok(m.converged);
    assert.ok(m.predictOne(rowView(Xw, 1)) > 0.8 && m.predictOne(rowView(Xw, 0)) < 0.2);
  });

  test('all-zero columns get weight exactly 0 and do not change the others', () => {
    const p = X.cols;
    const wide = createMatrix(X.rows, p + 3);
    for (let i = 0; i < X.rows; i++) wide.data.set(rowView(X, i), i * (p + 3) + 2); // zero columns 0, 1 and last
    const a = new LogisticRegression({ C: 1 });
    a.fit(X, y);
    const b = new LogisticRegression({ C: 1 });
    b.fit(wide, y);
    assert.equal(b.coef.length, p + 3);
    assert.deepEqual([b.coef[0], b.coef[1], b.coef[p + 2]], [0, 0, 0]);
    for (let j = 0; j < p; j++) assert.ok(Math.abs(b.coef[j + 2]! - a.coef[j]!) < 1e-12);
  });

  test('JSON round trip predicts identically and keeps importances', () => {
    const m = new LogisticRegression({ C: 0.3, classWeight: 'balanced' });
    const names = Array.from({ length: X.cols }, (_, j) => `x${j}`);
    m.fit(X, y, { featureNames: names });
    const imp = m.summary().importances as Record<string, number>;
    assert.deepEqual(Object.keys(imp).sort(), [...names].sort());
    const values = Object.values(imp);
    assert.ok(
      values.every((v, i) => i === 0 || v <= values[i - 1]!),
      'largest first',
    );
    assert.equal(imp.x1, Math.abs(m.coef[1]!));
    const restored = logisticModel.fromJSON(JSON.parse(JSON.stringify(m.toJSON())));
    assert.deepEqual(restored.summary?.().importances, imp);
    const back = logisticModel.fromJSON(JSON.parse(JSON.stringify(m.toJSON())));
    assert.deepEqual(back.predictProba(X), m.predictProba(X));
    assert.deepEqual(back.params, m.params);
  });

  test('bad parameters and missing values are clear input errors', () => {
    assert.throws(() => new LogisticRegression({ C: 0 }), /parameter C must be a number > 0, got 0/);
    assert.throws(() => new LogisticRegression({ C: 'abc' }), /parameter C must be a number > 0/);
    assert.throws(
      () => new LogisticRegression({ penalty: 'l1' }),
      /unknown parameter penalty; known parameters: C, /,
    );
    assert.throws(() => new LogisticRegression({ classWeight: 'heavy' }), /classWeight must be "balanced"/);
    assert.throws(
      () => new LogisticRegression({ solver: 'sag' }),
      /solver must be "auto", "newton" or "lbfgs"/,
    );
    const m = new LogisticRegression();
    const withNaN = createMatrix(2, 1, Float64Array.of(1, Number.NaN));
    assert.throws(() => m.fit(withNaN, Uint8Array.of(0, 1)), /feature 0 of row 2 is missing \(NaN\)/);
    assert.throws(
      () => logisticModel.fromJSON({ kind: 'logistic', format_version: 2, params: {} }),
      /logistic model format 2 is newer than this Tassel \(supports 1\.x\)/,
    );
    assert.throws(
      () => logisticModel.fromJSON({ kind: 'logistic', format_version: 1, params: {}, coef: 'x' }),
      /coef/,
    );
  });

  test('separable data stays finite thanks to L2', () => {
    const Xs = createMatrix(4, 1, Float64Array.of(-2, -1, 1, 2));
    const m = new LogisticRegression({ C: 1e6 });
    m.fit(Xs, Uint8Array.of(0, 0, 1, 1));
    assert.ok(Number.isFinite(m.coef[0]!) && m.coef[0]! > 5);
    assert.ok(m.predictOne(Float64Array.of(2)) > 0.99);
  });
});

describe('dummy classifier', () => {
  test('prior predicts the (weighted) positive rate', () => {
    const m = new DummyClassifier({ strategy: 'prior' });
    m.fit(X, Uint8Array.of(1, 0, 0, 0));
    assert.equal(m.predictOne(new Float64Array(0)), 0.25);
    m.fit(X, Uint8Array.of(1, 0), { sampleWeight: Float64Array.of(3, 1) });
    assert.equal(m.predictProba(createMatrix(2, 0)).join(), '0.75,0.75');
  });
  test('most_frequent predicts 0/1 and round-trips', () => {
    const m = dummyModel.create({ strategy: 'most_frequent' });
    m.fit(X, Uint8Array.of(1, 1, 0));
    assert.equal(m.predictOne(new Float64Array(0)), 1);
    const back = dummyModel.fromJSON(JSON.parse(JSON.stringify(m.toJSON())));
    assert.equal(back.predictOne(new Float64Array(0)), 1);
    assert.throws(
      () => dummyModel.create({ strategy: 'median' }),
      /strategy must be "prior" or "most_frequent"/,
    );
  });
});
