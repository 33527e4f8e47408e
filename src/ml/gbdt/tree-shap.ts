import type { Matrix } from '../matrix.js';
import type { TreeEnsemble } from './ensemble.js';
import { type BlockTables, buildBlockTables, ENTRY_SHIFT } from './tree-shap-blocks.js';
import { type BlockRows, compileBlockRows } from './tree-shap-compiled.js';
import { buildLeafTables, type LeafTables } from './tree-shap-tables.js';

const fround = Math.fround;

/**
 * Exact path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, Algorithm 2) as XGBoost implements it in
 * `RegTree::CalculateContributions`: each node's share of the background is its cover (the hessian sum
 * stored per node), a missing value follows the split's default direction, and splits compare as the
 * ensemble does (float32 for XGBoost-imported models). Contributions are in margin (log-odds) units and, with
 * the bias, sum to the ensemble's raw margin: `sum(phi) + bias = margin` up to float rounding.
 *
 * The bias (XGBoost's last `pred_contribs` column) is the expected value: the base margin plus each tree's
 * cover-weighted mean leaf value. All work buffers are allocated once; explaining a row allocates nothing.
 */
export class TreeShapExplainer {
  /** The ensemble explained. */
  readonly ensemble: TreeEnsemble;
  /** Number of input features (contribution vectors hold one more entry: the bias). */
  readonly nFeatures: number;
  /** Expected margin over the training distribution the covers describe: the bias of every row. */
  readonly expectedValue: number;
  private readonly f32: boolean;
  private readonly roots: Int32Array;
  private readonly sizes: Int32Array;
  /** Block tables for the trees that fit them (see tree-shap-blocks.ts); null = none. */
  private readonly blocks: BlockTables | null;
  /** The blocks' row finding as generated code (see tree-shap-compiled.ts); null = the interpreted loops. */
  private readonly compiledRows: BlockRows | null;
  /** Per-leaf lookup tables for the other trees small enough to have them (see tree-shap-tables.ts). */
  private readonly tables: LeafTables | null;
  /** Per tree: 0 recursion, 1 leaf tables, 2 blocks. */
  private readonly route: Uint8Array;
  /** Mask per slot of the block-tabulated trees (slot 0, every root's, stays all ones). */
  private readonly slotMasks: Int32Array;
  /** Per block: where the row being explained reads its table row. */
  private readonly blockRowAt: Int32Array;
  /** The row in float32 for float32 models (the block pass compares it as the ensemble does). */
  private readonly rounded: Float64Array;
  /** Per node of the tree being explained: the mask of path features the row satisfies so far. */
  private readonly masks: Int32Array;
  private readonly feature: Int32Array;
  private readonly threshold: Float64Array;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly defaultLeft: Uint8Array;
  private readonly value: Float64Array;
  /** cover[child] / cover[parent] of each node (1 at the roots): the share of the parent's rows it gets. */
  private readonly share: Float64Array;
  /** Features each tree splits on (for interaction values: only those can interact within the tree). */
  private readonly treeFeatures: Int32Array[];
  // The decision path, stored as XGBoost does: level d's copy of the path starts where level d-1's ends.
  private readonly pathFeature: Int32Array;
  private readonly pathZero: Float64Array;
  private readonly pathOne: Float64Array;
  private readonly pathWeight: Float64Array;
  // Per-call state of the recursion (kept in fields so the recursive method takes fewer arguments).
  private row: Float64Array = new Float64Array(0);
  private offset = 0;
  private phi: Float64Array = new Float64Array(0);
  private phiAt = 0;
  /** @internal The last sum of touchRows, kept so that its loads are not optimised away (not a result). */
  touched = 0;
  private condition = 0;
  private conditionFeature = -1;

