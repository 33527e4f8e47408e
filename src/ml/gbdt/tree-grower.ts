import type { BinCuts, BinnedRows, SparseRows } from './binning.js';
import type { FlatTree } from './ensemble.js';
import {
  bestSplitRange,
  fillDefaults,
  partitionRows,
  SPLIT_DOUBLES,
  subtractRange,
  sumCells,
} from './node-kernels.js';
import type { GbdtParams } from './params.js';
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
  /**
   * Runs the jobs of one tree level (their row ranges and histograms are disjoint), job i's splits to
   * out[12i .. 12i + 12) as {@link run} writes them: the same results as running them one by one.
   */
  runLevel(jobs: readonly NodeJob[], rows: Uint32Array, out: Float64Array): void;
}

/** A node's split to apply to its rows: rows[start, end) by `feature`, bins <= `bin` left, `missing` by `defaultLeft`. */
export interface RowSplit {
  start: number;
  end: number;
  feature: number;
  bin: number;
  missing: number;
  defaultLeft: boolean;
}

/**
 * Partitions the rows of every node of a tree level (disjoint ranges of the row buffer), each stably (rows
 * keep their order on both sides); mids[i] receives the first index of splits[i]'s right child.
 */
export interface LevelPartitioner {
  partition(rows: Uint32Array, splits: readonly RowSplit[], mids: Int32Array): void;
}

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

/** A candidate whose split was applied: its children, and the node job computing their splits (null: none). */
interface Expansion {
  c: Candidate;
  l: number;
  r: number;
  mid: number;
  gr: number;
  hr: number;
  lOk: boolean;
  rOk: boolean;
  leftSmaller: boolean;
  small: number;
  big: number;
  job: NodeJob | null;
}

