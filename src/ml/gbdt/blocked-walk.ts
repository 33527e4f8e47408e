import type { FlatTree, Precision } from './flat-tree.js';
import { float32CompareBound } from './float32-math.js';

/** Deepest trees laid out as blocks (two block levels: 6 levels of splits, 64 leaves a tree). */
const MAX_BLOCKED_DEPTH = 6;
/** Feature indices are stored in one byte. */
const MAX_BLOCKED_FEATURES = 256;

const fround = Math.fround;

/**
 * The finite-row tree walk over complete trees cut into cache-line blocks: each 64-byte block holds a subtree of
 * three split levels (7 float64 thresholds, then their 7 one-byte feature indices), so a root-to-leaf walk of a
 * depth-6 tree reads two blocks and one leaf value (three cache lines) where a node-per-record layout reads seven.
 * Why: a served request walks every tree once, and between two requests the HTTP stack pushes the trees out of
 * the CPU caches, so the lines a walk touches are what it costs (80 trees of depth 6: 1.2x faster than the
 * 16-byte-node walk with warm caches, 1.3x with 2 MB of other data read between two walks). Positions are
 * implicit (children of local node j are 2j + 1 and 2j + 2), so a step loads no child index. A tree shallower
 * than the ensemble's padded depth is padded: a leaf above the bottom becomes splits with threshold +Infinity
 * (every finite value goes left) over copies of its value.
 */
export class BlockedWalk {
  constructor(
    /** Block b's thresholds at 8b..8b+6 (the same buffer as `feature`). */
    private readonly threshold: Float64Array,
    /** Block b's feature indices at 64b+56..64b+62. */
    private readonly feature: Uint8Array,
    /** Each tree's leaf values, 8^levels a tree. */
    private readonly leaf: Float64Array,
    /** Block levels per tree: 1 (depth <= 3) or 2 (depth <= 6). */
    private readonly levels: number,
    private readonly f32: boolean,
  ) {}

  /**
   * The margin of a row of finite values, summed in tree order from `base`: for float32 models, rounded to
   * float32 after each tree as XGBoost sums (its float32 thresholds are stored as float32CompareBound's float64
   * bounds, so the row's values need no rounding).
   */
  margin(row: ArrayLike<number>, offset: number, base: number): number {
    return blockedMargin(row, offset, base, this.threshold, this.feature, this.leaf, this.levels, this.f32);
  }
}

/**
 * The blocked walk of an ensemble (trees as TreeEnsemble checked them: children after their parent), or null
 * when its trees do not fit the layout (deeper than 6 levels, more than 256 features, or a NaN threshold, which
 * would send values the other way than the node walk does).
 */
export function createBlockedWalk(
  trees: readonly FlatTree[],
  nFeatures: number,
  precision: Precision,
): BlockedWalk | null {
  if (trees.length === 0 || nFeatures > MAX_BLOCKED_FEATURES) return null;
  let depth = 0;
  for (const t of trees) {
    const d = treeDepth(t);
    if (d < 0 || d > MAX_BLOCKED_DEPTH) return null;
    depth = Math.max(depth, d);
  }
  const levels = depth <= 3 ? 1 : 2;
  const blocksPerTree = levels === 1 ? 1 : 9;
  const leavesPerTree = levels === 1 ? 8 : 64;
  const nodes = new ArrayBuffer(64 * blocksPerTree * trees.length);
  const threshold = new Float64Array(nodes);
  const feature = new Uint8Array(nodes);
  const leaf = new Float64Array(leavesPerTree * trees.length);
  const f32 = precision === 'float32';
  trees.forEach((t, k) => {
    const layout = { threshold, feature, leaf, blockBase: k * blocksPerTree, leafBase: k * leavesPerTree };
    placeNode(t, layout, 0, 0, 0, 3 * levels, f32);
  });
  return new BlockedWalk(threshold, feature, leaf, levels, f32);
}

/** The deepest leaf's depth, or -1 when a split's threshold is NaN. */
function treeDepth(t: FlatTree): number {
  const depth = new Int32Array(t.feature.length);
  let max = 0;
  for (let i = 0; i < t.feature.length; i++) {
    if (t.feature[i]! < 0) max = Math.max(max, depth[i]!);
    else if (Number.isNaN(t.threshold[i]!)) return -1;
    else {
      depth[t.left[i]!] = depth[i]! + 1;
      depth[t.right[i]!] = depth[i]! + 1;
    }
  }
  return max;
}

