/**
 * The first half of TreeSHAP's block pass (see tree-shap-blocks.ts), finding each block's table row, as JavaScript
 * generated once per model with every split's constants inlined, as the serving layer generates its record
 * encoder and validator.
 *
 * Why: that half was most of an explained record's time, and mostly bookkeeping: each of the ~3,800 splits of the
 * OULAD model (80 trees, depth 6) loaded its feature, threshold and bit from arrays, compared two doubles and
 * tested for a missing value. Generated, a split is one load of the row's bin of its feature, a subtraction and a
 * shift (the comparison as integer arithmetic, without a branch). See {@link compileBlockRows} for figures.
 *
 * Bins: the thresholds the blocks compare each feature with, sorted, cut the feature's axis; a value's bin is how
 * many cut points lie at or below it, so `x < cuts[k]` is `bin(x) < k + 1`, an integer comparison, and its sign
 * bit is the all-ones / all-zeros direction mask. A missing value gets two bins, one above and one below every
 * cut: each split reads the one of its default direction, so NaN needs no test in the generated code.
 */
import type { BlockTables } from './tree-shap-blocks.js';

/** Writes where each block's row for `row[offset ..]` (in the model's precision) starts into `rowAt`. */
export type BlockRows = (row: Float64Array, offset: number, rowAt: Int32Array) => void;

/**
 * Statements per generated function. Why: V8 leaves a function of many more of these statements unoptimized (one
 * function for the whole OULAD pass ran 10x slower than the interpreted loops), and its optimizing compiler's time
 * grows faster than linearly with a function's size; so the code is cut into small functions called in turn.
 */
const CHUNK = 32;

/** The missing value's bin when it goes right: above every cut, so `bin < k + 1` is false. */
const MISSING_HIGH = 0x3fffffff;

/** An integer from the tables, checked, as source text (only numbers ever enter the generated code). */
function int(x: number): string {
  if (!Number.isInteger(x) || Math.abs(x) > 0x7fffffff) throw new TypeError(`expected an int32, got ${x}`);
  return String(x);
}

/** Each feature's cut points: the distinct thresholds the blocks compare it with, ascending. */
function cutPoints(bt: BlockTables, nFeatures: number): number[][] {
  const sets = Array.from({ length: nFeatures }, () => new Set<number>());
  for (let u = 0; u < bt.uFeature.length; u++) sets[bt.uFeature[u]!]!.add(bt.uThreshold[u]!);
  for (let s = 0; s < bt.sFeature.length; s++) sets[bt.sFeature[s]!]!.add(bt.sThreshold[s]!);
  return sets.map((s) => [...s].sort((a, b) => a - b));
}

/**
 * The row finding of `bt` as generated code; null when it cannot be generated (the interpreted loops are then used).
 * The same rows as the interpreted loops (a property test checks it). OULAD GBDT (80 trees, 548 blocks, 3,327
 * block splits, 468 splits above them), load 5-8: finding one record's rows takes 3-4 instead of 15-17 us in a
 * tight loop, and an explained record in the server (explainRecord, median wall time per call) 37-47 instead of
 * 47-54 us. The cost is at the start: V8 runs the generated code interpreted (0.3-2 ms a record) until it has
 * optimized it in the background, about 2 s of one core at load 7 (CHUNK 32; 2.6 s with 64), within the first
 * ~1,000 explained records.
 */
export function compileBlockRows(bt: BlockTables, nFeatures: number): BlockRows | null {
  try {
    return buildBlockRows(bt, nFeatures);
  } catch {
    return null;
  }
}

