import type { Matrix } from '../matrix.js';
import { fitRecord } from './fit-record.js';

/**
 * Quantile cut points per feature, computed once before boosting (XGBoost's `hist` method).
 * A value x falls in bin b of feature f when cuts[b-1] <= x < cuts[b] (the number of cuts <= x),
 * so a split "bins <= b go left" is the threshold test `x < cuts[b]`, XGBoost's `x < split_condition`.
 * Missing values (NaN) have their own slot after the value bins.
 *
 * Every (feature, bin) pair has one global slot: slot = offset[f] + bin, missing = offset[f] + nBins[f].
 * Sparse rows store global slots, so a histogram update is one load and two adds; the column-major binned
 * matrix stores each feature's own bin (0 .. nBins[f] - 1, nBins[f] = missing), in one byte when they fit.
 */
export interface BinCuts {
  readonly nFeatures: number;
  /** All cut points, feature after feature. */
  readonly cuts: Float64Array;
  /** cuts of feature f are cuts[cutStart[f] .. cutStart[f+1]). */
  readonly cutStart: Int32Array;
  /** First global slot of feature f (length nFeatures + 1; the last entry is the total number of slots). */
  readonly slotOffset: Int32Array;
  /** Value bins of feature f (= its number of cuts + 1); its missing slot is slotOffset[f] + nBins[f]. */
  readonly nBins: Int32Array;
  /**
   * XGBoost's last cut of feature f, above all its values (largest + |largest| + 1e-5, in float32): the
   * threshold of a split sending every value left and missing values right.
   */
  readonly upper: Float64Array;
}

/** Columns handled per pass over a row-major matrix (8 doubles = one 64-byte cache line). */
const GROUP = 8;

/**
 * Matrices up to this size are gathered one column per pass: they stay in cache across the passes, so this
 * is no slower (OULAD's 9.6 MB: 36-38 ms either way, measured) and holds one gathered column instead of
 * GROUP (1.1 MB less on OULAD, which a fit kept until the next full GC).
 */
const SMALL_MATRIX_BYTES = 16 * 2 ** 20;

/** One feature's bins of every row: 8-bit when its bins and missing fit (at most 255 value bins), else 16-bit. */
export type BinColumn = Uint8Array | Uint16Array;

/**
 * A binned matrix: one column per feature, each cell its feature's bin (0 .. nBins[f] - 1; nBins[f] = missing),
 * each column as narrow as its feature allows (max_bin is at most 65,535, so 16 bits always suffice).
 */
export type BinnedRows = BinColumn[];

/** A column of n bins for a feature of `nBins` value bins, in `memory`. */
function binColumnOf(nBins: number, n: number, memory: (bytes: number) => ArrayBufferLike): BinColumn {
  return nBins <= 0xff ? new Uint8Array(memory(n)) : new Uint16Array(memory(2 * n));
}

/**
 * Calls `visit(f, values)` for every column f in order, `values` holding its n cells in row order (NaN
 * included). Columns of a large matrix are gathered GROUP at a time so each pass over the row-major matrix
 * uses whole cache lines; `values` is reused, so visit must not keep it.
 */
function forEachColumn(X: Matrix, visit: (f: number, values: Float64Array) => void): void {
  const { rows: n, cols: m, data } = X;
  const group = 8 * n * m <= SMALL_MATRIX_BYTES ? 1 : Math.min(GROUP, m);
  const cols = Array.from({ length: group }, () => new Float64Array(n));
  for (let f0 = 0; f0 < m; f0 += group) {
    const g = Math.min(group, m - f0);
    gatherColumns(data, m, n, f0, g, cols);
    for (let j = 0; j < g; j++) visit(f0 + j, cols[j]!);
  }
}

/** cols[j][i] = X[i][f0 + j] for j < g. A profiled hot loop. */
function gatherColumns(
  data: Float64Array,
  m: number,
  n: number,
  f0: number,
  g: number,
  cols: Float64Array[],
): void {
  for (let j = 0; j < g; j++) {
    const col = cols[j]!;
    for (let i = 0, at = f0 + j; i < n; i++, at += m) col[i] = data[at]!;
  }
}

/**
 * A column's cut points from its finite values (copied to `scratch`, which is sorted in place). The copy is
 * its own function: as a loop in here it got this function optimised on a stack replacement before any column
 * had reached the sort, and every column that did then deoptimised it (62 deopts in an OULAD fit).
 */
function columnCuts(values: Float64Array, scratch: Float64Array, maxBin: number): ColumnCuts {
  const k = copyFinite(values, scratch);
  const few = fewDistinct(scratch, k, maxBin);
  if (few) return few;
  const sorted = scratch.subarray(0, k).sort();
  return { cuts: cutsFromSorted(sorted, maxBin), upper: upperCut(k > 0 ? sorted[k - 1]! : 0) };
}

