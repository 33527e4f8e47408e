import type { BinCuts, BinnedRows, SparseRows } from './binning.js';
import type { FlatTree } from './ensemble.js';
import type { GbdtParams } from './params.js';
import {
  bestSplitRange,
  fillDefaults,
  partitionRows,
  SPLIT_DOUBLES,
  subtractRange,
  sumCells,
} from './node-kernels.js';
import { type Prng, sampleSorted } from './prng.js';

/** Loss reductions at or below this are not splits (XGBoost's kRtEps). */
const RT_EPS = 1e-6;

/**
 * One node step: the histogram of rows[start, end) into pool histogram `small` (its totals gs, hs; default
 * slots filled for `tree`, the tree's features, null = all), then, when `big` >= 0, big -= small (the sibling
 * by subtraction, totals gb, hb); the best split of small over `smallFeatures` when `splitSmall`, and of big
 * over `bigFeatures` when big >= 0 (null = all features).
 */
export interface NodeJob {
  small: number;
  big: number;
  start: number;
  end: number;
  gs: number;
  hs: number;
  gb: number;
  hb: number;
  tree: Int32Array | null;
  splitSmall: boolean;
  smallFeatures: Int32Array | null;
  bigFeatures: Int32Array | null;
}

/**
 * The per-node work behind tree growing, over a pool of histograms named by number: in the calling thread
 * ({@link createSerialNodeKernel}) or split by feature ranges over threads (threads.ts).
 */
export interface NodeKernel {
  acquire(): number;
  release(hist: number): void;
  /** Runs `job` on the current rows; writes small's split to out[0..6), big's to out[6..12) (node-kernels.ts). */
  run(job: NodeJob, rows: Uint32Array, out: Float64Array): void;
}

/**
 * Stable partition of rows[start, end) by a split of feature f (its bins <= `bin` go left, its missing bin
 * `missing` = nBins[f] goes left when dl); returns the first index of the right child. Rows keep their order.
 */
