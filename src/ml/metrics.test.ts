import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  averagePrecision,
  brierScore,
  calibrationBins,
  chooseThreshold,
  confusionAt,
  evaluateBinary,
  logLoss,
  rates,
  rocAuc,
} from './metrics.js';

interface MetricsFixture {
  y: number[];
  sets: {
    name: string;
    p: number[];
    roc_auc: number;
    average_precision: number;
    log_loss: number;
    brier: number;
    accuracy: number;
    precision: number;
    recall: number;
    f1: number;
    confusion: number[][];
    calibration_prob_true: number[];
    calibration_prob_pred: number[];
  }[];
}
const fx = JSON.parse(
  readFileSync(new URL('./fixtures/metrics.json', import.meta.url), 'utf8'),
) as MetricsFixture;
const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs sklearn ${b}`);

describe('metrics vs scikit-learn (fixture)', () => {
  for (const s of fx.sets) {
    test(`${s.name} scores`, () => {
      close(rocAuc(fx.y, s.p), s.roc_auc, 'roc_auc');
      close(averagePrecision(fx.y, s.p), s.average_precision, 'average_precision');
      close(logLoss(fx.y, s.p), s.log_loss, 'log_loss');
      close(brierScore(fx.y, s.p), s.brier, 'brier');
      const c = confusionAt(fx.y, s.p, 0.5);
      assert.deepEqual(
        [
          [c.tn, c.fp],
          [c.fn, c.tp],
        ],
        s.confusion,
      );
      const r = rates(c);
      close(r.accuracy, s.accuracy, 'accuracy');
      close(r.precision, s.precision, 'precision');
      close(r.recall, s.recall, 'recall');
      close(r.f1, s.f1, 'f1');
      const { bins } = calibrationBins(fx.y, s.p, 10);
      assert.equal(bins.length, s.calibration_prob_true.length);
      bins.forEach((b, k) => {
        close(b.fraction_positive, s.calibration_prob_true[k]!, `calibration true ${k}`);
        close(b.mean_predicted, s.calibration_prob_pred[k]!, `calibration pred ${k}`);
      });
    });
  }
});

describe('metrics edge cases', () => {
  test('perfect, inverted and constant scores', () => {
    assert.equal(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]), 1);
    assert.equal(rocAuc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]), 0);
    assert.equal(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]), 0.5);
    assert.ok(Number.isNaN(rocAuc([1, 1], [0.2, 0.3])));
    assert.equal(averagePrecision([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]), 0.5);
  });
  test('log loss clips 0 and 1', () => {
    assert.ok(Number.isFinite(logLoss([1, 0], [0, 1])));
    assert.ok(logLoss([1, 0], [0, 1]) > 30);
  });
  test('chooseThreshold max_f1 finds the best cut; a number passes through', () => {
    const y = [0, 0, 1, 0, 1, 1];
    const p = [0.1, 0.2, 0.3, 0.4, 0.7, 0.8];
    const t = chooseThreshold(y, p, 'max_f1');
    assert.equal(t, 0.3);
    const f1 = rates(confusionAt(y, p, t)).f1;
    for (const other of p) assert.ok(rates(confusionAt(y, p, other)).f1 <= f1);
    assert.equal(chooseThreshold(y, p, 0.42), 0.42);
    assert.throws(() => chooseThreshold(y, p, 1.5), /threshold must be in \[0, 1\]/);
  });
  test('evaluateBinary bundles it all with ECE', () => {
    const e = evaluateBinary([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4], 0.5);
    assert.equal(e.accuracy, 1);
    assert.equal(e.roc_auc, 1);
    assert.deepEqual(e.confusion, { tn: 2, fp: 0, fn: 0, tp: 2 });
    // bins: 0.2 -> (0.1,0.2] y=0 ; 0.4 -> y=0 ; 0.6 -> y=1 ; 0.9 -> y=1
    assert.ok(Math.abs(e.ece - (0.2 + 0.4 + 0.4 + 0.1) / 4) < 1e-12);
    assert.throws(() => evaluateBinary([1], [0.1, 0.2]), /1 labels but 2 scores/);
  });
});