  /**
   * @param options.tables false explains every tree by the recursion. By default a tree is explained through
   *   block tables when its subtrees fit them (see tree-shap-blocks.ts), else through per-leaf tables when its
   *   leaves have at most 12 distinct path features, else by the recursion, within memory budgets.
   * @param options.blocks false skips the block tables (per-leaf tables or the recursion only).
   * @param options.compact true stores the block tables in float32 with a float64-exact residual per row
   *   (see tree-shap-blocks.ts): half the memory, so a single explained record (serving) misses cache less;
   *   each contribution moves by about 1e-7 of its size, and they still add up to the margin.
   * @param options.compiled false finds the blocks' rows with the interpreted loops instead of code generated for
   *   the model (see tree-shap-compiled.ts); the same rows, so the same contributions.
   */
  constructor(
    ensemble: TreeEnsemble,
    options: { tables?: boolean; blocks?: boolean; compact?: boolean; compiled?: boolean } = {},
  ) {
    const trees = ensemble.trees;
    this.ensemble = ensemble;
    this.nFeatures = ensemble.nFeatures;
    this.f32 = ensemble.precision === 'float32';
    let total = 0;
    for (const t of trees) total += t.feature.length;
    this.roots = new Int32Array(trees.length);
    this.sizes = new Int32Array(trees.length);
    this.feature = new Int32Array(total);
    this.threshold = new Float64Array(total);
    this.left = new Int32Array(total);
    this.right = new Int32Array(total);
    this.defaultLeft = new Uint8Array(total);
    this.value = new Float64Array(total);
    this.share = new Float64Array(total);
    this.treeFeatures = [];
    let expected = ensemble.baseMargin;
    let maxDepth = 0;
    let at = 0;
    trees.forEach((t, k) => {
      this.roots[k] = at;
      const n = t.feature.length;
      this.sizes[k] = n;
      const used = new Set<number>();
      for (let i = 0; i < n; i++) {
        const f = t.feature[i]!;
        this.feature[at + i] = f;
        this.defaultLeft[at + i] = t.defaultLeft[i]!;
        const leafValue = this.f32 ? fround(t.value[i]!) : t.value[i]!;
        this.value[at + i] = f < 0 ? leafValue : 0;
        if (f < 0) {
          this.left[at + i] = -1;
          this.right[at + i] = -1;
          continue;
        }
        used.add(f);
        this.threshold[at + i] = this.f32 ? fround(t.threshold[i]!) : t.threshold[i]!;
        this.left[at + i] = at + t.left[i]!;
        this.right[at + i] = at + t.right[i]!;
        const c = t.cover[i]!;
        if (!(c > 0)) {
          throw new Error(
            `tree ${k} node ${i}: cover ${c}; TreeSHAP needs the hessian sum (cover) of every node, which this model does not store`,
          );
        }
        this.share[at + t.left[i]!] = t.cover[t.left[i]!]! / c;
        this.share[at + t.right[i]!] = t.cover[t.right[i]!]! / c;
      }
      this.share[at] = 1;
      this.treeFeatures.push(Int32Array.from([...used].sort((a, b) => a - b)));
      const { mean, depth } = this.meanValue(at, 0);
      expected += mean;
      maxDepth = Math.max(maxDepth, depth);
      at += n;
    });
    this.expectedValue = expected;
    // level d's path starts at (d+1)(d+2)/2 and holds d+1 entries (XGBoost's triangular layout)
    const size = ((maxDepth + 2) * (maxDepth + 3)) / 2 + 1;
    this.pathFeature = new Int32Array(size);
    this.pathZero = new Float64Array(size);
    this.pathOne = new Float64Array(size);
    this.pathWeight = new Float64Array(size);
    const nodes = {
      roots: this.roots,
      sizes: this.sizes,
      feature: this.feature,
      threshold: this.threshold,
      defaultLeft: this.defaultLeft,
      left: this.left,
      right: this.right,
      value: this.value,
      share: this.share,
    };
    const useTables = options.tables !== false;
    this.blocks =
      useTables && options.blocks !== false
        ? buildBlockTables(nodes, { compact: options.compact === true })
        : null;
    this.compiledRows =
      this.blocks && options.compiled !== false ? compileBlockRows(this.blocks, this.nFeatures) : null;
    this.route = new Uint8Array(trees.length);
    if (this.blocks) this.route.set(this.blocks.tabulated.map((v) => v * 2));
    // per-leaf tables only for the trees the blocks left out
    const rest = useTables && this.route.some((r) => r === 0);
    this.tables = rest ? buildLeafTables(nodes, this.route) : null;
    const leafTables = this.tables;
    if (leafTables) {
      for (let t = 0; t < trees.length; t++)
        if (this.route[t] === 0 && leafTables.tabulated[t]) this.route[t] = 1;
    }
    this.masks = new Int32Array(Math.max(1, ...this.sizes));
    this.slotMasks = new Int32Array(this.blocks ? this.blocks.slots : 1).fill(-1);
    this.blockRowAt = new Int32Array(this.blocks ? this.blocks.bSlot.length : 0);
    this.rounded = new Float64Array(this.f32 ? this.nFeatures : 0);
  }

  /** How many trees are explained through lookup tables (block or per-leaf; the rest by the recursion). */
  get tabulatedTrees(): number {
    let n = 0;
    for (const r of this.route) if (r > 0) n++;
    return n;
  }