/** A node job: small = [hist, start, end, g, h], big = [hist or -1, g, h], features = [small's, big's]. */
function nodeJob(
  tree: Int32Array | null,
  [small, start, end, gs, hs]: [number, number, number, number, number],
  [big, gb, hb]: [number, number, number],
  splitSmall: boolean,
  [smallFeatures, bigFeatures]: [Int32Array | null, Int32Array | null],
): NodeJob {
  return { small, big, start, end, gs, hs, gb, hb, tree, splitSmall, smallFeatures, bigFeatures };
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
  private readonly out = new Float64Array(2 * SPLIT_DOUBLES);
  private levelBlock = new Float64Array(2 * SPLIT_DOUBLES);

  /**
   * `bins` has a column of nRows bins per feature (see binMatrix); without `levelPartition` (the worker
   * threads') rows are partitioned in the calling thread, node by node.
   */
  constructor(
    private readonly cuts: BinCuts,
    private readonly bins: BinnedRows,
    private readonly nCols: number,
    private readonly nRows: number,
    private readonly params: GbdtParams,
    private readonly kernel: NodeKernel,
    private readonly levelPartition?: LevelPartitioner,
  ) {}

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
      const rootFeatures = this.nodeFeatures(treeFeatures, rng);
      k.runLevel(
        [nodeJob(treeFeatures, [hist, 0, nRoot, g0, h0], [-1, 0, 0], true, [rootFeatures, null])],
        rows,
        out,
      );
      consider(root, 0, 0, nRoot, g0, h0, hist, readSplit(out, 0));
    }
    let leaves = 1;
    let head = 0;
    /** Applies candidate c's split (its rows already partitioned at mid): the children, and their node job. */
    const expand = (c: Candidate, mid: number): Expansion => {
      const s = c.split;
      const f = s.feature;
      const gr = c.g - s.gl;
      const hr = c.h - s.hl;
      const l = addNode(s.gl, s.hl, c.start, mid);
      const r = addNode(gr, hr, mid, c.end);
      feature[c.node] = f;
      // Bin nBins[f] - 1 (every value left, missing right) has no cut of its own: XGBoost's last one.
      threshold[c.node] =
        s.bin === this.cuts.nBins[f]! - 1
          ? this.cuts.upper[f]!
          : this.cuts.cuts[this.cuts.cutStart[f]! + s.bin]!;
      left[c.node] = l;
      right[c.node] = r;
      defaultLeft[c.node] = s.defaultLeft ? 1 : 0;
      gainArr[c.node] = s.gain;
      splitSlot[c.node] = this.cuts.slotOffset[f]! + s.bin;
      leaves++;
      const depth = c.depth + 1;
      const lOk = canSplit(depth, c.start, mid, s.hl);
      const rOk = canSplit(depth, mid, c.end, hr);
      const x: Expansion = {
        c,
        l,
        r,
        mid,
        gr,
        hr,
        lOk,
        rOk,
        leftSmaller: true,
        small: -1,
        big: -1,
        job: null,
      };
      if (!lOk && !rOk) {
        k.release(c.hist);
        return x;
      }
      // Drawn in the order left, right, as each child is considered.
      const lf = lOk ? this.nodeFeatures(treeFeatures, rng) : null;
      const rf = rOk ? this.nodeFeatures(treeFeatures, rng) : null;
      x.leftSmaller = mid - c.start <= c.end - mid;
      x.small = k.acquire();
      const bigOk = x.leftSmaller ? rOk : lOk;
      if (!bigOk) k.release(c.hist);
      x.big = bigOk ? c.hist : -1;
      x.job = x.leftSmaller
        ? nodeJob(treeFeatures, [x.small, c.start, mid, s.gl, s.hl], [x.big, gr, hr], lOk, [lf, rf])
        : nodeJob(treeFeatures, [x.small, mid, c.end, gr, hr], [x.big, s.gl, s.hl], rOk, [rf, lf]);
      return x;
    };
    /** Queues expansion x's children that have a split, reading their splits at out[o..o+12). */
    const considerChildren = (x: Expansion, out: Float64Array, o: number) => {
      if (!x.job) return;
      const { c, mid } = x;
      if (!(x.leftSmaller ? x.lOk : x.rOk)) k.release(x.small);
      const depth = c.depth + 1;
      const s = c.split;
      const ls = o + (x.leftSmaller ? 0 : SPLIT_DOUBLES);
      const rs = o + (x.leftSmaller ? SPLIT_DOUBLES : 0);
      const [lh, rh] = x.leftSmaller ? [x.small, x.big] : [x.big, x.small];
      if (x.lOk) consider(x.l, depth, c.start, mid, s.gl, s.hl, lh, readSplit(out, ls));
      if (x.rOk) consider(x.r, depth, mid, c.end, x.gr, x.hr, rh, readSplit(out, rs));
    };
    // Depth-wise without a leaf budget, a whole level is expanded at once: its rows partitioned, then its node
    // jobs run together (one hand-off to the workers a level). Same order of nodes, draws and queue: same trees.
    const byLevel = p.grow_policy !== 'lossguide' && p.max_leaves === 0;
    while (head < queue.length) {
      if (byLevel) {
        const level = queue.slice(head);
        head = queue.length;
        const mids = this.partitionLevel(rows, level);
        const expansions = level.map((c, i) => expand(c, mids[i]!));
        const jobs: NodeJob[] = [];
        for (const x of expansions) if (x.job) jobs.push(x.job);
        const out = this.levelOut(jobs.length);
        k.runLevel(jobs, rows, out);
        let j = 0;
        for (const x of expansions) if (x.job) considerChildren(x, out, 2 * SPLIT_DOUBLES * j++);
        continue;
      }
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
      const mid = this.partitionLevel(rows, [c])[0]!;
      const x = expand(c, mid);
      if (!x.job) continue;
      k.run(x.job, rows, out);
      considerChildren(x, out, 0);
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

  /** Partitions the rows of every candidate of a level (by the level partitioner); returns each one's mid. */
  private partitionLevel(rows: Uint32Array, level: readonly Candidate[]): Int32Array {
    const { nBins } = this.cuts;
    const splits = level.map((c): RowSplit => {
      const f = c.split.feature;
      const { bin, defaultLeft } = c.split;
      return { start: c.start, end: c.end, feature: f, bin, missing: nBins[f]!, defaultLeft };
    });
    const mids = new Int32Array(level.length);
    if (this.levelPartition) this.levelPartition.partition(rows, splits, mids);
    else
      splits.forEach((x, i) => {
        mids[i] = this.partitionHere(rows, x.start, x.end, x.feature, x.bin, x.missing, x.defaultLeft);
      });
    return mids;
  }

  /** The level's result block, for `jobs` node jobs (reused, grown as levels widen). */
  private levelOut(jobs: number): Float64Array {
    const need = 2 * SPLIT_DOUBLES * Math.max(1, jobs);
    if (this.levelBlock.length < need) this.levelBlock = new Float64Array(need);
    return this.levelBlock;
  }

  private nodeFeatures(treeFeatures: Int32Array | null, rng: Prng): Int32Array | null {
    const frac = this.params.colsample_bynode;
    if (frac >= 1) return treeFeatures;
    const from = treeFeatures ?? Int32Array.from({ length: this.nCols }, (_, i) => i);
    return sampleSorted(from, Math.max(1, Math.floor(frac * from.length)), rng);
  }

  /**
   * Stable partition of rows[start, end) by a split of feature f in the calling thread (its bins <= `bin` go
   * left, its missing bin `missing` = nBins[f] goes left when dl); returns the first index of the right child.
   */
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
 * (by `allocator`; threads.ts allocates them in shared memory).
 */
export function createSerialNodeKernel(
  cuts: BinCuts,
  sparse: SparseRows,
  grad: Float64Array,
  hess: Float64Array,
  params: GbdtParams,
  allocator: HistogramAllocator = heapHistograms,
): PooledNodeKernel {
  return new SerialNodeKernel(cuts, sparse, grad, hess, params, allocator);
}

/** Allocates a node kernel's histograms: `size` doubles each. */
export interface HistogramAllocator {
  newHist(size: number): Float64Array;
}

const heapHistograms: HistogramAllocator = { newHist: (size) => new Float64Array(size) };

/**
 * A class, not an object of closures: its methods are the same functions in every fit, so code the compiler
 * optimized around a call to them in one fit stays valid in the next (a fresh closure a fit made each such
 * call site throw its optimized code away once, in a process's second fit).
 */
class SerialNodeKernel implements PooledNodeKernel {
  private readonly size: number;
  private readonly hists: Float64Array[] = [];
  private readonly free: number[] = [];
  private readonly from: Uint32Array;
  private readonly to: Uint32Array;

  constructor(
    private readonly cuts: BinCuts,
    private readonly sparse: SparseRows,
    private readonly grad: Float64Array,
    private readonly hess: Float64Array,
    private readonly params: GbdtParams,
    private readonly allocator: HistogramAllocator,
  ) {
    this.size = 2 * cuts.slotOffset[cuts.nFeatures]!;
    this.from = sparse.rowStart;
    this.to = sparse.rowStart.subarray(1);
  }

  acquire(): number {
    const id = this.free.pop();
    if (id !== undefined) return id;
    this.hists.push(this.allocator.newHist(this.size));
    return this.hists.length - 1;
  }

  release(id: number): void {
    this.free.push(id);
  }

  hist(id: number): Float64Array {
    return this.hists[id]!;
  }

  run(job: NodeJob, rows: Uint32Array, out: Float64Array): void {
    this.runAt(job, rows, out, 0);
  }

  runLevel(jobs: readonly NodeJob[], rows: Uint32Array, out: Float64Array): void {
    for (let i = 0; i < jobs.length; i++) this.runAt(jobs[i]!, rows, out, 2 * SPLIT_DOUBLES * i);
  }

  /** Runs `job`, its splits to out[o .. o + 12). */
  private runAt(job: NodeJob, rows: Uint32Array, out: Float64Array, o: number): void {
    const { size, grad, hess, from, to, sparse } = this;
    const { slotOffset, nBins, nFeatures: m } = this.cuts;
    const { lambda, alpha, min_child_weight: mcw } = this.params;
    const small = this.hists[job.small]!;
    sumCells(small, rows, job.start, job.end, grad, hess, from, to, sparse.slots, 0, size);
    const [tl, tc] = listOf(job.tree);
    fillDefaults(small, slotOffset, sparse.defaultSlot, tl, 0, tc, 0, m, job.gs, job.hs);
    if (job.splitSmall) {
      const [l, c] = listOf(job.smallFeatures);
      bestSplitRange(small, job.gs, job.hs, l, 0, c, 0, m, nBins, slotOffset, lambda, alpha, mcw, out, o);
    }
    if (job.big < 0) return;
    const big = this.hists[job.big]!;
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
      o + SPLIT_DOUBLES,
    );
  }
}
