import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bestSplitRange, SPLIT_DOUBLES } from './node-kernels.js';
import { createPrng } from './prng.js';

/** The best split over every feature of `bins` (per feature: its value bins' [g, h] pairs, then missing's). */
function bestOf(bins: [number, number][][]) {
  const m = bins.length;
  const nBins = Int32Array.from(bins, (b) => b.length - 1);
  const slotOffset = new Int32Array(m + 1);
  for (let f = 0; f < m; f++) slotOffset[f + 1] = slotOffset[f]! + bins[f]!.length;
  const hist = Float64Array.from(bins.flat(2));
  let g = 0;
  let h = 0;
  for (const [gi, hi] of bins[0]!) {
    g += gi;
    h += hi;
  }
  const out = new Float64Array(SPLIT_DOUBLES);
  bestSplitRange(hist, g, h, new Int32Array(0), 0, -1, 0, m, nBins, slotOffset, 1, 0, 1, out, 0);
  return { gain: out[0]!, feature: out[1]!, bin: out[2]!, defaultLeft: out[3] === 1 };
}

describe('best split: ties broken as XGBoost breaks them', () => {
  test('bins without rows between two cuts: the lowest cut when missing goes right, the highest when left', () => {
    // Bin 1 is empty, so "bins <= 0" and "bins <= 1" part the rows alike.
    const right = bestOf([[[-5, 5], [0, 0], [5, 5], [0, 0]]]);
    assert.deepEqual([right.bin, right.defaultLeft], [0, false]);
    const left = bestOf([[[-5, 5], [0, 0], [5, 5], [-5, 5]]]);
    assert.deepEqual([left.bin, left.defaultLeft], [1, true]);
  });

  test('a one-hot column and its complement: the earlier feature, whichever double rounding favours', () => {
    // Mirrored features part the rows alike; search (seeded) for sums where the later one's double gain is
    // larger, as happens in fits, and check the earlier still wins.
    const rng = createPrng(7);
    // Full 53-bit mantissas (one draw has 32 bits, whose sums are often exact).
    const r = () => rng.next() + rng.next() / 4294967296;
    let found = 0;
    for (let i = 0; i < 2000 && found < 5; i++) {
      // Sums of unlike magnitudes, so that (a + b) - a is not exactly b.
      const a: [number, number] = [r() * 1000 - 500, 1 + r() * 50];
      const b: [number, number] = [r() * 0.1 - 0.05, 1 + r() * 50];
      const g = a[0] + b[0];
      const h = a[1] + b[1];
      const gainOf = (l: [number, number]) =>
        (l[0] * l[0]) / (l[1] + 1) + ((g - l[0]) * (g - l[0])) / (h - l[1] + 1) - (g * g) / (h + 1);
      if (!(gainOf(b) > gainOf(a))) continue;
      found++;
      const best = bestOf([
        [a, b, [0, 0]],
        [b, a, [0, 0]],
      ]);
      assert.equal(best.feature, 0);
    }
    assert.equal(found, 5);
  });
});