  /** How many trees are explained through block tables. */
  get blockTrees(): number {
    let n = 0;
    for (const r of this.route) if (r === 2) n++;
    return n;
  }

  /** Cover-weighted mean leaf value under node n (XGBoost's FillNodeMeanValue) and the subtree's depth. */
  private meanValue(n: number, depth: number): { mean: number; depth: number } {
    if (this.feature[n]! < 0) return { mean: this.value[n]!, depth };
    const l = this.meanValue(this.left[n]!, depth + 1);
    const r = this.meanValue(this.right[n]!, depth + 1);
    return {
      mean: l.mean * this.share[this.left[n]!]! + r.mean * this.share[this.right[n]!]!,
      depth: Math.max(l.depth, r.depth),
    };
  }

  /**
   * SHAP values of one row (features read at `row[offset + j]`), written to `out[outAt .. outAt + nFeatures]`
   * with the bias last (XGBoost's `pred_contribs` layout). `out` is overwritten, not accumulated into.
   */
  contributions(row: Float64Array, out: Float64Array, offset = 0, outAt = 0): Float64Array {
    this.featureContributions(row, out, offset, outAt);
    out[outAt + this.nFeatures] = this.expectedValue;
    return out;
  }

  /** {@link contributions} without the bias: writes `out[outAt .. outAt + nFeatures)` only. */
  featureContributions(row: Float64Array, out: Float64Array, offset = 0, outAt = 0): Float64Array {
    out.fill(0, outAt, outAt + this.nFeatures);
    this.run(row, offset, out, outAt, 0, -1);
    return out;
  }

  /** SHAP values of every row of X: rows x (nFeatures + 1), bias last. */
  contributionsMatrix(X: Matrix): Float64Array {
    if (X.cols !== this.nFeatures) throw new Error(`model expects ${this.nFeatures} features, got ${X.cols}`);
    const w = this.nFeatures + 1;
    const out = new Float64Array(X.rows * w);
    for (let i = 0; i < X.rows; i++) this.contributions(X.data, out, i * X.cols, i * w);
    return out;
  }

  /**
   * SHAP interaction values of one row (XGBoost's `pred_interactions`): an (nFeatures+1)^2 matrix, row-major,
   * whose off-diagonal (i, k) is half the change in feature k's contribution when feature i is fixed present
   * rather than absent, and whose diagonal makes each row sum to that feature's SHAP value (bias at the
   * corner). Only features a tree splits on are conditioned on in that tree (the others cannot interact there).
   */
  interactions(row: Float64Array, offset = 0): Float64Array {
    const w = this.nFeatures + 1;
    const out = new Float64Array(w * w);
    const phi = this.contributions(row, new Float64Array(w), offset);
    const on = new Float64Array(w);
    const off = new Float64Array(w);
    const nt = this.roots.length;
    for (let t = 0; t < nt; t++) {
      for (const i of this.treeFeatures[t]!) {
        on.fill(0);
        off.fill(0);
        this.runTree(t, row, offset, on, 0, 1, i);
        this.runTree(t, row, offset, off, 0, -1, i);
        for (let k = 0; k < this.nFeatures; k++) {
          if (k !== i) out[i * w + k] += (on[k]! - off[k]!) / 2;
        }
      }
    }
    for (let i = 0; i < w; i++) {
      let s = 0;
      for (let k = 0; k < w; k++) if (k !== i) s += out[i * w + k]!;
      out[i * w + i] = phi[i]! - s;
    }
    return out;
  }

  private run(
    row: Float64Array,
    offset: number,
    out: Float64Array,
    outAt: number,
    condition: number,
    conditionFeature: number,
  ): void {
    if (condition !== 0) {
      for (let t = 0; t < this.roots.length; t++)
        this.runTree(t, row, offset, out, outAt, condition, conditionFeature);
      return;
    }
    const route = this.route;
    if (this.blocks) {
      if (this.f32) {
        const r = this.rounded;
        for (let j = 0; j < r.length; j++) r[j] = fround(row[offset + j]!);
        this.blockPass(this.blocks, r, 0, out, outAt);
      } else this.blockPass(this.blocks, row, offset, out, outAt);
    }
    for (let t = 0; t < route.length; t++) {
      const r = route[t]!;
      if (r === 1) this.tableTree(this.tables!, t, row, offset, out, outAt);
      else if (r === 0) this.runTree(t, row, offset, out, outAt, 0, -1);
    }
  }

