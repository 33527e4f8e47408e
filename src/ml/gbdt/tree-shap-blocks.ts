/**
 * Block tables: path-dependent TreeSHAP of a whole small subtree as one lookup.
 *
 * tree-shap-tables.ts shows that a leaf's share of the SHAP values depends on the row only through H, the set
 * of the leaf's path features whose branches the row takes (Fast TreeSHAP v2's observation, Yang 2021). H is
 * fixed by the mask of path features satisfied above a node p and by the row's direction at each split below
 * p. So for a subtree rooted at p with I splits, whose root path holds d_p distinct features, every leaf's
 * share, summed and laid out over the subtree's features, can be tabulated over the 2^(d_p + I) combinations
 * of (mask at p, directions below p): one contiguous row of at most d_p + I numbers.
 *
 * A tree is cut into such blocks top-down: a node whose subtree fits `BLOCK_BITS` index bits is a block, any
 * other split is an upper node whose only job is to carry the mask to its children. Explaining a row is then
 * one pass over the upper splits (a branch-free mask update each), the directions of the splits inside each
 * block, and one row of additions per block: for a depth-6 tree about 16 lookups instead of 64 leaf tables,
 * each reading one or two cache lines. Versus per-leaf tables the memory is about the same (a block's index
 * drops the leaf bits that its own splits determine) and the lookups are a quarter.
 */

import { fillTables, type ShapNodes } from './tree-shap-tables.js';

/** Index bits of one block (mask bits at its root + its splits): 2^8 rows of at most 8 numbers, 16 KiB. */
export const BLOCK_BITS = 8;
/**
 * Index bits of a compact (serving) block, when every tree fits the budget with them (else BLOCK_BITS). Why: a
 * lone explained request reads about one cache line per block, mostly missed, and larger blocks are fewer (548
 * instead of 967 on the 80-tree OULAD model, with fewer splits above them and fewer additions): 12.7 instead of
 * 3 MB of tables, about 20% less CPU per explained request.
 */
export const COMPACT_BLOCK_BITS = 10;
/** Table entries (doubles) the block tables of one ensemble may use together (32 MiB). */
export const BLOCK_BUDGET = 1 << 22;

/**
 * The block tables of the trees that have them, laid out for one pass over all such trees at once (see
 * {@link buildBlockTables}): the upper splits of every tree, then every block's row index, then the additions.
 */
export interface BlockTables {
  /** Per tree: 1 if explained through blocks. */
  tabulated: Uint8Array;
  /** Mask slots of all the trees together; slot 0 is every root's mask (all ones) and is never written. */
  slots: number;
  /** Upper splits of every tree, each after its parent. */
  uFeature: Int32Array;
  uThreshold: Float64Array;
  /** -1 when a missing value goes left, else 0 (the all-ones / all-zeros direction mask). */
  uMissing: Int32Array;
  /** ~(1 << bit of the split's feature). */
  uClear: Int32Array;
  uSelf: Int32Array;
  uLeft: Int32Array;
  uRight: Int32Array;
  /** Mask slot of each block's root (blocks in shape order, see {@link buildBlockTables}). */
  bSlot: Int32Array;
  /** (1 << d_p) - 1: the root mask's bits the block reads. */
  bLow: Int32Array;
  /** Where the block's rows start in `table` (or `table32`). */
  bAt: Int32Array;
  /** Numbers in one of the block's rows: row `index` starts at `bAt[b] + index * bStride[b]`. */
  bStride: Int32Array;
  /** Per block (+1): where its splits start in the s* arrays: those whose missing value goes right first, ... */
  bSplitStart: Int32Array;
  /** ... then from here those whose missing value goes left. */
  bSplitMid: Int32Array;
  sFeature: Int32Array;
  sThreshold: Float64Array;
  /** 1 << the split's direction bit in the block's row index (d_p + its preorder rank; set = left). */
  sBit: Int32Array;
  /** The features the blocks add to, each once. */
  aFeature: Int32Array;
  /** Per feature of aFeature (+1): where its entries start in aEntry. */
  aStart: Int32Array;
  /** The table numbers each feature sums: (block << ENTRY_SHIFT) | the number's place in the block's row. */
  aEntry: Int32Array;
  /** The rows in float64 (empty when compact). */
  table: Float64Array;
  /**
   * Compact tables (empty otherwise): each row's entries (one per feature of the block) rounded to float32, then one more float32, the
   * row's rounding residual (its float64 sum minus the sum of the rounded entries), which adds to the block's
   * first feature. Why: half the bytes, so a lone explained request misses cache half as often, while a row
   * still adds up to the margin (the residual carries what rounding took off); each value moves by about 1e-7
   * of its size.
   */
  table32: Float32Array;
}

