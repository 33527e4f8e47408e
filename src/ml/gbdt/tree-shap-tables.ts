/**
 * Per-leaf tables that turn path-dependent TreeSHAP into a lookup (the idea of Fast TreeSHAP v2, Yang 2021).
 *
 * For a leaf with value v whose path splits on d distinct features, feature j having zero fraction z_j (the
 * product of the cover shares of the path's branches on j) and one fraction o_j in {0, 1} (whether the row
 * takes every branch of the path on j), TreeSHAP's share of the leaf for feature i is
 *   v (o_i - z_i) sum over S in H\{i} of w(|S|) prod over (U\{i})\S of z_j,   w(s) = s! (d-s-1)! / d!,
 * where U are the path's features and H = {j : o_j = 1} those the row satisfies. Writing P(H) for the product
 * of z_j outside H and K(H) for sum over S in H of w(|S|) times the product of z_j over H\S, that is
 *   i in H:      v (1 - z_i) P(H) K(H \ {i})
 *   i not in H: -v P(H) K(H)
 * so with Q = v P and K tabulated over the 2^d masks of H, one row costs a pass over the tree's nodes (the
 * mask of every leaf) and O(d) per leaf, with no division. Tables are built only for trees whose every leaf
 * has at most MAX_BITS distinct path features, within a memory budget; other trees use the recursion.
 */

/** Deepest distinct-feature count a tabulated leaf may have (2^12 entries per table). */
export const MAX_BITS = 12;
/** Table entries (doubles) all tabulated trees of one ensemble may use together. */
export const TABLE_BUDGET = 1 << 23;

/** The flat tree arrays the explainer builds (absolute node indices, children after their parent). */
export interface ShapNodes {
  roots: Int32Array;
  sizes: Int32Array;
  feature: Int32Array;
  left: Int32Array;
  right: Int32Array;
  value: Float64Array;
  /** cover[node] / cover[parent]. */
  share: Float64Array;
}

/** The tables of the trees that have them, in the explainer's node numbering. */
export interface LeafTables {
  /** Per tree: 1 if tabulated. */
  tabulated: Uint8Array;
  /** Per node: the bit of its split feature on every path through it (first appearance order), -1 at leaves. */
  bit: Int8Array;
  /** Per leaf node: number of distinct path features (d), else 0. */
  leafBits: Int8Array;
  /** Per leaf node: where its features / (1 - z) start in `leafFeature` / `oneMinusZ`. */
  leafAt: Int32Array;
  leafFeature: Int32Array;
  oneMinusZ: Float64Array;
  /** Per leaf node: where its 2^d entries start in `q` and `k`. */
  tableAt: Int32Array;
  q: Float64Array;
  k: Float64Array;
}

/** Builds the tables for every tree that fits the limits (and is not in `skip`); null when none does. */
export function buildLeafTables(nodes: ShapNodes, skip?: ArrayLike<number>): LeafTables | null {
  const total = nodes.feature.length;
  const nt = nodes.roots.length;
  const bit = new Int8Array(total).fill(-1);
  const leafBits = new Int8Array(total);
  const leafAt = new Int32Array(total);
  const tableAt = new Int32Array(total);
  const tabulated = new Uint8Array(nt);
  const feats: number[] = [];
  const oneMinusZ: number[] = [];
  let tableSize = 0;
  const plans: { leaf: number; z: number[]; features: number[] }[][] = [];
  for (let t = 0; t < nt; t++) {
    if (skip?.[t]) {
      plans.push([]);
      continue;
    }
    const plan: { leaf: number; z: number[]; features: number[] }[] = [];
    let size = 0;
    let ok = true;
    // depth-first over the tree carrying the path's distinct features and their zero fractions
    const walk = (n: number, pathFeatures: number[], z: number[]): void => {
      if (!ok) return;
      const f = nodes.feature[n]!;
      if (f < 0) {
        if (pathFeatures.length > MAX_BITS) ok = false;
        plan.push({ leaf: n, z: [...z], features: [...pathFeatures] });
        size += 2 << pathFeatures.length;
        return;
      }
      let b = pathFeatures.indexOf(f);
      const fresh = b < 0;
      if (fresh) {
        b = pathFeatures.length;
        pathFeatures.push(f);
        z.push(1);
      }
      bit[n] = b;
      for (const child of [nodes.left[n]!, nodes.right[n]!]) {
        const before = z[b]!;
        z[b] = before * nodes.share[child]!;
        walk(child, pathFeatures, z);
        z[b] = before;
      }
      if (fresh) {
        pathFeatures.pop();
        z.pop();
      }
    };
    walk(nodes.roots[t]!, [], []);
    if (!ok || tableSize + size > TABLE_BUDGET) {
      plans.push([]);
      continue;
    }
    tabulated[t] = 1;
    tableSize += size;
    plans.push(plan);
  }
  if (tableSize === 0 && !tabulated.some((v) => v === 1)) return null;
  const q = new Float64Array(tableSize / 2);
  const k = new Float64Array(tableSize / 2);
  let at = 0;
  for (let t = 0; t < nt; t++) {
    if (!tabulated[t]) continue;
    for (const { leaf, z, features } of plans[t]!) {
      const d = z.length;
      leafBits[leaf] = d;
      leafAt[leaf] = feats.length;
      tableAt[leaf] = at;
      // the leaf's features in bit order (bits are assigned on the way down)
      for (const f of features) feats.push(f);
      for (const zj of z) oneMinusZ.push(1 - zj);
      fillTables(z, nodes.value[leaf]!, q.subarray(at, at + (1 << d)), k.subarray(at, at + (1 << d)));
      at += 1 << d;
    }
  }
  return {
    tabulated,
    bit,
    leafBits,
    leafAt,
    leafFeature: Int32Array.from(feats),
    oneMinusZ: Float64Array.from(oneMinusZ),
    tableAt,
    q,
    k,
  };
}

/** Q(H) = v P(H) and K(H) over every mask H of the leaf's d features (z: the zero fractions in bit order). */
export function fillTables(z: number[], v: number, q: Float64Array, k: Float64Array): void {
  const d = z.length;
  const w = new Float64Array(d + 1);
  // w(s) = s! (d-s-1)! / d!, built as a ratio to stay finite for any d
  for (let s = 0; s < d; s++) {
    let r = 1 / d;
    for (let j = 1; j <= s; j++) r *= j / (d - j);
    w[s] = r;
  }
  // coefficients of prod over H of (t + z_j): c[s] = sum over S in H with |S| = s of prod over H\S of z_j
  const coef = new Float64Array((1 << d) * (d + 1));
  coef[0] = 1;
  for (let mask = 1; mask < 1 << d; mask++) {
    const j = 31 - Math.clz32(mask);
    const prev = mask ^ (1 << j);
    const a = prev * (d + 1);
    const b = mask * (d + 1);
    for (let s = 0; s <= d; s++) {
      coef[b + s] = coef[a + s]! * z[j]! + (s > 0 ? coef[a + s - 1]! : 0);
    }
  }
  for (let mask = 0; mask < 1 << d; mask++) {
    let kv = 0;
    for (let s = 0; s < d; s++) kv += w[s]! * coef[mask * (d + 1) + s]!;
    k[mask] = d === 0 ? 1 : kv;
    let p = v;
    for (let j = 0; j < d; j++) if (!(mask & (1 << j))) p *= z[j]!;
    q[mask] = p;
  }
}