  /**
   * Every block-tabulated tree at once (see tree-shap-blocks.ts): the upper splits carry the mask of satisfied
   * path features down (branch-free), each block finds its row from its root's mask and its splits' directions,
   * then each feature sums its numbers of those rows. `row` is already in the model's precision.
   */
  private blockPass(
    bt: BlockTables,
    row: Float64Array,
    offset: number,
    phi: Float64Array,
    phiAt: number,
  ): void {
    if (this.compiledRows) this.compiledRows(row, offset, this.blockRowAt);
    else blockRows(bt, this.slotMasks, this.blockRowAt, row, offset);
    if (bt.table32.length > 0) {
      this.touched = touchRows(bt.table32, this.blockRowAt, bt.bSlot.length);
      addCompactRows(bt, this.blockRowAt, phi, phiAt);
    } else addRows(bt, this.blockRowAt, phi, phiAt);
  }

  /** One tabulated tree: every leaf's mask in one pass over the nodes, then O(d) lookups per leaf. */
  private tableTree(
    tab: LeafTables,
    t: number,
    row: Float64Array,
    offset: number,
    phi: Float64Array,
    phiAt: number,
  ): void {
    const { feature, threshold, left, right, defaultLeft, masks } = this;
    const { bit, leafBits, leafAt, leafFeature, oneMinusZ, tableAt, q, k } = tab;
    const f32 = this.f32;
    const root = this.roots[t]!;
    const end = root + this.sizes[t]!;
    masks[0] = -1;
    for (let n = root; n < end; n++) {
      const m = masks[n - root]!;
      const f = feature[n]!;
      if (f >= 0) {
        const x = row[offset + f]!;
        const goLeft = Number.isNaN(x) ? defaultLeft[n] === 1 : (f32 ? fround(x) : x) < threshold[n]!;
        const cleared = m & ~(1 << bit[n]!);
        masks[left[n]! - root] = goLeft ? m : cleared;
        masks[right[n]! - root] = goLeft ? cleared : m;
        continue;
      }
      const d = leafBits[n]!;
      if (d === 0) continue;
      const h = m & ((1 << d) - 1);
      const ta = tableAt[n]!;
      const la = leafAt[n]!;
      const qh = q[ta + h]!;
      const cold = -qh * k[ta + h]!;
      for (let j = 0; j < d; j++) {
        const b = 1 << j;
        phi[phiAt + leafFeature[la + j]!] += h & b ? qh * oneMinusZ[la + j]! * k[ta + (h ^ b)]! : cold;
      }
    }
  }

  private runTree(
    t: number,
    row: Float64Array,
    offset: number,
    out: Float64Array,
    outAt: number,
    condition: number,
    conditionFeature: number,
  ): void {
    this.row = row;
    this.offset = offset;
    this.phi = out;
    this.phiAt = outAt;
    this.condition = condition;
    this.conditionFeature = conditionFeature;
    this.recurse(this.roots[t]!, 0, 0, 1, 1, -1, 1);
  }

  /** XGBoost's RegTree::TreeShap, with the path of this level starting at `parentAt + depth + 1`. */
  private recurse(
    node: number,
    depth: number,
    parentAt: number,
    parentZero: number,
    parentOne: number,
    parentFeature: number,
    conditionFraction: number,
  ): void {
    if (conditionFraction === 0) return;
    const pf = this.pathFeature;
    const pz = this.pathZero;
    const po = this.pathOne;
    const pw = this.pathWeight;
    const at = parentAt + depth + 1;
    for (let i = 0; i <= depth; i++) {
      pf[at + i] = pf[parentAt + i]!;
      pz[at + i] = pz[parentAt + i]!;
      po[at + i] = po[parentAt + i]!;
      pw[at + i] = pw[parentAt + i]!;
    }
    const condition = this.condition;
    const conditionFeature = this.conditionFeature;
    if (condition === 0 || conditionFeature !== parentFeature) {
      extendPath(pf, pz, po, pw, at, depth, parentZero, parentOne, parentFeature);
    }
    const split = this.feature[node]!;
    if (split < 0) {
      const v = this.value[node]! * conditionFraction;
      const phi = this.phi;
      const phiAt = this.phiAt;
      for (let i = 1; i <= depth; i++) {
        const w = unwoundPathSum(pz, po, pw, at, depth, i);
        phi[phiAt + pf[at + i]!] += w * (po[at + i]! - pz[at + i]!) * v;
      }
      return;
    }
    const x = this.row[this.offset + split]!;
    const goLeft = Number.isNaN(x)
      ? this.defaultLeft[node] === 1
      : (this.f32 ? fround(x) : x) < this.threshold[node]!;
    const hot = goLeft ? this.left[node]! : this.right[node]!;
    const cold = goLeft ? this.right[node]! : this.left[node]!;
    const hotZero = this.share[hot]!;
    const coldZero = this.share[cold]!;
    let incomingZero = 1;
    let incomingOne = 1;
    let pathIndex = 0;
    for (; pathIndex <= depth; pathIndex++) if (pf[at + pathIndex] === split) break;
    if (pathIndex !== depth + 1) {
      incomingZero = pz[at + pathIndex]!;
      incomingOne = po[at + pathIndex]!;
      unwindPath(pf, pz, po, pw, at, depth, pathIndex);
      depth -= 1;
    }
    let hotFraction = conditionFraction;
    let coldFraction = conditionFraction;
    if (condition > 0 && split === conditionFeature) {
      coldFraction = 0;
      depth -= 1;
    } else if (condition < 0 && split === conditionFeature) {
      hotFraction *= hotZero;
      coldFraction *= coldZero;
      depth -= 1;
    }
    this.recurse(hot, depth + 1, at, hotZero * incomingZero, incomingOne, split, hotFraction);
    this.recurse(cold, depth + 1, at, coldZero * incomingZero, 0, split, coldFraction);
  }
}