interface Layout {
  threshold: Float64Array;
  feature: Uint8Array;
  leaf: Float64Array;
  blockBase: number;
  leafBase: number;
}

/**
 * Writes node `i` of tree `t` at depth `d`, position `p` among that depth's 2^d slots, and its subtree; a leaf
 * above depth `bottom` is padded down to it. Block level q holds depths 3q..3q+2; level 0 is one block, level 1
 * eight.
 */
function placeNode(t: FlatTree, at: Layout, i: number, d: number, p: number, bottom: number, f32: boolean) {
  const isLeaf = t.feature[i]! < 0;
  if (d === bottom) {
    at.leaf[at.leafBase + p] = f32 ? fround(t.value[i]!) : t.value[i]!;
    return;
  }
  const r = d % 3;
  const block = at.blockBase + (d < 3 ? 0 : 1 + (p >> r));
  const j = (1 << r) - 1 + (p & ((1 << r) - 1));
  if (isLeaf) {
    at.threshold[8 * block + j] = Number.POSITIVE_INFINITY;
    at.feature[64 * block + 56 + j] = 0;
    placeNode(t, at, i, d + 1, 2 * p, bottom, f32);
    placeNode(t, at, i, d + 1, 2 * p + 1, bottom, f32);
    return;
  }
  at.threshold[8 * block + j] = f32 ? float32CompareBound(t.threshold[i]!) : t.threshold[i]!;
  at.feature[64 * block + 56 + j] = t.feature[i]!;
  placeNode(t, at, t.left[i]!, d + 1, 2 * p, bottom, f32);
  placeNode(t, at, t.right[i]!, d + 1, 2 * p + 1, bottom, f32);
}

/**
 * The walk, a profiled hot loop, for both precisions (float32 models differ only in their thresholds, stored as
 * bounds, and in the sum rounded after each tree): eight trees side by side (independent loads the CPU overlaps; 1.1x
 * faster than four, 80 trees, warm and cold caches), three branch-free steps per block (j = 2j + 1, + 1 more
 * when x >= threshold); the block of the second level is 1 + (j - 7) blocks after the first, and the leaf
 * 8 (j1 - 7) + j2 - 7. Written out for one and two block levels (a loop over the levels was 1.4x slower).
 * Branch-free in the machine code too: V8 compiles `+(x >= t)` to a setcc, but `x >= t ? 2 : 1` to a branch,
 * which a served row mispredicts for about half its splits (the HTTP stack between two requests leaves no
 * useful predictor state); without the branch the walk of a served request (CPU profile of the server, OULAD)
 * takes 2.2-2.6 instead of 3.0-3.3 us, and 1.2x less in process with 2 MB read between rows, at the price of
 * 1.15x more with one row repeated in a tight loop, where every branch was predicted.
 */
