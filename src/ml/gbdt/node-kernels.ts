/*
 * The per-node work of tree growing over a range of features, as plain self-contained functions: the calling
 * thread runs them directly, and threads.ts builds its worker's source from their text (toString), so both
 * threads run the same arithmetic and the threaded model is bit-identical to the serial one. They must not
 * reference anything outside their own bodies but each other (no imports, no closures).
 *
 * Feature lists are `(list, at, count)`: features list[at .. at + count), ascending; count -1 means all.
 * A split is written as 6 doubles at out[o]: gain, feature (-1: none), bin, default left (0/1), G_L, H_L.
 */

/** Doubles per split in a result block. */
export const SPLIT_DOUBLES = 6;

/**
 * Zeroes hist's doubles [zeroLo, zeroHi), then adds the gradient and hessian of rows[start, end) to the
 * slots of their cells from[r] .. to[r] (in row order, so each slot's sum is the serial one). A profiled hot
 * loop.
 */
export function sumCells(
  hist: Float64Array,
  rows: Uint32Array,
  start: number,
  end: number,
  grad: Float64Array,
  hess: Float64Array,
  from: Uint32Array,
  to: Uint32Array,
  slots: Uint16Array | Uint32Array,
  zeroLo: number,
  zeroHi: number,
): void {
  hist.fill(0, zeroLo, zeroHi);
  for (let i = start; i < end; i++) {
    const r = rows[i]!;
    const g = grad[r]!;
    const h = hess[r]!;
    const e = to[r]!;
    let k = from[r]!;
    // Two cells a step: a row's cells are distinct slots, so each slot still sums its rows in row order.
    for (; k + 1 < e; k += 2) {
      const a = slots[k]! << 1;
      const b = slots[k + 1]! << 1;
      hist[a]! += g;
      hist[a + 1]! += h;
      hist[b]! += g;
      hist[b + 1]! += h;
    }
    if (k < e) {
      const a = slots[k]! << 1;
      hist[a]! += g;
      hist[a + 1]! += h;
    }
  }
}

/** Sets the default slot of each listed feature in [fLo, fHi) to the node totals minus its other slots. */
export function fillDefaults(
  hist: Float64Array,
  slotOffset: Int32Array,
  defaultSlot: Int32Array,
  list: Int32Array,
  at: number,
  count: number,
  fLo: number,
  fHi: number,
  gTotal: number,
  hTotal: number,
): void {
  const n = count < 0 ? fHi - fLo : count;
  for (let j = 0; j < n; j++) {
    const f = count < 0 ? fLo + j : list[at + j]!;
    if (f < fLo || f >= fHi) continue;
    const d = defaultSlot[f]!;
    let g = 0;
    let h = 0;
    for (let s = slotOffset[f]!; s < slotOffset[f + 1]!; s++) {
      if (s === d) continue;
      g += hist[2 * s]!;
      h += hist[2 * s + 1]!;
    }
    hist[2 * d] = gTotal - g;
    hist[2 * d + 1] = hTotal - h;
  }
}

/** big -= small over doubles [lo, hi) (the sibling's histogram by subtraction). */
export function subtractRange(big: Float64Array, small: Float64Array, lo: number, hi: number): void {
  for (let k = lo; k < hi; k++) big[k]! -= small[k]!;
}

/**
 * XGBoost's best split of a node (gradient sum g, hessian sum h) over the listed features in [fLo, fHi),
 * missing values tried on both sides and, as XGBoost does, apart from all values (bin nBins[f] - 1: every
 * value left, missing right), written to out[o..o+6). The gain is XGBoost's
 * ThresholdL1(G_L)²/(H_L+λ) + ThresholdL1(G_R)²/(H_R+λ) − ThresholdL1(G)²/(H+λ), compared as a float32 as
 * XGBoost's loss_chg is: two splits that part the node's rows alike (a one-hot column and its complement, two
 * bins with no row of the node between them) have one gain in exact arithmetic but differ in the last bits of a
 * double, and are then ties broken in XGBoost's order. Per feature XGBoost scans missing-right splits upwards
 * and missing-left ones downwards, each keeping the first best, and a missing-left split must beat the
 * missing-right one strictly: so the lowest bin wins a tie among missing-right splits, the highest among
 * missing-left ones. Across features only a strictly greater gain replaces the best, so features earlier in the
 * list win ties. A profiled hot loop (one flat function).
 */