/** Adds a feature to the path with the given fractions of zero (absent) and one (present) paths. */
function extendPath(
  pf: Int32Array,
  pz: Float64Array,
  po: Float64Array,
  pw: Float64Array,
  at: number,
  depth: number,
  zero: number,
  one: number,
  feature: number,
): void {
  pf[at + depth] = feature;
  pz[at + depth] = zero;
  po[at + depth] = one;
  pw[at + depth] = depth === 0 ? 1 : 0;
  const d1 = depth + 1;
  for (let i = depth - 1; i >= 0; i--) {
    pw[at + i + 1] += (one * pw[at + i]! * (i + 1)) / d1;
    pw[at + i] = (zero * pw[at + i]! * (depth - i)) / d1;
  }
}

/** Removes entry `pathIndex` from the path (undoing its extension). */
function unwindPath(
  pf: Int32Array,
  pz: Float64Array,
  po: Float64Array,
  pw: Float64Array,
  at: number,
  depth: number,
  pathIndex: number,
): void {
  const one = po[at + pathIndex]!;
  const zero = pz[at + pathIndex]!;
  const d1 = depth + 1;
  let next = pw[at + depth]!;
  for (let i = depth - 1; i >= 0; i--) {
    if (one !== 0) {
      const tmp = pw[at + i]!;
      pw[at + i] = (next * d1) / ((i + 1) * one);
      next = tmp - (pw[at + i]! * zero * (depth - i)) / d1;
    } else {
      pw[at + i] = (pw[at + i]! * d1) / (zero * (depth - i));
    }
  }
  for (let i = pathIndex; i < depth; i++) {
    pf[at + i] = pf[at + i + 1]!;
    pz[at + i] = pz[at + i + 1]!;
    po[at + i] = po[at + i + 1]!;
  }
}

/** The total permutation weight the path would have with entry `pathIndex` unwound. */
function unwoundPathSum(
  pz: Float64Array,
  po: Float64Array,
  pw: Float64Array,
  at: number,
  depth: number,
  pathIndex: number,
): number {
  const one = po[at + pathIndex]!;
  const zero = pz[at + pathIndex]!;
  const d1 = depth + 1;
  let next = pw[at + depth]!;
  let total = 0;
  if (one !== 0) {
    for (let i = depth - 1; i >= 0; i--) {
      const tmp = (next * d1) / ((i + 1) * one);
      total += tmp;
      next = pw[at + i]! - (tmp * zero * (depth - i)) / d1;
    }
  } else {
    for (let i = depth - 1; i >= 0; i--) total += pw[at + i]! / zero / ((depth - i) / d1);
  }
  return total;
}

/**
 * Where each block's row for `row` starts (into rowAt), the mask of every upper split's children on the way
 * (into masks). A profiled hot loop: a module function over arrays (as a method it ran about 20% slower).
 */