/** Bits of an aEntry that hold the number's place in its row (a row holds at most bits + 1 <= 31 numbers). */
export const ENTRY_SHIFT = 5;

/** The flat tree arrays with the split thresholds and default directions too. */
export interface BlockNodes extends ShapNodes {
  threshold: Float64Array;
  defaultLeft: Uint8Array;
}

interface Block {
  root: number;
  slot: number;
  path: number[];
  z: number[];
}

interface TreePlan {
  upper: { node: number; bit: number; self: number; left: number; right: number }[];
  blocks: Block[];
  slots: number;
  size: number;
}

/**
 * Builds block tables for every tree that fits BLOCK_BITS per block and, together, the budget; null if none.
 * `compact` stores them in float32 with a residual per row (see {@link BlockTables.table32}), in blocks of
 * COMPACT_BLOCK_BITS when every tree fits the budget so.
 *
 * The layout is for speed (see TreeShapExplainer's block pass). Blocks are sorted by shape (row width, number
 * of splits of each missing-value direction), so the short loops over a block's splits run the same length
 * many times in a row and their exits are predicted. The additions are grouped by feature, so each feature's
 * sum builds in registers: adding row after row straight into the contributions chains every addition to a
 * feature through memory on the one before (the blocks of a tree share their root path's features).
 */
export function buildBlockTables(
  nodes: BlockNodes,
  options: { bits?: number; budget?: number; compact?: boolean } = {},
): BlockTables | null {
  const budget = options.budget ?? BLOCK_BUDGET;
  const compact = options.compact === true;
  const tries =
    options.bits !== undefined ? [options.bits] : compact ? [COMPACT_BLOCK_BITS, BLOCK_BITS] : [BLOCK_BITS];
  const splits = countSplits(nodes);
  for (const bits of tries) {
    if (bits > 24) throw new RangeError(`block tables of ${bits} index bits`);
    const { plans, tabulated, total } = planTrees(nodes, splits, bits, budget, compact);
    if (tabulated.includes(0) && bits !== tries.at(-1)) continue;
    return total === 0 ? null : fillBlocks(nodes, plans, tabulated, total, compact);
  }
  return null;
}

/** Plans every tree that fits `bits` per block and, together, the budget (tabulated[t] = 1). */
function planTrees(
  nodes: BlockNodes,
  splits: Int32Array,
  bits: number,
  budget: number,
  compact: boolean,
): { plans: (TreePlan | null)[]; tabulated: Uint8Array; total: number } {
  const nt = nodes.roots.length;
  const tabulated = new Uint8Array(nt);
  const plans: (TreePlan | null)[] = [];
  let total = 0;
  for (let t = 0; t < nt; t++) {
    const plan = planTree(nodes, splits, nodes.roots[t]!, bits, compact);
    if (plan === null || total + plan.size > budget) {
      plans.push(null);
      continue;
    }
    tabulated[t] = 1;
    total += plan.size;
    plans.push(plan);
  }
  return { plans, tabulated, total };
}

/** Splits in each node's subtree (0 at leaves). */
function countSplits(nodes: ShapNodes): Int32Array {
  const n = nodes.feature.length;
  const out = new Int32Array(n);
  // children come after their parent: one backward pass sums subtrees
  for (let i = n - 1; i >= 0; i--) {
    if (nodes.feature[i]! >= 0) out[i] = 1 + out[nodes.left[i]!]! + out[nodes.right[i]!]!;
  }
  return out;
}