export function bestSplitRange(
  hist: Float64Array,
  g: number,
  h: number,
  list: Int32Array,
  at: number,
  count: number,
  fLo: number,
  fHi: number,
  nBins: Int32Array,
  slotOffset: Int32Array,
  lambda: number,
  alpha: number,
  mcw: number,
  out: Float64Array,
  o: number,
): void {
  // A missing slot whose hessian is at most this fraction of the node's holds rounding residue, not rows.
  const missingEps = 1e-10;
  const tp = g > alpha ? g - alpha : g < -alpha ? g + alpha : 0;
  const parent = (tp * tp) / (h + lambda);
  let bestGain = 0;
  let bestFeature = -1;
  let bestBin = 0;
  let bestDl = 0;
  let bestGl = 0;
  let bestHl = 0;
  const n = count < 0 ? fHi - fLo : count;
  for (let j = 0; j < n; j++) {
    const f = count < 0 ? fLo + j : list[at + j]!;
    if (f < fLo || f >= fHi) continue;
    const nb = nBins[f]!;
    const off = slotOffset[f]!;
    const ms = 2 * (off + nb);
    const gm = hist[ms]!;
    const hm = hist[ms + 1]!;
    const hasMissing = hm > missingEps * h;
    // With missing values, XGBoost's upward scan ends with every value left and the missing right.
    const last = hasMissing ? nb : nb - 1;
    if (last < 1) continue;
    let gl = 0;
    let hl = 0;
    // This feature's best missing-right (r*) and missing-left (l*) splits.
    let rGain = 0;
    let rBin = -1;
    let rGl = 0;
    let rHl = 0;
    let lGain = 0;
    let lBin = -1;
    let lGl = 0;
    let lHl = 0;
    for (let t = 0; t < last; t++) {
      const k = 2 * (off + t);
      gl += hist[k]!;
      hl += hist[k + 1]!;
      let hr = h - hl;
      if (hl >= mcw && hr >= mcw) {
        const a = gl > alpha ? gl - alpha : gl < -alpha ? gl + alpha : 0;
        const gr = g - gl;
        const b = gr > alpha ? gr - alpha : gr < -alpha ? gr + alpha : 0;
        const gain = Math.fround((a * a) / (hl + lambda) + (b * b) / (hr + lambda) - parent);
        if (gain > rGain) {
          rGain = gain;
          rBin = t;
          rGl = gl;
          rHl = hl;
        }
      }
      if (hasMissing && t < nb - 1) {
        const gl2 = gl + gm;
        const hl2 = hl + hm;
        hr = h - hl2;
        if (hl2 >= mcw && hr >= mcw) {
          const a = gl2 > alpha ? gl2 - alpha : gl2 < -alpha ? gl2 + alpha : 0;
          const gr = g - gl2;
          const b = gr > alpha ? gr - alpha : gr < -alpha ? gr + alpha : 0;
          const gain = Math.fround((a * a) / (hl2 + lambda) + (b * b) / (hr + lambda) - parent);
          if (gain > 0 && gain >= lGain) {
            lGain = gain;
            lBin = t;
            lGl = gl2;
            lHl = hl2;
          }
        }
      }
    }
    const left = lBin >= 0 && lGain > rGain;
    const fGain = left ? lGain : rGain;
    if ((left || rBin >= 0) && fGain > bestGain) {
      bestGain = fGain;
      bestFeature = f;
      bestBin = left ? lBin : rBin;
      bestDl = left ? 1 : 0;
      bestGl = left ? lGl : rGl;
      bestHl = left ? lHl : rHl;
    }
  }
  out[o] = bestGain;
  out[o + 1] = bestFeature;
  out[o + 2] = bestBin;
  out[o + 3] = bestDl;
  out[o + 4] = bestGl;
  out[o + 5] = bestHl;
}

/**
 * Stable partition of rows[start, end) by a split: rows whose bin (col[row]) is <= `bin` go left, and
 * those in `missing` (the feature's missing bin, its last) when `dl` is 1; left rows in place from start, right rows to tmp
 * from tmpAt; returns the left count. Branch-free, every row written to both sides and one cursor advanced: the
 * side of a row is a coin flip to the branch predictor. A profiled hot loop.
 */
export function partitionRows(
  rows: Uint32Array,
  tmp: Uint32Array,
  col: Uint8Array | Uint16Array,
  start: number,
  end: number,
  bin: number,
  missing: number,
  dl: number,
  tmpAt: number,
): number {
  let l = start;
  let k = tmpAt;
  for (let i = start; i < end; i++) {
    const r = rows[i]!;
    const b = col[r]!;
    // (bin - b) >>> 31 is 1 iff b > bin; ((b ^ missing) - 1) >>> 31 is 1 iff b === missing.
    const left = (((bin - b) >>> 31) ^ 1) | ((((b ^ missing) - 1) >>> 31) & dl);
    rows[l] = r;
    tmp[k] = r;
    l += left;
    k += left ^ 1;
  }
  return l - start;
}

