import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_THRESHOLDS, evaluateWindow } from './drift.js';
import { prepareReference } from './reference.js';
import { createSimulation } from './simulate.js';

// A world of 8 numeric features (normal, lognormal, uniform, integer counts) and 3 categorical ones; the
// reference is 50,000 training rows, windows are 2,000 rows.
const sim = createSimulation(8);
const ref = prepareReference(sim.profile(50_000, 7));
const WINDOW = 2000;

/** Upper 99.9 % bound of a binomial count with rate `p` over `n` trials (normal approximation, continuity). */
const binomialUpper = (n: number, p: number) => n * p + 3.1 * Math.sqrt(n * p * (1 - p)) + 0.5;

describe('drift detection properties (fast-check)', () => {
  it('windows drawn from the reference distribution alarm at no more than alpha', () => {
    let windows = 0;
    let alarms = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1000, max: 2 ** 30 }), (seed) => {
        const report = evaluateWindow(ref, sim.window(WINDOW, seed), DEFAULT_THRESHOLDS);
        windows++;
        if (report.alerts.some((a) => a.kind === 'drift')) alarms++;
        // performance of an unshifted window is estimated close to the reference
        assert.ok(report.performance.estimated!.roc_auc > report.performance.reference_auc! - 0.05);
        return true;
      }),
      { numRuns: 400, seed: 17 },
    );
    const bound = binomialUpper(windows, DEFAULT_THRESHOLDS.alpha);
    assert.ok(
      alarms <= bound,
      `${alarms} of ${windows} reference windows alarmed (alpha ${DEFAULT_THRESHOLDS.alpha}, bound ${bound.toFixed(1)})`,
    );
  });

  it('a 0.2-std mean shift in one numeric feature is detected at window 2,000 in >= 95 % of windows', () => {
    let windows = 0;
    let detected = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1000, max: 2 ** 30 }),
        fc.integer({ min: 0, max: 7 }),
        fc.boolean(),
        (seed, feature, up) => {
          const report = evaluateWindow(
            ref,
            sim.window(WINDOW, seed, { mean: { [feature]: up ? 0.2 : -0.2 } }),
          );
          windows++;
          if (report.drifted_features.includes(`x${feature}`)) detected++;
          return true;
        },
      ),
      { numRuns: 200, seed: 18 },
    );
    assert.ok(detected / windows >= 0.95, `detected in ${detected} of ${windows} windows`);
  });
});

describe('large windows (binned, no sort)', () => {
  it('report the same KS statistic, PSI and missing rate as the sorted path would', async () => {
    const { ksTwoSample, sortedFinite, psiNumeric } = await import('./statistics.js');
    const w = sim.window(25_000, 5, { mean: { 0: 0.1 } });
    w.numeric.get('x1')![7] = Number.NaN;
    const report = evaluateWindow(ref, w);
    for (const f of ['x0', 'x1', 'x3']) {
      const r = ref.features.find((x) => x.name === f)!;
      if (r.type !== 'numeric') continue;
      const sorted = sortedFinite(w.numeric.get(f)!);
      const got = report.features.find((x) => x.feature === f)!;
      assert.ok(Math.abs(got.statistic - ksTwoSample(r.sorted, sorted).statistic) < 1e-7, f);
      assert.ok(Math.abs(got.psi - psiNumeric(r.sorted, sorted)) < 1e-6, `${f} psi`);
    }
    assert.ok(Math.abs(report.features.find((x) => x.feature === 'x1')!.missing_rate - 1 / 25_000) < 1e-9);
    assert.ok(report.drifted_features.includes('x0'));
  });
});