/** Cuts one tree into upper splits and blocks; null when a leaf's path alone exceeds the bits. */
function planTree(
  nodes: ShapNodes,
  splits: Int32Array,
  root: number,
  bits: number,
  compact: boolean,
): TreePlan | null {
  const plan: TreePlan = { upper: [], blocks: [], slots: 1, size: 0 };
  const path: number[] = [];
  const z: number[] = [];
  const visit = (n: number, slot: number): boolean => {
    const dp = path.length;
    const s = splits[n]!;
    if (dp + s <= bits) {
      plan.blocks.push({ root: n, slot, path: [...path], z: [...z] });
      const w = blockWidth(nodes, n, path);
      plan.size += (1 << (dp + s)) * (compact ? w + 1 : Math.max(1, w));
      return true;
    }
    if (s === 0) return false;
    const f = nodes.feature[n]!;
    let b = path.indexOf(f);
    const fresh = b < 0;
    if (fresh) {
      b = path.length;
      path.push(f);
      z.push(1);
    }
    const left = plan.slots++;
    const right = plan.slots++;
    plan.upper.push({ node: n, bit: b, self: slot, left, right });
    let ok = true;
    for (const [child, childSlot] of [
      [nodes.left[n]!, left],
      [nodes.right[n]!, right],
    ] as const) {
      const before = z[b]!;
      z[b] = before * nodes.share[child]!;
      ok = ok && visit(child, childSlot);
      z[b] = before;
    }
    if (fresh) {
      path.pop();
      z.pop();
    }
    return ok;
  };
  return visit(root, 0) ? plan : null;
}

/** Distinct features on the paths through a block: the root path's plus those split on below the root. */
function blockWidth(nodes: ShapNodes, root: number, path: readonly number[]): number {
  const seen = new Set(path);
  const stack = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    const f = nodes.feature[n]!;
    if (f < 0) continue;
    seen.add(f);
    stack.push(nodes.left[n]!, nodes.right[n]!);
  }
  return seen.size;
}