/**
 * Ints of the level block's header: [0] task counter, [1] tasks, [2] tree list count, [3] pool histograms,
 * [4] where the task table starts, [5] where the tree's feature list starts.
 */
export const LEVEL_HEADER = 8;
/** Ints of one node job's record in the level block (see levelTask). */
export const LEVEL_RECORD = 9;

/**
 * Task t of a tree level's node jobs: one job over a run of feature ranges, as the serial kernel's node job
 * does over those features (their histogram slots, default slots, the sibling by subtraction, the best
 * splits), its splits to res[12t .. 12t + 12). `lv` holds the header (LEVEL_HEADER ints), job j's record at
 * LEVEL_HEADER + LEVEL_RECORD j: small, big (-1: none), split small (0/1), start, end, small's list at /
 * count, big's list at / count (count -1: all features); task t's (job, first range, end range) at
 * lv[4] + 3t; the tree's feature list at lv[5]. `lf` holds job j's totals at 4j: small's g, h, big's g, h.
 * Ranges [a, b) are features [bounds[a], bounds[b]), whose cells of row x are [cells[a][x], cells[b][x]).
 * The constants are written out: the worker runs this function's text alone.
 */
export function levelTask(
  t: number,
  lv: Int32Array,
  lf: Float64Array,
  hists: Float64Array[],
  rows: Uint32Array,
  grad: Float64Array,
  hess: Float64Array,
  cells: Uint32Array[],
  slots: Uint16Array | Uint32Array,
  bounds: Int32Array,
  slotOffset: Int32Array,
  defaultSlot: Int32Array,
  nBins: Int32Array,
  lambda: number,
  alpha: number,
  mcw: number,
  res: Float64Array,
): void {
  const at = lv[4]! + 3 * t;
  const j = lv[at]!;
  const b = 8 + 9 * j;
  const fLo = bounds[lv[at + 1]!]!;
  const fHi = bounds[lv[at + 2]!]!;
  const lo = 2 * slotOffset[fLo]!;
  const hi = 2 * slotOffset[fHi]!;
  const small = hists[lv[b]!]!;
  const gs = lf[4 * j]!;
  const hs = lf[4 * j + 1]!;
  const from = cells[lv[at + 1]!]!;
  const to = cells[lv[at + 2]!]!;
  sumCells(small, rows, lv[b + 3]!, lv[b + 4]!, grad, hess, from, to, slots, lo, hi);
  fillDefaults(small, slotOffset, defaultSlot, lv, lv[5]!, lv[2]!, fLo, fHi, gs, hs);
  const o = 12 * t;
  if (lv[b + 2] === 1) {
    bestSplitRange(
      small,
      gs,
      hs,
      lv,
      lv[b + 5]!,
      lv[b + 6]!,
      fLo,
      fHi,
      nBins,
      slotOffset,
      lambda,
      alpha,
      mcw,
      res,
      o,
    );
  }
  if (lv[b + 1]! < 0) return;
  const big = hists[lv[b + 1]!]!;
  subtractRange(big, small, lo, hi);
  const gb = lf[4 * j + 2]!;
  const hb = lf[4 * j + 3]!;
  bestSplitRange(
    big,
    gb,
    hb,
    lv,
    lv[b + 7]!,
    lv[b + 8]!,
    fLo,
    fHi,
    nBins,
    slotOffset,
    lambda,
    alpha,
    mcw,
    res,
    o + 6,
  );
}

/** Ints of the partition block's header: [0] task counter, [1] tasks. */
export const PARTITION_HEADER = 4;
/** Ints of one partition task's record: start, end, feature, bin, missing bin, default left (0/1). */
export const PARTITION_RECORD = 6;

/**
 * Partition task t: rows[start, end) of its record by its split (partitionRows: left rows in place, right
 * rows to tmp from start), the left count to left[t].
 */
export function partitionTask(
  t: number,
  pt: Int32Array,
  left: Int32Array,
  rows: Uint32Array,
  tmp: Uint32Array,
  bins: (Uint8Array | Uint16Array)[],
): void {
  const b = 4 + 6 * t;
  const start = pt[b]!;
  left[t] = partitionRows(
    rows,
    tmp,
    bins[pt[b + 2]!]!,
    start,
    pt[b + 1]!,
    pt[b + 3]!,
    pt[b + 4]!,
    pt[b + 5]!,
    start,
  );
}