/** A column's cut points and XGBoost's last cut (see {@link BinCuts}). */
interface ColumnCuts {
  cuts: Float64Array;
  upper: number;
}

/** XGBoost's last cut above a column's largest value v: float32(v) + (|float32(v)| + 1e-5), as a float32. */
function upperCut(v: number): number {
  const x = Math.fround(v);
  return Math.fround(x + (Math.abs(x) + 1e-5));
}

/** Copies the finite values of `values` to the front of `out`; returns their count. */
function copyFinite(values: Float64Array, out: Float64Array): number {
  let k = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) out[k++] = v;
  }
  return k;
}

/** The cut table of per-feature cut points. */
function assembleCuts(columns: ColumnCuts[]): BinCuts {
  const m = columns.length;
  const perFeature = columns.map((c) => c.cuts);
  const cutStart = new Int32Array(m + 1);
  const slotOffset = new Int32Array(m + 1);
  const nBins = new Int32Array(m);
  for (let f = 0; f < m; f++) {
    cutStart[f + 1] = cutStart[f]! + perFeature[f]!.length;
    nBins[f] = perFeature[f]!.length + 1;
    slotOffset[f + 1] = slotOffset[f]! + nBins[f]! + 1;
  }
  const cuts = new Float64Array(cutStart[m]!);
  for (let f = 0; f < m; f++) cuts.set(perFeature[f]!, cutStart[f]!);
  const upper = Float64Array.from(columns, (c) => c.upper);
  return fitRecord({ nFeatures: m, cuts, cutStart, slotOffset, nBins, upper });
}

/**
 * Cut points from (up to) `maxBin` quantiles of each column's non-missing finite values.
 * Columns with at most `maxBin` distinct values get one bin per value (cuts at each value but the smallest).
 */
export function computeBinCuts(X: Matrix, maxBin: number): BinCuts {
  const perFeature: ColumnCuts[] = [];
  const scratch = new Float64Array(X.rows);
  forEachColumn(X, (_, values) => perFeature.push(columnCuts(values, scratch, maxBin)));
  return assembleCuts(perFeature);
}

/**
 * The training matrix's cut points and its binned matrix (as {@link binMatrix} bins it) from one gathering
 * pass over X: each column is binned from its gathered copy right after its cuts are computed, instead of
 * binMatrix reading the row-major matrix again (on OULAD the two passes were ~17 % of a fit's CPU).
 */
export function binTrainingMatrix(
  X: Matrix,
  maxBin: number,
  memory: (bytes: number) => ArrayBufferLike = (bytes) => new ArrayBuffer(bytes),
): { cuts: BinCuts; bins: BinnedRows } {
  const n = X.rows;
  const perFeature: ColumnCuts[] = [];
  const bins: BinnedRows = [];
  const scratch = new Float64Array(n);
  forEachColumn(X, (_, values) => {
    const c = columnCuts(values, scratch, maxBin);
    perFeature.push(c);
    const col = binColumnOf(c.cuts.length + 1, n, memory);
    binColumn(values, c.cuts, col);
    bins.push(col);
  });
  return fitRecord({ cuts: assembleCuts(perFeature), bins });
}

/** out[i] = the value bin of values[i] among `cuts` (the number of cuts <= it; NaN: the missing bin). */
function binColumn(values: Float64Array, cuts: Float64Array, out: BinColumn): void {
  const nc = cuts.length;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (Number.isNaN(x)) {
      out[i] = nc + 1;
      continue;
    }
    let lo = 0;
    let hi = nc;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cuts[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    out[i] = lo;
  }
}

/**
 * Cuts of a column with at most 16 distinct values without sorting it (one-hot, flags, small counts). `col`
 * holds finite values only, so `===` is includes()'s SameValueZero. The distinct values go to a typed array:
 * with a JS array, whose elements kind moved between small integers and doubles from column to column, V8
 * deoptimized this function ~57 times a fit on OULAD (63 columns) and ran it unoptimized in between; and the
 * scan is a function of its own, as code after a hot loop that most columns leave early (more than 16 values)
 * was compiled on stack without feedback and thrown away when a column reached it (115 deopts in 2 fits).
 */
function fewDistinct(col: Float64Array, k: number, maxBin: number): ColumnCuts | null {
  const seen = new Float64Array(16);
  const count = distinctUpTo(col, k, Math.min(16, maxBin), seen);
  if (count < 0) return null;
  const sorted = seen.subarray(0, count).sort();
  return { cuts: sorted.slice(1), upper: upperCut(count > 0 ? sorted[count - 1]! : 0) };
}