function buildBlockRows(bt: BlockTables, nFeatures: number): BlockRows {
  const cuts = cutPoints(bt, nFeatures);
  // the split of feature f at threshold t is "bins[2f + missing goes left] < tb"
  const tb = (f: number, t: number) => cuts[f]!.indexOf(t) + 1;
  const compile = (name: string, params: string, body: string) =>
    new Function(`"use strict";\nreturn function ${name}(${params}) {\n${body}\n};`)() as (
      ...args: unknown[]
    ) => void;
  const upperFns = chunks(upperSource(bt, tb), CHUNK).map((c, k) =>
    compile(`upper${k}`, 'b, m', c.join('\n')),
  );
  const rowFns = chunks(rowSource(bt, tb), CHUNK).map((c, k) => compile(`rows${k}`, 'b, m, r', c.join('\n')));
  // only the features some split compares are binned (a wide hashed encoding has many that none does)
  const used = Int32Array.from(cuts.flatMap((c, f) => (c.length > 0 ? [f] : [])));
  const cutStart = new Int32Array(used.length + 1);
  used.forEach((f, k) => {
    cutStart[k + 1] = cutStart[k]! + cuts[f]!.length;
  });
  const cutValues = Float64Array.from(cuts.flat());
  const bins = new Int32Array(2 * nFeatures);
  const masks = new Int32Array(bt.slots).fill(-1);
  return (row, offset, rowAt) => {
    binRow(row, offset, used, cutStart, cutValues, bins);
    for (let k = 0; k < upperFns.length; k++) upperFns[k]!(bins, masks);
    for (let k = 0; k < rowFns.length; k++) rowFns[k]!(bins, masks, rowAt);
  };
}

/** Splits `xs` into runs of at most n. */
function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/**
 * Each upper split: the mask of its children from its own (branch-free, as the interpreted pass). `b` are the
 * bins, `m` the mask slots (slot 0, every root's, is all ones and never written).
 */
function upperSource(bt: BlockTables, tb: (f: number, t: number) => number): string[] {
  const out: string[] = [];
  for (let u = 0; u < bt.uFeature.length; u++) {
    const f = bt.uFeature[u]!;
    const key = 2 * f + (bt.uMissing[u] === -1 ? 1 : 0);
    const self = bt.uSelf[u] === 0 ? '-1' : `m[${int(bt.uSelf[u]!)}]`;
    out.push(
      `{ const s = ${self}, g = (b[${int(key)}] - ${int(tb(f, bt.uThreshold[u]!))}) >> 31, c = s & ${int(bt.uClear[u]!)}; ` +
        `m[${int(bt.uLeft[u]!)}] = c | (s & g); m[${int(bt.uRight[u]!)}] = c | (s & ~g); }`,
    );
  }
  return out;
}

/** Each block: where its row starts (into `r`), from its root's mask and its splits' directions. */
function rowSource(bt: BlockTables, tb: (f: number, t: number) => number): string[] {
  const out: string[] = [];
  for (let k = 0; k < bt.bSlot.length; k++) {
    const slot = bt.bSlot[k]!;
    const terms = [slot === 0 ? int(bt.bLow[k]!) : `(m[${int(slot)}] & ${int(bt.bLow[k]!)})`];
    const mid = bt.bSplitMid[k]!;
    for (let s = bt.bSplitStart[k]!; s < bt.bSplitStart[k + 1]!; s++) {
      const f = bt.sFeature[s]!;
      const key = 2 * f + (s >= mid ? 1 : 0);
      terms.push(`(((b[${int(key)}] - ${int(tb(f, bt.sThreshold[s]!))}) >> 31) & ${int(bt.sBit[s]!)})`);
    }
    out.push(`r[${k}] = ${int(bt.bAt[k]!)} + (${terms.join(' | ')}) * ${int(bt.bStride[k]!)};`);
  }
  return out;
}

/**
 * The two bins (missing value high, missing value low) of each used feature f into `bins[2f]`, `bins[2f + 1]`;
 * its cut points are `cuts[cutStart[k] .. cutStart[k + 1])` for f = used[k].
 */
function binRow(
  row: Float64Array,
  offset: number,
  used: Int32Array,
  cutStart: Int32Array,
  cuts: Float64Array,
  bins: Int32Array,
): void {
  const nu = used.length;
  for (let k = 0; k < nu; k++) {
    const f = used[k]!;
    const x = row[offset + f]!;
    const first = cutStart[k]!;
    let lo = first;
    let hi = cutStart[k + 1]!;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cuts[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    const missing = Number.isNaN(x);
    bins[2 * f] = missing ? MISSING_HIGH : lo - first;
    bins[2 * f + 1] = missing ? -1 : lo - first;
  }
}