function fillBlocks(
  nodes: BlockNodes,
  plans: readonly (TreePlan | null)[],
  tabulated: Uint8Array,
  total: number,
  compact: boolean,
): BlockTables {
  const upper: TreePlan['upper'] = [];
  const blocks: Block[] = [];
  // tree-local slot k > 0 becomes base + k - 1; slot 0 (the root's all-ones mask) is shared by every tree
  let base = 1;
  for (const p of plans) {
    if (!p) continue;
    const slot = (k: number) => (k === 0 ? 0 : base + k - 1);
    for (const u of p.upper)
      upper.push({ ...u, self: slot(u.self), left: slot(u.left), right: slot(u.right) });
    for (const b of p.blocks) blocks.push({ ...b, slot: slot(b.slot) });
    base += p.slots - 1;
  }
  const filled = blocks.map((b) => ({ block: b, ...fillBlock(nodes, b) }));
  filled.sort((a, b) => shapeKey(nodes, a) - shapeKey(nodes, b));
  const nb = filled.length;
  const out: BlockTables = {
    tabulated,
    slots: base,
    uFeature: Int32Array.from(upper, (u) => nodes.feature[u.node]!),
    uThreshold: Float64Array.from(upper, (u) => nodes.threshold[u.node]!),
    uMissing: Int32Array.from(upper, (u) => (nodes.defaultLeft[u.node] === 1 ? -1 : 0)),
    uClear: Int32Array.from(upper, (u) => ~(1 << u.bit)),
    uSelf: Int32Array.from(upper, (u) => u.self),
    uLeft: Int32Array.from(upper, (u) => u.left),
    uRight: Int32Array.from(upper, (u) => u.right),
    bSlot: Int32Array.from(filled, (f) => f.block.slot),
    bLow: Int32Array.from(filled, (f) => (1 << f.block.path.length) - 1),
    bAt: new Int32Array(nb),
    bStride: new Int32Array(nb),
    bSplitStart: new Int32Array(nb + 1),
    bSplitMid: new Int32Array(nb),
    sFeature: new Int32Array(0),
    sThreshold: new Float64Array(0),
    sBit: new Int32Array(0),
    aFeature: new Int32Array(0),
    aStart: new Int32Array(0),
    aEntry: new Int32Array(0),
    table: new Float64Array(compact ? 0 : total),
    table32: new Float32Array(compact ? total : 0),
  };
  const splits: number[] = [];
  const bit: number[] = [];
  const entries: { feature: number; entry: number }[] = [];
  let at = 0;
  filled.forEach((f, i) => {
    const w = f.columns.length;
    out.bAt[i] = at;
    out.bStride[i] = compact ? w + 1 : f.width;
    if (compact) storeCompact(f.rows, f.width, w, out.table32, at);
    else out.table.set(f.rows, at);
    at += out.bStride[i]! << f.bits;
    // missing goes right, then missing goes left: each kind compares without a NaN test (see blockRows)
    out.bSplitStart[i] = splits.length;
    for (const left of [0, 1]) {
      if (left === 1) out.bSplitMid[i] = splits.length;
      f.splits.forEach((n, k) => {
        if (nodes.defaultLeft[n] !== left) return;
        splits.push(n);
        bit.push(1 << (f.block.path.length + k));
      });
    }
    f.columns.forEach((feature, j) => {
      entries.push({ feature, entry: (i << ENTRY_SHIFT) | j });
    });
    if (compact && w > 0) entries.push({ feature: f.columns[0]!, entry: (i << ENTRY_SHIFT) | w });
  });
  out.bSplitStart[nb] = splits.length;
  out.sFeature = Int32Array.from(splits, (n) => nodes.feature[n]!);
  out.sThreshold = Float64Array.from(splits, (n) => nodes.threshold[n]!);
  out.sBit = Int32Array.from(bit);
  groupEntries(entries, out);
  return out;
}

/** Sort key of a block's shape: its row width, then its splits whose missing value goes left, then right. */
function shapeKey(nodes: BlockNodes, f: { columns: number[]; splits: number[] }): number {
  let left = 0;
  for (const n of f.splits) left += nodes.defaultLeft[n]!;
  return (f.columns.length * 64 + left) * 64 + (f.splits.length - left);
}

/** Fills aFeature / aStart / aEntry: the entries grouped by feature, each group in block order. */
function groupEntries(entries: { feature: number; entry: number }[], out: BlockTables): void {
  entries.sort((a, b) => a.feature - b.feature || a.entry - b.entry);
  const features: number[] = [];
  const starts: number[] = [];
  entries.forEach((e, k) => {
    if (k === 0 || e.feature !== entries[k - 1]!.feature) {
      features.push(e.feature);
      starts.push(k);
    }
  });
  starts.push(entries.length);
  out.aFeature = Int32Array.from(features);
  out.aStart = Int32Array.from(starts);
  out.aEntry = Int32Array.from(entries, (e) => e.entry);
}

interface BlockLeaf {
  /** The leaf's path features in bit order, as block columns. */
  columns: Int32Array;
  /** The leaf's share of each of its d path features for each satisfied mask h: share[h * d + j]. */
  share: Float64Array;
  /** The block splits on the leaf's path: their direction bit in the index, the leaf's side, the feature's bit. */
  rank: number[];
  left: number[];
  bit: number[];
}

/** Writes a block's rows in float32 at `table[at ..]`, each with its rounding residual last (stride w + 1). */
function storeCompact(rows: Float64Array, width: number, w: number, table: Float32Array, at: number): void {
  const n = rows.length / width;
  for (let r = 0; r < n; r++) {
    let exact = 0;
    let rounded = 0;
    for (let j = 0; j < w; j++) {
      const v = rows[r * width + j]!;
      const f = Math.fround(v);
      table[at + r * (w + 1) + j] = f;
      exact += v;
      rounded += f;
    }
    table[at + r * (w + 1) + w] = exact - rounded;
  }
}