export type RowPartitioner = (
  rows: Uint32Array,
  start: number,
  end: number,
  f: number,
  bin: number,
  missing: number,
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
  hist: number;
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
  private tmp: Uint32Array | null = null;
  private readonly partition: RowPartitioner;
  private readonly out = new Float64Array(2 * SPLIT_DOUBLES);
  private readonly job: NodeJob = {
    small: 0,
    big: -1,
    start: 0,
    end: 0,
    gs: 0,
    hs: 0,
    gb: 0,
    hb: 0,
    tree: null,
    splitSmall: false,
    smallFeatures: null,
    bigFeatures: null,
  };

  /** `bins` has a column of nRows bins per feature (see binMatrix); `partition` defaults to the in-thread one. */
  constructor(
    private readonly cuts: BinCuts,
    private readonly bins: BinnedRows,
    private readonly nCols: number,
    private readonly nRows: number,
    private readonly params: GbdtParams,
    private readonly kernel: NodeKernel,
    partition?: RowPartitioner,
  ) {
    this.partition = partition ?? ((...args) => this.partitionHere(...args));
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
    const k = this.kernel;
    const out = this.out;
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
      hist: number,
      split: Split | null,
    ) => {
      if (split && split.gain > RT_EPS && split.gain >= p.gamma) {
        queue.push({ node, depth, start, end, g, h, hist, split, order: order++ });
      } else k.release(hist);
    };
    const canSplit = (depth: number, start: number, end: number, h: number) =>
      (p.max_depth === 0 || depth < p.max_depth) && end - start >= 2 && h >= 2 * p.min_child_weight;

    if (canSplit(0, 0, nRoot, h0)) {
      const hist = k.acquire();
      this.runJob(rows, treeFeatures, [hist, 0, nRoot, g0, h0], [-1, 0, 0], true, [
        this.nodeFeatures(treeFeatures, rng),
        null,
      ]);
      consider(root, 0, 0, nRoot, g0, h0, hist, readSplit(out, 0));
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
      const mid = this.partition(rows, c.start, c.end, f, s.bin, this.cuts.nBins[f]!, s.defaultLeft);
      const gr = c.g - s.gl;
      const hr = c.h - s.hl;
      const l = addNode(s.gl, s.hl, c.start, mid);
      const r = addNode(gr, hr, mid, c.end);
      feature[c.node] = f;
      // Bin nBins[f] - 1 (every value left, missing right) has no cut of its own: XGBoost's last one.
      threshold[c.node] =
        s.bin === this.cuts.nBins[f]! - 1 ? this.cuts.upper[f]! : this.cuts.cuts[this.cuts.cutStart[f]! + s.bin]!;
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
        k.release(c.hist);
        continue;
      }
      // Drawn in the order left, right, as each child is considered.
      const lf = lOk ? this.nodeFeatures(treeFeatures, rng) : null;
      const rf = rOk ? this.nodeFeatures(treeFeatures, rng) : null;
      const leftSmaller = mid - c.start <= c.end - mid;
      const small = k.acquire();
      const smallOk = leftSmaller ? lOk : rOk;
      const bigOk = leftSmaller ? rOk : lOk;
      if (!bigOk) k.release(c.hist);
      const big = bigOk ? c.hist : -1;
      if (leftSmaller)
        this.runJob(rows, treeFeatures, [small, c.start, mid, s.gl, s.hl], [big, gr, hr], lOk, [lf, rf]);
      else this.runJob(rows, treeFeatures, [small, mid, c.end, gr, hr], [big, s.gl, s.hl], rOk, [rf, lf]);
      if (!smallOk) k.release(small);
      const ls = leftSmaller ? 0 : SPLIT_DOUBLES;
      if (lOk) consider(l, depth, c.start, mid, s.gl, s.hl, leftSmaller ? small : big, readSplit(out, ls));
      if (rOk)
        consider(r, depth, mid, c.end, gr, hr, leftSmaller ? big : small, readSplit(out, SPLIT_DOUBLES - ls));
    }
    for (let i = head; i < queue.length; i++) k.release(queue[i]!.hist);

    const n = feature.length;
    const value = new Float64Array(n);
    const leafRanges: number[] = [];
    for (let i = 0; i < n; i++) {
      if (feature[i] === -1) {
        // XGBoost's leaf: the weight as a float32 times the float32 learning rate, in float32
        value[i] = Math.fround(Math.fround(weight[i]!) * Math.fround(p.eta));
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

  /** Fills the reused job and runs it: small = [hist, start, end, g, h], big = [hist or -1, g, h]. */
  private runJob(
    rows: Uint32Array,
    tree: Int32Array | null,
    small: [number, number, number, number, number],
    big: [number, number, number],
    splitSmall: boolean,
    features: [Int32Array | null, Int32Array | null],
  ): void {
    const j = this.job;
    [j.small, j.start, j.end, j.gs, j.hs] = small;
    [j.big, j.gb, j.hb] = big;
    j.tree = tree;
    j.splitSmall = splitSmall;
    [j.smallFeatures, j.bigFeatures] = features;
    this.kernel.run(j, rows, this.out);
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
    bin: number,
    missing: number,
    dl: boolean,
  ): number {
    this.tmp ??= new Uint32Array(this.nRows);
    const tmp = this.tmp;
    const nl = partitionRows(rows, tmp, this.bins[f]!, start, end, bin, missing, dl ? 1 : 0, 0);
    rows.set(tmp.subarray(0, end - start - nl), start + nl);
    return start + nl;
  }
}

/*
 * The hot loops of grow() live in these small functions: grow() calls closures that differ from fit to fit,
 * so V8 deoptimizes it now and then, and a loop inside it would then run unoptimized, boxing every double.
 */

/** The split written at out[o] by bestSplitRange, or null when there was none. */
function readSplit(out: Float64Array, o: number): Split | null {
  if (out[o + 1]! < 0) return null;
  return {
    gain: out[o]!,
    feature: out[o + 1]!,
    bin: out[o + 2]!,
    defaultLeft: out[o + 3] === 1,
    gl: out[o + 4]!,
    hl: out[o + 5]!,
  };
}

/** Sum of values[rows[i]] over i < n, in row order. */
function sumOver(values: Float64Array, rows: Uint32Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += values[rows[i]!]!;
  return s;
}

/** Features as node-kernels.ts lists them: (list, count), count -1 meaning all. */
const NO_FEATURES = new Int32Array(0);
const listOf = (f: Int32Array | null): [Int32Array, number] => (f ? [f, f.length] : [NO_FEATURES, -1]);

/** A {@link NodeKernel} that also names its histograms' arrays. */
export interface PooledNodeKernel extends NodeKernel {
  hist(id: number): Float64Array;
}

/**
 * The in-thread {@link NodeKernel}: every feature, a pool of histograms allocated as trees need them
 * (by `newHist`, given the number of doubles; threads.ts allocates them in shared memory).
 */
export function createSerialNodeKernel(
  cuts: BinCuts,
  sparse: SparseRows,
  grad: Float64Array,
  hess: Float64Array,
  params: GbdtParams,
  newHist: (size: number) => Float64Array = (size) => new Float64Array(size),
): PooledNodeKernel {
  const size = 2 * cuts.slotOffset[cuts.nFeatures]!;
  const hists: Float64Array[] = [];
  const free: number[] = [];
  const m = cuts.nFeatures;
  const { slotOffset, nBins } = cuts;
  const { lambda, alpha, min_child_weight: mcw } = params;
  const from = sparse.rowStart;
  const to = sparse.rowStart.subarray(1);
  return {
    acquire() {
      const id = free.pop();
      if (id !== undefined) return id;
      hists.push(newHist(size));
      return hists.length - 1;
    },
    release: (id) => void free.push(id),
    hist: (id) => hists[id]!,
    run(job, rows, out) {
      const small = hists[job.small]!;
      sumCells(small, rows, job.start, job.end, grad, hess, from, to, sparse.slots, 0, size);
      const [tl, tc] = listOf(job.tree);
      fillDefaults(small, slotOffset, sparse.defaultSlot, tl, 0, tc, 0, m, job.gs, job.hs);
      if (job.splitSmall) {
        const [l, c] = listOf(job.smallFeatures);
        bestSplitRange(small, job.gs, job.hs, l, 0, c, 0, m, nBins, slotOffset, lambda, alpha, mcw, out, 0);
      }
      if (job.big < 0) return;
      const big = hists[job.big]!;
      subtractRange(big, small, 0, size);
      const [l, c] = listOf(job.bigFeatures);
      bestSplitRange(
        big,
        job.gb,
        job.hb,
        l,
        0,
        c,
        0,
        m,
        nBins,
        slotOffset,
        lambda,
        alpha,
        mcw,
        out,
        SPLIT_DOUBLES,
      );
    },
  };
}
