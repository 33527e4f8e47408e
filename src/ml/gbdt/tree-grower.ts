import type { BinCuts, BinnedRows, SparseRows } from './binning.js';
import type { FlatTree } from './ensemble.js';
import type { GbdtParams } from './params.js';
import { type Prng, sampleSorted } from './prng.js';

/** Loss reductions at or below this are not splits (XGBoost's kRtEps). */
const RT_EPS = 1e-6;

/** A missing slot whose hessian is at most this fraction of the node's holds no rows. */
const MISSING_EPS = 1e-10;

/**
 * Builds a gradient/hessian histogram of rows[start, end) into `hist` (interleaved g, h per slot), correct at
 * least for `features` (null = all); g and h are the rows' gradient and hessian totals.
 */
export type HistogramBuilder = (
  hist: Float64Array,
  rows: Uint32Array,
  start: number,
  end: number,
  features: Int32Array | null,
  g: number,
  h: number,
) => void;

/**
 * Stable partition of rows[start, end) by a split of feature f (bins <= slot go left, the missing slot goes
 * left when dl); returns the first index of the right child. Rows keep their order on each side.
 */
export type RowPartitioner = (
  rows: Uint32Array,
  start: number,
  end: number,
  f: number,
  slot: number,
  missingSlot: number,
  dl: boolean,
) => number;

/** A tree as grown: the flat tree plus binned split slots, and where each leaf's rows sit in the row buffer. */
export interface GrownTree {
  tree: FlatTree;
  /** Global bin slot of each internal node's split (bins <= slot go left); -1 on leaves. */
  splitSlot: Int32Array;
  /** Triples (node, start, end): rows[start, end) of the row buffer reached leaf `node`. */
  leafRanges: number[];
}

interface Split {
  gain: number;
  feature: number;
  bin: number;
  defaultLeft: boolean;
  gl: number;
  hl: number;
}

interface Candidate {
  node: number;
  depth: number;
  start: number;
  end: number;
  g: number;
  h: number;
  hist: Float64Array;
  split: Split;
  order: number;
}

/**
 * XGBoost's regularised gain of a node with gradient sum g and hessian sum h:
 * ThresholdL1(g, alpha)^2 / (h + lambda) (the split gain is left + right - parent, compared with gamma).
 */
export function nodeGain(g: number, h: number, lambda: number, alpha: number): number {
  const t = g > alpha ? g - alpha : g < -alpha ? g + alpha : 0;
  return (t * t) / (h + lambda);
}

/** XGBoost's leaf weight -ThresholdL1(g, alpha) / (h + lambda) (before the learning rate); 0 below min_child_weight. */
export function leafWeight(g: number, h: number, p: GbdtParams): number {
  if (h < p.min_child_weight || h <= 0) return 0;
  const t = g > p.alpha ? g - p.alpha : g < -p.alpha ? g + p.alpha : 0;
  return -t / (h + p.lambda);
}

/**
 * Grows one regression tree on binned rows from gradient/hessian statistics: histograms per node with
 * the sibling-subtraction trick, XGBoost's split gain with missing values sent to the better side,
 * depth-wise or loss-guided expansion.
 */
export class TreeGrower {
  private readonly pool: Float64Array[] = [];
  private readonly histSize: number;
  private tmp: Uint32Array | null = null;
  private readonly partition: RowPartitioner;

  /** `bins` is column-major (see binMatrix) with nRows rows; `partition` defaults to the in-thread one. */
  constructor(
    private readonly cuts: BinCuts,
    private readonly bins: BinnedRows,
    private readonly nCols: number,
    private readonly nRows: number,
    private readonly params: GbdtParams,
    private readonly buildHistogram: HistogramBuilder,
    partition?: RowPartitioner,
  ) {
    this.histSize = 2 * cuts.slotOffset[cuts.nFeatures]!;
    this.partition = partition ?? ((...args) => this.partitionHere(...args));
  }

