import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rocAuc } from '../ml/metrics.js';
import { estimatePerformance, fitIsotonic, realisedPerformance } from './performance.js';
import { prepareReference } from './reference.js';
import { type Shift, createSimulation } from './simulate.js';

describe('CBPE (confidence-based performance estimation)', () => {
  it('the expected confusion matrix is the sum of calibrated probabilities on each side of the threshold', () => {
    const e = estimatePerformance([0.9, 0.6, 0.2, 0.1], 0.5, null);
    assert.ok(Math.abs(e.confusion.tp - 1.5) < 1e-12);
    assert.ok(Math.abs(e.confusion.fp - 0.5) < 1e-12);
    assert.ok(Math.abs(e.confusion.fn - 0.3) < 1e-12);
    assert.ok(Math.abs(e.confusion.tn - 1.7) < 1e-12);
    assert.ok(Math.abs(e.accuracy - 3.2 / 4) < 1e-12);
  });

  it('estimates the realised ROC AUC within 0.02 under covariate shift, with no labels', () => {
    const sim = createSimulation(8);
    const ref = prepareReference(sim.profile(40_000, 3));
    const shifts: Shift[] = [
      {},
      { mean: { 0: 1, 1: -0.5 } },
      { mean: { 2: 1.5 }, weights: { 1: [0.8, 0.1, 0.05, 0.05] } },
    ];
    for (const [i, shift] of shifts.entries()) {
      const w = sim.window(20_000, 100 + i, shift);
      const est = estimatePerformance(w.scores, 0.5, ref.calibration);
      const real = rocAuc(w.outcomes, w.scores);
      assert.ok(
        Math.abs(est.roc_auc - real) < 0.02,
        `shift ${JSON.stringify(shift)}: CBPE ${est.roc_auc} vs realised ${real}`,
      );
      const realised = realisedPerformance(w.outcomes, w.scores, 0.5);
      assert.ok(
        Math.abs(est.accuracy - realised.accuracy) < 0.02,
        `accuracy ${est.accuracy} vs ${realised.accuracy}`,
      );
    }
  });

  it('concept drift is what CBPE cannot see: realised AUC falls, the estimate does not', () => {
    const sim = createSimulation(8);
    const ref = prepareReference(sim.profile(40_000, 3));
    const w = sim.window(20_000, 9, { concept: 2.5 });
    const est = estimatePerformance(w.scores, 0.5, ref.calibration);
    const real = rocAuc(w.outcomes, w.scores);
    assert.ok(est.roc_auc - real > 0.1, `CBPE ${est.roc_auc} vs realised ${real}`);
  });

  it('isotonic calibration is non-decreasing and maps perfectly separated scores to 0 and 1', () => {
    const map = fitIsotonic([0.1, 0.2, 0.3, 0.7, 0.8], [0, 0, 0, 1, 1]);
    assert.deepEqual(map.y[0], 0);
    assert.deepEqual(map.y[map.y.length - 1], 1);
    for (let k = 1; k < map.y.length; k++) assert.ok(map.y[k]! >= map.y[k - 1]!);
  });
});
