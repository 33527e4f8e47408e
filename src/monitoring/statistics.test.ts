import fc from 'fast-check';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { adjustPValues } from './multiple-testing.js';
import { applyIsotonic, fitIsotonic } from './performance.js';
import {
  binnedReference,
  binShares,
  chiSquaredTwoSample,
  compareBinned,
  gammaincc,
  jensenShannon,
  kolmogorovSf,
  ksTwoSample,
  psiNumeric,
  quantileEdges,
  sortedFinite,
  wasserstein,
} from './statistics.js';

interface Fixture {
  numeric: Array<{
    name: string;
    reference: number[];
    window: number[];
    ks_statistic: number;
    ks_pvalue: number;
    wasserstein: number;
    psi: number;
  }>;
  categorical: Array<{
    name: string;
    reference: number[];
    window: number[];
    chi2_statistic: number;
    chi2_pvalue: number;
    js_distance: number;
  }>;
  gammaincc: Array<{ a: number; x: number; q: number }>;
  kolmogorov: Array<{ x: number; sf: number }>;
  isotonic: { scores: number[]; labels: number[]; grid: number[]; predicted: number[] };
  corrections: { pvalues: number[]; holm: number[]; bh: number[] };
}

const fx = JSON.parse(
  readFileSync(new URL('./fixtures/statistics.json', import.meta.url), 'utf8'),
) as Fixture;