function blockRows(
  bt: BlockTables,
  masks: Int32Array,
  rowAt: Int32Array,
  row: Float64Array,
  offset: number,
): void {
  const { uFeature, uThreshold, uMissing, uClear, uSelf, uLeft, uRight } = bt;
  const { bSlot, bLow, bAt, bStride, bSplitStart, bSplitMid, sFeature, sThreshold, sBit } = bt;
  const nu = uFeature.length;
  for (let u = 0; u < nu; u++) {
    const m = masks[uSelf[u]!]!;
    const x = row[offset + uFeature[u]!]!;
    // all ones when the row goes left (NaN compares false: then the default direction)
    const g = -+(x < uThreshold[u]!) | (Number.isNaN(x) ? uMissing[u]! : 0);
    const c = m & uClear[u]!;
    masks[uLeft[u]!] = c | (m & g);
    masks[uRight[u]!] = c | (m & ~g);
  }
  const nb = bSlot.length;
  for (let b = 0; b < nb; b++) {
    let index = masks[bSlot[b]!]! & bLow[b]!;
    const mid = bSplitMid[b]!;
    const end = bSplitStart[b + 1]!;
    let s = bSplitStart[b]!;
    // NaN fails both comparisons: `<` sends it right, `!(>=)` left, each split's default direction
    for (; s < mid; s++) index |= sBit[s]! & -+(row[offset + sFeature[s]!]! < sThreshold[s]!);
    for (; s < end; s++) index |= sBit[s]! & ~-+(row[offset + sFeature[s]!]! >= sThreshold[s]!);
    rowAt[b] = bAt[b]! + index * bStride[b]!;
  }
}

/** Adds each feature's numbers of the blocks' float64 rows (two running sums, in registers). */
function addRows(bt: BlockTables, rowAt: Int32Array, phi: Float64Array, phiAt: number): void {
  const { aFeature, aStart, aEntry, table } = bt;
  const nf = aFeature.length;
  const shift = ENTRY_SHIFT;
  const low = (1 << shift) - 1;
  for (let q = 0; q < nf; q++) {
    let s0 = 0;
    let s1 = 0;
    const end = aStart[q + 1]!;
    let e = aStart[q]!;
    for (; e + 1 < end; e += 2) {
      const k0 = aEntry[e]!;
      const k1 = aEntry[e + 1]!;
      s0 += table[rowAt[k0 >> shift]! + (k0 & low)]!;
      s1 += table[rowAt[k1 >> shift]! + (k1 & low)]!;
    }
    if (e < end) {
      const k0 = aEntry[e]!;
      s0 += table[rowAt[k0 >> shift]! + (k0 & low)]!;
    }
    phi[phiAt + aFeature[q]!] += s0 + s1;
  }
}

/** {@link addRows} over the compact float32 rows (each row's residual is one more number of its first feature). */
function addCompactRows(bt: BlockTables, rowAt: Int32Array, phi: Float64Array, phiAt: number): void {
  const { aFeature, aStart, aEntry, table32 } = bt;
  const nf = aFeature.length;
  const shift = ENTRY_SHIFT;
  const low = (1 << shift) - 1;
  for (let q = 0; q < nf; q++) {
    let s0 = 0;
    let s1 = 0;
    const end = aStart[q + 1]!;
    let e = aStart[q]!;
    for (; e + 1 < end; e += 2) {
      const k0 = aEntry[e]!;
      const k1 = aEntry[e + 1]!;
      s0 += table32[rowAt[k0 >> shift]! + (k0 & low)]!;
      s1 += table32[rowAt[k1 >> shift]! + (k1 & low)]!;
    }
    if (e < end) {
      const k0 = aEntry[e]!;
      s0 += table32[rowAt[k0 >> shift]! + (k0 & low)]!;
    }
    phi[phiAt + aFeature[q]!] += s0 + s1;
  }
}

/**
 * Reads the first number of each block's row, in one tight loop, before the additions read them feature by
 * feature. Why: on an explained request the tables are mostly out of cache (other work ran since the last one),
 * and in the additions a missed row is one load among several that hit, so few misses are in flight at once;
 * here every load is a row's first miss, with a few instructions each, so many overlap. About 8-14 us less per
 * record with the caches flushed between records (~50 us before), 0-2 us with them warm (load 5-7). A profiled
 * hot loop (four running sums, so no one chain of additions waits on every miss).
 */
function touchRows(t32: Float32Array, rowAt: Int32Array, nb: number): number {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let k = 0;
  for (; k + 3 < nb; k += 4) {
    a += t32[rowAt[k]!]!;
    b += t32[rowAt[k + 1]!]!;
    c += t32[rowAt[k + 2]!]!;
    d += t32[rowAt[k + 3]!]!;
  }
  return a + b + c + d;
}