  private acquire(): Float64Array {
    return this.pool.pop() ?? new Float64Array(this.histSize);
  }

  private release(h: Float64Array): void {
    this.pool.push(h);
  }

  /**
   * Grows a tree on rows[0, nRoot) (reordered in place so each node's rows are contiguous),
   * considering `treeFeatures` (null = all) and sampling per node with `rng` when colsample_bynode < 1.
   */
  grow(
    grad: Float64Array,
    hess: Float64Array,
    rows: Uint32Array,
    nRoot: number,
    treeFeatures: Int32Array | null,
    rng: Prng,
  ): GrownTree {
    const p = this.params;
    const feature: number[] = [];
    const threshold: number[] = [];
    const left: number[] = [];
    const right: number[] = [];
    const defaultLeft: number[] = [];
    const weight: number[] = [];
    const gainArr: number[] = [];
    const cover: number[] = [];
    const splitSlot: number[] = [];
    const span: number[] = [];
    const addNode = (g: number, h: number, start: number, end: number): number => {
      feature.push(-1);
      threshold.push(0);
      left.push(-1);
      right.push(-1);
      defaultLeft.push(0);
      weight.push(leafWeight(g, h, p));
      gainArr.push(0);
      cover.push(h);
      splitSlot.push(-1);
      span.push(start, end);
      return feature.length - 1;
    };

    const g0 = sumOver(grad, rows, nRoot);
    const h0 = sumOver(hess, rows, nRoot);
    const root = addNode(g0, h0, 0, nRoot);
    const queue: Candidate[] = [];
    let order = 0;
    const consider = (
      node: number,
      depth: number,
      start: number,
      end: number,
      g: number,
      h: number,
      hist: Float64Array,
    ) => {
      const split = this.bestSplit(hist, g, h, this.nodeFeatures(treeFeatures, rng));
      if (split && split.gain > RT_EPS && split.gain >= p.gamma) {
        queue.push({ node, depth, start, end, g, h, hist, split, order: order++ });
      } else this.release(hist);
    };
    const canSplit = (depth: number, start: number, end: number, h: number) =>
      (p.max_depth === 0 || depth < p.max_depth) && end - start >= 2 && h >= 2 * p.min_child_weight;

    if (canSplit(0, 0, nRoot, h0)) {
      const hist = this.acquire();
      this.buildHistogram(hist, rows, 0, nRoot, treeFeatures, g0, h0);
      consider(root, 0, 0, nRoot, g0, h0, hist);
    }
    let leaves = 1;
    let head = 0;
    while (head < queue.length) {
      if (p.max_leaves > 0 && leaves >= p.max_leaves) break;
      let pick = head;
      if (p.grow_policy === 'lossguide') {
        for (let i = head + 1; i < queue.length; i++) {
          const a = queue[i]!;
          const b = queue[pick]!;
          if (a.split.gain > b.split.gain || (a.split.gain === b.split.gain && a.order < b.order)) pick = i;
        }
        const t = queue[head]!;
        queue[head] = queue[pick]!;
        queue[pick] = t;
      }
      const c = queue[head]!;
      queue[head++] = undefined as unknown as Candidate;
      const s = c.split;
      const f = s.feature;
      const off = this.cuts.slotOffset[f]!;
      const slot = off + s.bin;
      const mid = this.partition(rows, c.start, c.end, f, slot, off + this.cuts.nBins[f]!, s.defaultLeft);
      const gr = c.g - s.gl;
      const hr = c.h - s.hl;
      const l = addNode(s.gl, s.hl, c.start, mid);
      const r = addNode(gr, hr, mid, c.end);
      feature[c.node] = f;
      threshold[c.node] = this.cuts.cuts[this.cuts.cutStart[f]! + s.bin]!;
      left[c.node] = l;
      right[c.node] = r;
      defaultLeft[c.node] = s.defaultLeft ? 1 : 0;
      gainArr[c.node] = s.gain;
      splitSlot[c.node] = slot;
      leaves++;

      const depth = c.depth + 1;
      const lOk = canSplit(depth, c.start, mid, s.hl);
      const rOk = canSplit(depth, mid, c.end, hr);
      if (!lOk && !rOk) {
        this.release(c.hist);
        continue;
      }
      const leftSmaller = mid - c.start <= c.end - mid;
      const small = this.acquire();
      if (leftSmaller) this.buildHistogram(small, rows, c.start, mid, treeFeatures, s.gl, s.hl);
      else this.buildHistogram(small, rows, mid, c.end, treeFeatures, gr, hr);
      const big = c.hist;
      const smallOk = leftSmaller ? lOk : rOk;
      const bigOk = leftSmaller ? rOk : lOk;
      if (bigOk) subtractHistogram(big, small);
      else this.release(big);
      if (!smallOk) this.release(small);
      const lh = leftSmaller ? small : big;
      const rh = leftSmaller ? big : small;
      if (lOk) consider(l, depth, c.start, mid, s.gl, s.hl, lh);
      if (rOk) consider(r, depth, mid, c.end, gr, hr, rh);
    }
    for (let i = head; i < queue.length; i++) this.release(queue[i]!.hist);

    const n = feature.length;
    const value = new Float64Array(n);
    const leafRanges: number[] = [];
    for (let i = 0; i < n; i++) {
      if (feature[i] === -1) {
        value[i] = p.eta * weight[i]!;
        leafRanges.push(i, span[2 * i]!, span[2 * i + 1]!);
      }
    }
    return {
      tree: {
        feature: Int32Array.from(feature),
        threshold: Float64Array.from(threshold),
        left: Int32Array.from(left),
        right: Int32Array.from(right),
        defaultLeft: Uint8Array.from(defaultLeft),
        value,
        gain: Float64Array.from(gainArr),
        cover: Float64Array.from(cover),
      },
      splitSlot: Int32Array.from(splitSlot),
      leafRanges,
    };
  }