const close = (actual: number, expected: number, tol: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs scipy ${expected} (tol ${tol})`);

describe('drift statistics against scipy', () => {
  for (const c of fx.numeric) {
    it(`numeric ${c.name}: KS, Wasserstein and PSI`, () => {
      const a = sortedFinite(c.reference);
      const b = sortedFinite(c.window);
      const ks = ksTwoSample(a, b);
      close(ks.statistic, c.ks_statistic, 1e-12, 'KS D');
      // Stephens-corrected Kolmogorov vs scipy's kstwo at the rounded effective size: a few per cent relative
      const rel = Math.abs(ks.pvalue - c.ks_pvalue) / Math.max(c.ks_pvalue, 1e-3);
      assert.ok(rel < 0.06, `KS p ${ks.pvalue} vs scipy ${c.ks_pvalue}`);
      close(wasserstein(a, b), c.wasserstein, 1e-9, 'Wasserstein');
      close(wasserstein(b, a), c.wasserstein, 1e-9, 'Wasserstein (symmetric)');
      close(psiNumeric(a, b), c.psi, 1e-9, 'PSI');
    });
  }
  for (const c of fx.categorical) {
    it(`categorical ${c.name}: chi-squared and Jensen-Shannon`, () => {
      const chi = chiSquaredTwoSample(c.reference, c.window);
      close(chi.statistic, c.chi2_statistic, 1e-9 * Math.max(1, c.chi2_statistic), 'chi2');
      close(chi.pvalue, c.chi2_pvalue, 1e-10 + 1e-8 * c.chi2_pvalue, 'chi2 p');
      close(jensenShannon(c.reference, c.window), c.js_distance, 1e-12, 'JS distance');
    });
  }
  it('regularized upper incomplete gamma and the Kolmogorov distribution', () => {
    for (const g of fx.gammaincc) close(gammaincc(g.a, g.x), g.q, 1e-12 + 1e-9 * g.q, `Q(${g.a}, ${g.x})`);
    for (const k of fx.kolmogorov) close(kolmogorovSf(k.x), k.sf, 1e-12, `kolmogorov(${k.x})`);
  });
  it('isotonic calibration map predicts as scikit-learn', () => {
    const map = fitIsotonic(fx.isotonic.scores, fx.isotonic.labels);
    for (const [i, g] of fx.isotonic.grid.entries())
      close(applyIsotonic(map, g), fx.isotonic.predicted[i]!, 1e-6, `isotonic(${g})`);
  });
  it('Holm and Benjamini-Hochberg adjusted p-values', () => {
    const { pvalues, holm, bh } = fx.corrections;
    const h = adjustPValues(pvalues, 'holm');
    const b = adjustPValues(pvalues, 'bh');
    for (let i = 0; i < pvalues.length; i++) {
      close(h[i]!, holm[i]!, 1e-15, `holm[${i}]`);
      close(b[i]!, bh[i]!, 1e-15, `bh[${i}]`);
    }
    // textbook case: p = (0.01, 0.04, 0.03) -> Holm (0.03, 0.06, 0.06), BH (0.03, 0.04, 0.04)
    assert.deepEqual(
      adjustPValues([0.01, 0.04, 0.03], 'holm').map((x) => +x.toFixed(10)),
      [0.03, 0.06, 0.06],
    );
    assert.deepEqual(
      adjustPValues([0.01, 0.04, 0.03], 'bh').map((x) => +x.toFixed(10)),
      [0.03, 0.04, 0.04],
    );
    assert.ok(Number.isNaN(adjustPValues([Number.NaN, 0.01], 'holm')[0]!));
    assert.equal(adjustPValues([Number.NaN, 0.01], 'holm')[1], 0.01);
  });
  it('degenerate inputs: empty samples give NaN, one category gives no evidence', () => {
    assert.ok(Number.isNaN(ksTwoSample(new Float64Array(), Float64Array.of(1)).statistic));
    assert.deepEqual(chiSquaredTwoSample([10], [5]), { statistic: 0, pvalue: 1 });
    assert.equal(jensenShannon([1, 2], [1, 2]), 0);
  });
});

describe('binned comparison of a large window (no sort)', () => {
  /** Reference samples with ties (small integers) and arbitrary finite doubles. */
  const referenceValues = fc.array(
    fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -5, max: 5 })),
    { minLength: 1, maxLength: 300 },
  );
  it('gives the exact KS statistic and the Wasserstein distance within the reference gaps', () => {
    for (const c of fx.numeric) {
      const a = sortedFinite(c.reference);
      const b = sortedFinite(c.window);
      const shuffled = Float64Array.from(c.window).reverse();
      const r = compareBinned(binnedReference(a), shuffled);
      close(r.statistic, ksTwoSample(a, b).statistic, 1e-12, `${c.name} D`);
      // fixture references have 40 to 1,000 points, so gaps are wide: within 3 %
      close(r.wasserstein, c.wasserstein, 0.03 * c.wasserstein + 1e-9, `${c.name} W`);
      assert.equal(r.present, b.length);
    }
  });
  it('is within 0.5 % of the exact Wasserstein distance at a 5,000-point reference', () => {
    const sample = (n: number, shift: number, seed: number) => {
      let s = seed;
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        const u1 = (s + 1) / 4294967297;
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        const u2 = s / 4294967296;
        out[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2) + shift;
      }
      return out;
    };
    const ref = sortedFinite(sample(5000, 0, 1));
    const win = sample(100_000, 0.3, 2);
    const r = compareBinned(binnedReference(ref), win);
    const exact = wasserstein(ref, sortedFinite(win));
    close(r.wasserstein, exact, 0.005 * exact, 'W');
    close(r.statistic, ksTwoSample(ref, sortedFinite(win)).statistic, 1e-12, 'D');
  });
  it('the value grid places every window value as a plain binary search does (ties, edges, extremes, skew)', () => {
    fc.assert(
      fc.property(
        referenceValues,
        fc.array(fc.oneof(fc.double({ noDefaultInfinity: true }), fc.integer({ min: -6, max: 6 })), {
          maxLength: 300,
        }),
        fc.integer({ min: 0, max: 1000 }),
        (refValues, extra, pick) => {
          const a = sortedFinite(
            Float64Array.from(refValues.map((v) => (pick % 3 === 0 ? Math.exp(v % 50) : v))),
          );
          const binned = binnedReference(a);
          const plain = { ...binned, grid: { scale: 0, start: Int32Array.of(0, binned.values.length) } };
          // the window: reference values themselves, neighbours of them, and arbitrary values
          const win = Float64Array.from([
            ...a.slice(0, 50),
            ...a.slice(0, 20).map((v) => v + 1e-9 * (pick - 500)),
            ...extra,
          ]);
          const fast = compareBinned(binned, win);
          const slow = compareBinned(plain, win);
          assert.ok(Object.is(fast.statistic, slow.statistic), `D ${fast.statistic} vs ${slow.statistic}`);
          assert.ok(
            Object.is(fast.wasserstein, slow.wasserstein),
            `W ${fast.wasserstein} vs ${slow.wasserstein}`,
          );
          assert.equal(fast.present, slow.present);
        },
      ),
      { numRuns: 300 },
    );
  });
  it('counts the PSI bins and the values outside [min, max] in the same pass as a sorted window does', () => {
    fc.assert(
      fc.property(
        referenceValues,
        fc.array(fc.oneof(fc.double(), fc.integer({ min: -6, max: 6 })), { maxLength: 300 }),
        fc.integer({ min: 1, max: 12 }),
        (refValues, extra, bins) => {
          const a = sortedFinite(Float64Array.from(refValues));
          const edges = quantileEdges(a, bins);
          const binned = binnedReference(a, edges);
          // reference values, the edges themselves and their neighbours, arbitrary values (NaN, infinities)
          const win = Float64Array.from([
            ...a.slice(0, 50),
            ...edges,
            ...edges.map((e) => e + 1e-9),
            ...edges.map((e) => e - Math.abs(e) * Number.EPSILON),
            ...extra,
          ]);
          const [min, max] = [a[0]! - 1, a[a.length - 1]!];
          const r = compareBinned(binned, win, min, max);
          const sorted = sortedFinite(win);
          const shares = binShares(sorted, edges);
          assert.deepEqual(
            Array.from(r.binCounts!, (c) => c / sorted.length),
            Array.from(shares),
          );
          assert.equal(r.outside, win.filter((v) => v < min || v > max).length);
          assert.equal(r.binCounts!.length, edges.length + 1);
        },
      ),
      { numRuns: 300 },
    );
  });
});