/** The distinct values of col[0, k) into `seen` in first-seen order; their count, or -1 past `limit`. */
function distinctUpTo(col: Float64Array, k: number, limit: number, seen: Float64Array): number {
  let count = 0;
  for (let i = 0; i < k; i++) {
    const v = col[i]!;
    if (count > 0 && (v === seen[0] || v === seen[count - 1] || isAmong(seen, count, v))) continue;
    if (count >= limit) return -1;
    seen[count++] = v;
  }
  return count;
}

/** Whether v is among values[0, count). */
function isAmong(values: Float64Array, count: number, v: number): boolean {
  for (let j = 0; j < count; j++) if (values[j] === v) return true;
  return false;
}

function cutsFromSorted(sorted: Float64Array, maxBin: number): Float64Array {
  const n = sorted.length;
  if (n === 0) return new Float64Array(0);
  let distinct = 1;
  for (let i = 1; i < n; i++) if (sorted[i] !== sorted[i - 1]) distinct++;
  const out: number[] = [];
  if (distinct <= maxBin) {
    for (let i = 1; i < n; i++) if (sorted[i] !== sorted[i - 1]) out.push(sorted[i]!);
    return Float64Array.from(out);
  }
  // XGBoost's cuts (hist, one worker): the column's weighted-quantile sketch summary (exact, pruned to the
  // sketch's size limit), pruned to maxBin * 8 entries, then to maxBin + 1; entries 1 .. maxBin - 1 are the
  // cuts. XGBoost streams rows through its sketch, so past 2 * limit distinct values ours is the nearest
  // order-free equivalent rather than bit-exact.
  const full = exactSummary(sorted, distinct);
  const sketched = prune(full, sketchLimit(n, maxBin));
  const pruned = prune(prune(sketched, Math.min(n, maxBin * SKETCH_FACTOR)), Math.min(n, maxBin) + 1);
  const required = Math.min(pruned.size, maxBin);
  for (let i = 1; i < required; i++) {
    const v = pruned.value[i]!;
    if (i === 1 || v > out[out.length - 1]!) out.push(v);
  }
  return Float64Array.from(out);
}

/** XGBoost's WQuantileSketch::kFactor: the intermediate summary keeps maxBin * 8 entries. */
const SKETCH_FACTOR = 8;

/** XGBoost's WQuantileSketch::LimitSizeLevel: entries its summary of an n-value column keeps. */
function sketchLimit(n: number, maxBin: number): number {
  const eps = 1 / (Math.fround(Math.max(1, Math.min(maxBin, n))) * SKETCH_FACTOR);
  for (let level = 1; ; level++) {
    const limit = Math.min(n, Math.ceil(level / eps) + 1);
    if (2 ** level * limit >= n) return limit;
  }
}

/** A weighted quantile summary (XGBoost's WQSummary): per entry rank bounds, own weight and value. */
interface Summary {
  size: number;
  rmin: Float64Array;
  rmax: Float64Array;
  wmin: Float64Array;
  value: Float64Array;
}

/** The exact summary of a sorted column with unit weights: one entry per distinct value. */
function exactSummary(sorted: Float64Array, distinct: number): Summary {
  const s: Summary = {
    size: 0,
    rmin: new Float64Array(distinct),
    rmax: new Float64Array(distinct),
    wmin: new Float64Array(distinct),
    value: new Float64Array(distinct),
  };
  const n = sorted.length;
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && sorted[j] === sorted[i]) j++;
    const k = s.size++;
    s.rmin[k] = i;
    s.rmax[k] = j;
    s.wmin[k] = j - i;
    s.value[k] = sorted[i]!;
    i = j;
  }
  return s;
}

/**
 * XGBoost's WQSummary::SetPrune, rank arithmetic in float32 as XGBoost's RType is: keeps the first and
 * last entries and the ones nearest to maxsize - 2 evenly spaced ranks.
 */