  private nodeFeatures(treeFeatures: Int32Array | null, rng: Prng): Int32Array | null {
    const frac = this.params.colsample_bynode;
    if (frac >= 1) return treeFeatures;
    const from = treeFeatures ?? Int32Array.from({ length: this.nCols }, (_, i) => i);
    return sampleSorted(from, Math.max(1, Math.floor(frac * from.length)), rng);
  }

  /** The in-thread {@link RowPartitioner}. */
  private partitionHere(
    rows: Uint32Array,
    start: number,
    end: number,
    f: number,
    slot: number,
    missingSlot: number,
    dl: boolean,
  ): number {
    const bins = this.bins;
    const at = f * this.nRows;
    this.tmp ??= new Uint32Array(this.nRows);
    const tmp = this.tmp;
    let l = start;
    let k = 0;
    for (let i = start; i < end; i++) {
      const r = rows[i]!;
      const b = bins[at + r]!;
      if (b === missingSlot ? dl : b <= slot) rows[l++] = r;
      else tmp[k++] = r;
    }
    rows.set(tmp.subarray(0, k), l);
    return l;
  }

  /** The best split of a node over `features` (null = all), trying missing values on both sides. */
  private bestSplit(hist: Float64Array, g: number, h: number, features: Int32Array | null): Split | null {
    const { lambda, alpha, min_child_weight: mcw } = this.params;
    const { slotOffset, nBins } = this.cuts;
    const parent = nodeGain(g, h, lambda, alpha);
    let bestGain = 0;
    let bestFeature = -1;
    let bestBin = 0;
    let bestDl = false;
    let bestGl = 0;
    let bestHl = 0;
    const nf = features ? features.length : this.nCols;
    for (let j = 0; j < nf; j++) {
      const f = features ? features[j]! : j;
      const nb = nBins[f]!;
      if (nb < 2) continue;
      const off = slotOffset[f]!;
      const ms = 2 * (off + nb);
      const gm = hist[ms]!;
      const hm = hist[ms + 1]!;
      // A missing slot filled by subtraction (sibling trick, default slot) holds rounding residue, not rows.
      const hasMissing = hm > MISSING_EPS * h;
      let gl = 0;
      let hl = 0;
      for (let t = 0; t < nb - 1; t++) {
        const k = 2 * (off + t);
        gl += hist[k]!;
        hl += hist[k + 1]!;
        // Missing values to the right (forward scan)...
        let hr = h - hl;
        if (hl >= mcw && hr >= mcw) {
          const gain = nodeGain(gl, hl, lambda, alpha) + nodeGain(g - gl, hr, lambda, alpha) - parent;
          if (gain > bestGain) {
            bestGain = gain;
            bestFeature = f;
            bestBin = t;
            bestDl = false;
            bestGl = gl;
            bestHl = hl;
          }
        }
        // ...and to the left.
        if (hasMissing) {
          const gl2 = gl + gm;
          const hl2 = hl + hm;
          hr = h - hl2;
          if (hl2 >= mcw && hr >= mcw) {
            const gain = nodeGain(gl2, hl2, lambda, alpha) + nodeGain(g - gl2, hr, lambda, alpha) - parent;
            if (gain > bestGain) {
              bestGain = gain;
              bestFeature = f;
              bestBin = t;
              bestDl = true;
              bestGl = gl2;
              bestHl = hl2;
            }
          }
        }
      }
    }
    if (bestFeature < 0) return null;
    return {
      gain: bestGain,
      feature: bestFeature,
      bin: bestBin,
      defaultLeft: bestDl,
      gl: bestGl,
      hl: bestHl,
    };
  }
}