/**
 * Fills one block's rows (in a new array, `width` numbers a row): for every (root mask, split directions) index, the sum over the
 * block's leaves of each leaf's share per feature (see tree-shap-tables.ts: with h the leaf's satisfied mask,
 * feature j in h gets q(h) (1 - z_j) k(h \ j), any other path feature -q(h) k(h)).
 */
function fillBlock(
  nodes: ShapNodes,
  block: Block,
): { columns: number[]; splits: number[]; rows: Float64Array; width: number; bits: number } {
  const columns = [...block.path];
  const splits: number[] = [];
  const leaves: BlockLeaf[] = [];
  const path = [...block.path];
  const z = [...block.z];
  const steps: { rank: number; left: boolean; bit: number }[] = [];
  // preorder: collect the block's splits (their rank is their direction bit) and leaves with their paths
  const collect = (n: number): void => {
    const f = nodes.feature[n]!;
    if (f < 0) {
      leaves.push({
        columns: Int32Array.from(path, (g) => columns.indexOf(g)),
        share: leafShares(z, nodes.value[n]!),
        rank: steps.map((s) => s.rank),
        left: steps.map((s) => (s.left ? 1 : 0)),
        bit: steps.map((s) => s.bit),
      });
      return;
    }
    const rank = splits.length;
    splits.push(n);
    if (!columns.includes(f)) columns.push(f);
    let b = path.indexOf(f);
    const fresh = b < 0;
    if (fresh) {
      b = path.length;
      path.push(f);
      z.push(1);
    }
    for (const [child, left] of [
      [nodes.left[n]!, true],
      [nodes.right[n]!, false],
    ] as const) {
      const before = z[b]!;
      z[b] = before * nodes.share[child]!;
      steps.push({ rank, left, bit: b });
      collect(child);
      steps.pop();
      z[b] = before;
    }
    if (fresh) {
      path.pop();
      z.pop();
    }
  };
  collect(block.root);
  const width = Math.max(1, columns.length);
  const dp = block.path.length;
  const rows = 1 << (dp + splits.length);
  const table = new Float64Array(rows * width);
  for (let index = 0; index < rows; index++) {
    const rowAt = index * width;
    // the root mask as indexed; bits of features first split on inside the block start satisfied
    const start = (index & ((1 << dp) - 1)) | ~((1 << dp) - 1);
    for (const leaf of leaves) {
      let mask = start;
      // a split on the leaf's path whose direction (bit dp + rank of the index: 1 = left) is not the leaf's side
      for (let s = 0; s < leaf.rank.length; s++) {
        if (((index >> (dp + leaf.rank[s]!)) & 1) !== leaf.left[s]) mask &= ~(1 << leaf.bit[s]!);
      }
      const d = leaf.columns.length;
      const at = (mask & ((1 << d) - 1)) * d;
      for (let j = 0; j < d; j++) table[rowAt + leaf.columns[j]!] += leaf.share[at + j]!;
    }
  }
  return { columns, splits, rows: table, width, bits: dp + splits.length };
}

/**
 * One leaf's share of each of its d path features (z: their zero fractions in bit order) for every satisfied
 * mask h (see tree-shap-tables.ts): feature j in h gets q(h) (1 - z_j) k(h \ j), any other -q(h) k(h).
 */
function leafShares(z: number[], value: number): Float64Array {
  const d = z.length;
  const q = new Float64Array(1 << d);
  const k = new Float64Array(1 << d);
  fillTables(z, value, q, k);
  const out = new Float64Array(d << d);
  for (let h = 0; h < 1 << d; h++) {
    const cold = -q[h]! * k[h]!;
    for (let j = 0; j < d; j++) {
      const b = 1 << j;
      out[h * d + j] = h & b ? q[h]! * (1 - z[j]!) * k[h ^ b]! : cold;
    }
  }
  return out;
}