function prune(src: Summary, maxsize: number): Summary {
  if (src.size <= maxsize) return src;
  const f = Math.fround;
  const dst: Summary = {
    size: 0,
    rmin: new Float64Array(maxsize),
    rmax: new Float64Array(maxsize),
    wmin: new Float64Array(maxsize),
    value: new Float64Array(maxsize),
  };
  const take = (i: number) => {
    const k = dst.size++;
    dst.rmin[k] = src.rmin[i]!;
    dst.rmax[k] = src.rmax[i]!;
    dst.wmin[k] = src.wmin[i]!;
    dst.value[k] = src.value[i]!;
  };
  const last = src.size - 1;
  const begin = f(src.rmax[0]!);
  const range = f(src.rmin[last]! - src.rmax[0]!);
  const n = maxsize - 1;
  take(0);
  let i = 1;
  let lastIdx = 0;
  for (let k = 1; k < n; k++) {
    const dx2 = f(2 * f(f(f(k * range) / n) + begin));
    while (i < last && dx2 >= f(src.rmax[i + 1]! + src.rmin[i + 1]!)) i++;
    if (i === last) break;
    const mid = f(f(src.rmin[i]! + src.wmin[i]!) + f(src.rmax[i + 1]! - src.wmin[i + 1]!));
    if (dx2 < mid) {
      if (i !== lastIdx) {
        take(i);
        lastIdx = i;
      }
    } else if (i + 1 !== lastIdx) {
      take(i + 1);
      lastIdx = i + 1;
    }
  }
  if (lastIdx !== last) take(last);
  return dst;
}

/** The value bin of x in feature f (number of cuts <= x); NaN maps to the missing bin nBins[f]. */
export function binOf(c: BinCuts, f: number, x: number): number {
  if (Number.isNaN(x)) return c.nBins[f]!;
  let lo = c.cutStart[f]!;
  let hi = c.cutStart[f + 1]!;
  const start = lo;
  const cuts = c.cuts;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cuts[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo - start;
}

/**
 * Bins every cell of X to its feature's bin: feature f of row i is at [f][i]. `memory`
 * gives the buffer (shared memory when worker threads read it).
 */
export function binMatrix(
  c: BinCuts,
  X: Matrix,
  memory: (bytes: number) => ArrayBufferLike = (bytes) => new ArrayBuffer(bytes),
): BinnedRows {
  if (X.cols !== c.nFeatures) throw new Error(`binMatrix: ${X.cols} columns, cuts for ${c.nFeatures}`);
  const out = Array.from(c.nBins, (nb) => binColumnOf(nb, X.rows, memory));
  forEachColumn(X, (f, values) =>
    binColumn(values, c.cuts.subarray(c.cutStart[f]!, c.cutStart[f + 1]!), out[f]!),
  );
  return out;
}

/**
 * Rows without their most frequent bin per feature (compressed sparse rows of global slots).
 * One-hot columns and mostly-constant numerics then cost nothing in histogram building: the histogram
 * entry of a feature's default slot is the node total minus its other slots.
 */
export interface SparseRows {
  /** Cells of row r are slots[rowStart[r] .. rowStart[r+1]), ascending. */
  rowStart: Uint32Array;
  slots: Uint16Array | Uint32Array;
  /** The omitted (most frequent) slot of each feature. */
  defaultSlot: Int32Array;
}

/**
 * Builds {@link SparseRows} from a column-major binned matrix; `memory` gives the arrays' buffers (shared
 * memory when worker threads read them, so they are not copied).
 */
export function sparseRows(
  c: BinCuts,
  bins: BinnedRows,
  n: number,
  memory: (bytes: number) => ArrayBufferLike = (bytes) => new ArrayBuffer(bytes),
): SparseRows {
  const m = c.nFeatures;
  const total = c.slotOffset[m]!;
  const freq = new Uint32Array(total);
  for (let f = 0; f < m; f++) {
    const off = c.slotOffset[f]!;
    const col = bins[f]!;
    for (let i = 0; i < n; i++) freq[off + col[i]!]!++;
  }
  const defaultSlot = new Int32Array(m);
  for (let f = 0; f < m; f++) {
    let best = c.slotOffset[f]!;
    for (let s = best + 1; s < c.slotOffset[f + 1]!; s++) if (freq[s]! > freq[best]!) best = s;
    defaultSlot[f] = best;
  }
  const rowStart = new Uint32Array(memory(4 * (n + 1)));
  for (let f = 0; f < m; f++) {
    const d = defaultSlot[f]! - c.slotOffset[f]!;
    const col = bins[f]!;
    for (let i = 0; i < n; i++) if (col[i] !== d) rowStart[i + 1]!++;
  }
  for (let i = 0; i < n; i++) rowStart[i + 1]! += rowStart[i]!;
  const nnz = rowStart[n]!;
  const slots = total <= 0xffff ? new Uint16Array(memory(2 * nnz)) : new Uint32Array(memory(4 * nnz));
  const pos = rowStart.slice(0, n);
  for (let f = 0; f < m; f++) {
    const off = c.slotOffset[f]!;
    const d = defaultSlot[f]! - off;
    const col = bins[f]!;
    for (let i = 0; i < n; i++) {
      const b = col[i]!;
      if (b !== d) slots[pos[i]!++] = off + b;
    }
  }
  return fitRecord({ rowStart, slots, defaultSlot });
}