/*
 * The hot loops of grow() live in these small functions: grow() calls closures that differ from fit to fit,
 * so V8 deoptimizes it now and then, and a loop inside it would then run unoptimized, boxing every double.
 */

/** big -= small, element-wise (the sibling's histogram by subtraction). */
function subtractHistogram(big: Float64Array, small: Float64Array): void {
  for (let k = 0; k < big.length; k++) big[k]! -= small[k]!;
}

/** Sum of values[rows[i]] over i < n, in row order. */
function sumOver(values: Float64Array, rows: Uint32Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += values[rows[i]!]!;
  return s;
}

/**
 * The single-threaded histogram builder over sparse rows: each row adds its non-default cells, then every
 * feature's default slot gets the node total minus the feature's other slots.
 */
export function createHistogramBuilder(
  cuts: BinCuts,
  sparse: SparseRows,
  grad: Float64Array,
  hess: Float64Array,
): HistogramBuilder {
  const { rowStart, slots } = sparse;
  return (hist, rows, start, end, features, gTotal, hTotal) => {
    hist.fill(0);
    for (let i = start; i < end; i++) {
      const r = rows[i]!;
      const g = grad[r]!;
      const h = hess[r]!;
      const e = rowStart[r + 1]!;
      for (let k = rowStart[r]!; k < e; k++) {
        const s = slots[k]! << 1;
        hist[s]! += g;
        hist[s + 1]! += h;
      }
    }
    fillDefaultSlots(hist, cuts, sparse.defaultSlot, features, gTotal, hTotal);
  };
}

/** Sets each feature's default slot to the node totals minus the feature's other slots. */
export function fillDefaultSlots(
  hist: Float64Array,
  cuts: BinCuts,
  defaultSlot: Int32Array,
  features: Int32Array | null,
  gTotal: number,
  hTotal: number,
): void {
  const nf = features ? features.length : cuts.nFeatures;
  for (let j = 0; j < nf; j++) {
    const f = features ? features[j]! : j;
    const d = defaultSlot[f]!;
    let g = 0;
    let h = 0;
    for (let s = cuts.slotOffset[f]!; s < cuts.slotOffset[f + 1]!; s++) {
      if (s === d) continue;
      g += hist[2 * s]!;
      h += hist[2 * s + 1]!;
    }
    hist[2 * d] = gTotal - g;
    hist[2 * d + 1] = hTotal - h;
  }
}
