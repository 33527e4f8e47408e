import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { createMatrix } from '../matrix.js';
import { gbdtFromJSON } from './gbdt-classifier.js';
import { importXgboostModel } from './xgboost-import.js';

const dir = new URL('./fixtures/', import.meta.url);
const modelText = readFileSync(new URL('xgboost-1.7.4-model.json', dir), 'utf8');
const cases = JSON.parse(readFileSync(new URL('xgboost-1.7.4-cases.json', dir), 'utf8')) as {
  feature_names: string[];
  best_iteration: number;
  n_trees: number;
  inputs: Array<Array<number | null>>;
  proba_best: number[];
  margin_all: number[];
  proba_all: number[];
};
const width = cases.feature_names.length;
const X = createMatrix(
  cases.inputs.length,
  width,
  Float64Array.from(cases.inputs.flat(), (v) => (v === null ? Number.NaN : v)),
);

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
};

describe('XGBoost import (fixture from xgboost 1.7.4)', () => {
  test('predict_proba (stopping at best_iteration) matches XGBoost within 1e-5', () => {
    const m = importXgboostModel(modelText);
    assert.equal(m.ensemble.nTrees, cases.best_iteration + 1);
    assert.ok(
      cases.inputs.some((r) => r.includes(null)),
      'fixture has missing values',
    );
    const d = maxDiff(m.predictProba(X), cases.proba_best);
    assert.ok(d <= 1e-5, `max |diff| ${d}`);
    for (let i = 0; i < X.rows; i += 37) {
      assert.ok(
        Math.abs(m.predictOne(X.data.subarray(i * width, (i + 1) * width)) - cases.proba_best[i]!) <= 1e-5,
      );
    }
  });

  test('all trees: raw margins and probabilities match Booster.predict within 1e-5', () => {
    const m = importXgboostModel(JSON.parse(modelText), { useBestIteration: false });
    assert.equal(m.ensemble.nTrees, cases.n_trees);
    assert.ok(maxDiff(m.predictMargin(X), cases.margin_all) <= 1e-5);
    assert.ok(maxDiff(m.predictProba(X), cases.proba_all) <= 1e-5);
  });

  test('threshold probes need float32 comparison: float64 comparison would disagree with XGBoost', () => {
    const m = importXgboostModel(modelText, { useBestIteration: false });
    const json = m.toJSON();
    const as64 = gbdtFromJSON({ ...json, precision: 'float64' });
    const d64 = maxDiff(as64.predictMargin(X), cases.margin_all);
    assert.ok(d64 > 1e-3, `float64 semantics should differ on the probes (got ${d64})`);
  });

  test('feature names: splits follow names when the scoring columns come in another order', () => {
    const m = importXgboostModel(modelText);
    const perm = [...cases.feature_names].reverse();
    const extra = [...perm, 'unused_column'];
    const m2 = importXgboostModel(modelText, { featureNames: extra });
    const w2 = extra.length;
    const data = new Float64Array(X.rows * w2);
    for (let i = 0; i < X.rows; i++) {
      for (let j = 0; j < width; j++)
        data[i * w2 + extra.indexOf(cases.feature_names[j]!)] = X.data[i * width + j]!;
      data[i * w2 + width] = 12345;
    }
    assert.deepEqual(m2.predictProba(createMatrix(X.rows, w2, data)), m.predictProba(X));
    assert.throws(
      () => importXgboostModel(modelText, { featureNames: perm.slice(1) }),
      /missing from the given feature names/,
    );
    const imp = m.featureImportances('weight');
    assert.ok(Object.keys(imp).every((k) => cases.feature_names.includes(k)));
  });

  test('bundle JSON round trip of an imported model is bit-identical', () => {
    const m = importXgboostModel(modelText);
    const back = gbdtFromJSON(JSON.parse(JSON.stringify(m.toJSON())));
    assert.deepEqual(back.predictProba(X), m.predictProba(X));
    assert.equal(back.summary().source, 'xgboost');
  });

  test('unsupported models are rejected with a clear message', () => {
    const j = JSON.parse(modelText);
    j.learner.objective.name = 'multi:softprob';
    assert.throws(() => importXgboostModel(j), /only binary:logistic/);
    assert.throws(() => importXgboostModel('{"learner": {}}'), /learner.objective is missing/);
    assert.throws(() => importXgboostModel('not json'), /not valid JSON/);
    const k = JSON.parse(modelText);
    k.learner.gradient_booster.model.trees[0].left_children[0] = 999;
    assert.throws(() => importXgboostModel(k), /bad children/);
  });

  test('XGBoost 2.x layout variants: bracketed base_score and boolean default_left', () => {
    const j = JSON.parse(modelText);
    j.learner.learner_model_param.base_score = `[${j.learner.learner_model_param.base_score}]`;
    for (const t of j.learner.gradient_booster.model.trees)
      t.default_left = t.default_left.map((v: number) => v === 1);
    j.version = [2, 1, 0];
    const m = importXgboostModel(j);
    assert.ok(maxDiff(m.predictProba(X), cases.proba_best) <= 1e-5);
  });
});