function blockedMargin(
  row: ArrayLike<number>,
  offset: number,
  base: number,
  T: Float64Array,
  F: Uint8Array,
  leaf: Float64Array,
  levels: number,
  f32: boolean,
): number {
  const perTree = levels === 1 ? 1 : 9;
  const leaves = levels === 1 ? 8 : 64;
  const nt = (leaf.length / leaves) | 0;
  const two = levels === 2;
  let sum = base;
  let k = 0;
  for (; k + 8 <= nt; k += 8) {
    let a = k * perTree;
    let b = a + perTree;
    let c = b + perTree;
    let d = c + perTree;
    let e = d + perTree;
    let f = e + perTree;
    let g = f + perTree;
    let h = g + perTree;
    let ja = 0;
    let jb = 0;
    let jc = 0;
    let jd = 0;
    let je = 0;
    let jf = 0;
    let jg = 0;
    let jh = 0;
    for (let s = 0; s < 3; s++) {
      ja = 2 * ja + 1 + +(row[offset + F[64 * a + 56 + ja]!]! >= T[8 * a + ja]!);
      jb = 2 * jb + 1 + +(row[offset + F[64 * b + 56 + jb]!]! >= T[8 * b + jb]!);
      jc = 2 * jc + 1 + +(row[offset + F[64 * c + 56 + jc]!]! >= T[8 * c + jc]!);
      jd = 2 * jd + 1 + +(row[offset + F[64 * d + 56 + jd]!]! >= T[8 * d + jd]!);
      je = 2 * je + 1 + +(row[offset + F[64 * e + 56 + je]!]! >= T[8 * e + je]!);
      jf = 2 * jf + 1 + +(row[offset + F[64 * f + 56 + jf]!]! >= T[8 * f + jf]!);
      jg = 2 * jg + 1 + +(row[offset + F[64 * g + 56 + jg]!]! >= T[8 * g + jg]!);
      jh = 2 * jh + 1 + +(row[offset + F[64 * h + 56 + jh]!]! >= T[8 * h + jh]!);
    }
    let la = ja - 7;
    let lb = jb - 7;
    let lc = jc - 7;
    let ld = jd - 7;
    let le = je - 7;
    let lf = jf - 7;
    let lg = jg - 7;
    let lh = jh - 7;
    if (two) {
      a += 1 + la;
      b += 1 + lb;
      c += 1 + lc;
      d += 1 + ld;
      e += 1 + le;
      f += 1 + lf;
      g += 1 + lg;
      h += 1 + lh;
      ja = 0;
      jb = 0;
      jc = 0;
      jd = 0;
      je = 0;
      jf = 0;
      jg = 0;
      jh = 0;
      for (let s = 0; s < 3; s++) {
        ja = 2 * ja + 1 + +(row[offset + F[64 * a + 56 + ja]!]! >= T[8 * a + ja]!);
        jb = 2 * jb + 1 + +(row[offset + F[64 * b + 56 + jb]!]! >= T[8 * b + jb]!);
        jc = 2 * jc + 1 + +(row[offset + F[64 * c + 56 + jc]!]! >= T[8 * c + jc]!);
        jd = 2 * jd + 1 + +(row[offset + F[64 * d + 56 + jd]!]! >= T[8 * d + jd]!);
        je = 2 * je + 1 + +(row[offset + F[64 * e + 56 + je]!]! >= T[8 * e + je]!);
        jf = 2 * jf + 1 + +(row[offset + F[64 * f + 56 + jf]!]! >= T[8 * f + jf]!);
        jg = 2 * jg + 1 + +(row[offset + F[64 * g + 56 + jg]!]! >= T[8 * g + jg]!);
        jh = 2 * jh + 1 + +(row[offset + F[64 * h + 56 + jh]!]! >= T[8 * h + jh]!);
      }
      la = 8 * la + ja - 7;
      lb = 8 * lb + jb - 7;
      lc = 8 * lc + jc - 7;
      ld = 8 * ld + jd - 7;
      le = 8 * le + je - 7;
      lf = 8 * lf + jf - 7;
      lg = 8 * lg + jg - 7;
      lh = 8 * lh + jh - 7;
    }
    if (f32) {
      sum = fround(sum + leaf[k * leaves + la]!);
      sum = fround(sum + leaf[(k + 1) * leaves + lb]!);
      sum = fround(sum + leaf[(k + 2) * leaves + lc]!);
      sum = fround(sum + leaf[(k + 3) * leaves + ld]!);
      sum = fround(sum + leaf[(k + 4) * leaves + le]!);
      sum = fround(sum + leaf[(k + 5) * leaves + lf]!);
      sum = fround(sum + leaf[(k + 6) * leaves + lg]!);
      sum = fround(sum + leaf[(k + 7) * leaves + lh]!);
    } else {
      sum += leaf[k * leaves + la]!;
      sum += leaf[(k + 1) * leaves + lb]!;
      sum += leaf[(k + 2) * leaves + lc]!;
      sum += leaf[(k + 3) * leaves + ld]!;
      sum += leaf[(k + 4) * leaves + le]!;
      sum += leaf[(k + 5) * leaves + lf]!;
      sum += leaf[(k + 6) * leaves + lg]!;
      sum += leaf[(k + 7) * leaves + lh]!;
    }
  }
  for (; k < nt; k++) {
    const v = leaf[k * leaves + leafOf(row, offset, T, F, k * perTree, two)]!;
    sum = f32 ? fround(sum + v) : sum + v;
  }
  return sum;
}

/** The leaf position one tree's walk reaches, its first block at `a`. */
function leafOf(
  row: ArrayLike<number>,
  offset: number,
  T: Float64Array,
  F: Uint8Array,
  a: number,
  two: boolean,
): number {
  let j = 0;
  for (let s = 0; s < 3; s++) j = 2 * j + 1 + +(row[offset + F[64 * a + 56 + j]!]! >= T[8 * a + j]!);
  if (!two) return j - 7;
  const l = j - 7;
  const b = a + 1 + l;
  j = 0;
  for (let s = 0; s < 3; s++) j = 2 * j + 1 + +(row[offset + F[64 * b + 56 + j]!]! >= T[8 * b + j]!);
  return 8 * l + j - 7;
}
