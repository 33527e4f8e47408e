/**
 * Two-sample statistics for drift detection, pure functions over typed arrays. Every one is checked against
 * scipy on fixtures made by scripts/fixtures/make_monitoring_fixtures.py (see statistics.test.ts).
 *
 * Numeric samples are NaN-free Float64Arrays (callers drop missing values and count them separately);
 * "sorted" parameters must be ascending.
 */

/** Result of a test: the statistic and its p-value (probability of a value at least as extreme under H0). */
export interface TestResult {
  statistic: number;
  pvalue: number;
}

/** Ascending copy of the finite values of `values`. */
export function sortedFinite(values: ArrayLike<number>): Float64Array {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) n++;
  const out = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) out[k++] = values[i]!;
  return out.sort();
}

/**
 * Kolmogorov's limiting distribution Q(lambda) = 2 sum_k (-1)^(k-1) exp(-2 k^2 lambda^2), the survival function
 * of sqrt(n) D_n (scipy.special.kolmogorov).
 */
export function kolmogorovSf(lambda: number): number {
  if (!(lambda > 0)) return 1;
  if (lambda < 0.2) return 1;
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    sum += k % 2 === 1 ? term : -term;
    if (term < 1e-300 || term < Math.abs(sum) * 1e-16) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/**
 * Two-sample Kolmogorov-Smirnov test (two-sided) on sorted samples: D = sup |F_a - F_b| exactly as
 * scipy.stats.ks_2samp, p-value from Kolmogorov's distribution at the effective size n_a n_b / (n_a + n_b)
 * with Stephens' small-sample correction (within a few per cent of scipy's `method='asymp'`).
 */
export function ksTwoSample(a: Float64Array, b: Float64Array): TestResult {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return { statistic: Number.NaN, pvalue: Number.NaN };
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const x = Math.min(a[i]!, b[j]!);
    while (i < n && a[i]! <= x) i++;
    while (j < m && b[j]! <= x) j++;
    const diff = Math.abs(i / n - j / m);
    if (diff > d) d = diff;
  }
  const en = (n * m) / (n + m);
  const s = Math.sqrt(en);
  return { statistic: d, pvalue: kolmogorovSf((s + 0.12 + 0.11 / s) * d) };
}

/**
 * First Wasserstein distance between two sorted samples (scipy.stats.wasserstein_distance): the area between
 * their empirical distribution functions.
 */
export function wasserstein(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return Number.NaN;
  let i = 0;
  let j = 0;
  let area = 0;
  let prev = Math.min(a[0]!, b[0]!);
  while (i < n || j < m) {
    const x = j >= m || (i < n && a[i]! <= b[j]!) ? a[i]! : b[j]!;
    area += Math.abs(i / n - j / m) * (x - prev);
    prev = x;
    while (i < n && a[i]! <= x) i++;
    while (j < m && b[j]! <= x) j++;
  }
  return area;
}

/** Smallest share used in PSI for an empty bin (as most PSI implementations: log(0) is never taken). */
export const PSI_EPSILON = 1e-4;

/** Population stability index between two share vectors: sum (w - r) ln(w / r), shares clipped at PSI_EPSILON. */
export function psiFromShares(reference: ArrayLike<number>, window: ArrayLike<number>): number {
  let psi = 0;
  for (let k = 0; k < reference.length; k++) {
    const r = Math.max(reference[k]!, PSI_EPSILON);
    const w = Math.max(window[k]!, PSI_EPSILON);
    psi += (w - r) * Math.log(w / r);
  }
  return psi;
}

/**
 * Interior bin edges at the reference's quantiles (`bins` equal-probability bins, type-7 quantiles, duplicates
 * removed so discrete columns get one bin per value range).
 */
export function quantileEdges(sortedReference: Float64Array, bins = 10): number[] {
  const edges: number[] = [];
  const n = sortedReference.length;
  if (n === 0) return edges;
  for (let k = 1; k < bins; k++) {
    const h = (n - 1) * (k / bins);
    const lo = Math.floor(h);
    const hi = Math.min(lo + 1, n - 1);
    const q = sortedReference[lo]! + (h - lo) * (sortedReference[hi]! - sortedReference[lo]!);
    if (edges.length === 0 || q > edges[edges.length - 1]!) edges.push(q);
  }
  return edges;
}

/** Shares of a sorted sample in the bins (-inf, e0], (e0, e1], ..., (e_last, inf). */
export function binShares(sorted: Float64Array, edges: readonly number[]): Float64Array {
  const shares = new Float64Array(edges.length + 1);
  if (sorted.length === 0) return shares;
  let i = 0;
  for (let k = 0; k < edges.length; k++) {
    const start = i;
    while (i < sorted.length && sorted[i]! <= edges[k]!) i++;
    shares[k] = (i - start) / sorted.length;
  }
  shares[edges.length] = (sorted.length - i) / sorted.length;
  return shares;
}

/** PSI of a numeric window against the reference, on the reference's quantile bins. */
export function psiNumeric(sortedReference: Float64Array, sortedWindow: Float64Array, bins = 10): number {
  const edges = quantileEdges(sortedReference, bins);
  return psiFromShares(binShares(sortedReference, edges), binShares(sortedWindow, edges));
}

// -- gamma functions for the chi-squared distribution

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Gamma(x) for x > 0 (Lanczos, g = 7). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  const z = x - 1;
  let s = LANCZOS[0]!;
  for (let k = 1; k < 9; k++) s += LANCZOS[k]! / (z + k);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

/** Regularized upper incomplete gamma Q(a, x) (scipy.special.gammaincc): series below a+1, continued fraction above. */
export function gammaincc(a: number, x: number): number {
  if (!(x > 0)) return 1;
  const lnPrefix = a * Math.log(x) - x - lnGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let k = 1; k < 10_000; k++) {
      term *= x / (a + k);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break;
    }
    return Math.max(0, 1 - sum * Math.exp(lnPrefix));
  }
  // modified Lentz for the continued fraction
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let k = 1; k < 10_000; k++) {
    const an = -k * (k - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.min(1, Math.exp(lnPrefix) * h);
}

/** Survival function of the chi-squared distribution with `dof` degrees of freedom (scipy.stats.chi2.sf). */
export function chi2Sf(x: number, dof: number): number {
  if (dof <= 0) return Number.NaN;
  return gammaincc(dof / 2, x / 2);
}

/**
 * Chi-squared test of homogeneity on a 2 x k table of counts (reference, window), as
 * scipy.stats.chi2_contingency: categories empty in both samples are left out, Yates' correction when one
 * degree of freedom remains. With fewer than two categories the statistic is 0 and the p-value 1.
 */
export function chiSquaredTwoSample(reference: ArrayLike<number>, window: ArrayLike<number>): TestResult {
  const cols: Array<[number, number]> = [];
  let nr = 0;
  let nw = 0;
  for (let k = 0; k < reference.length; k++) {
    const r = reference[k]!;
    const w = window[k]!;
    if (r + w > 0) cols.push([r, w]);
    nr += r;
    nw += w;
  }
  if (cols.length < 2 || nr === 0 || nw === 0) return { statistic: 0, pvalue: 1 };
  const total = nr + nw;
  const dof = cols.length - 1;
  let stat = 0;
  for (const [r, w] of cols) {
    const c = r + w;
    for (const [obs, rowTotal] of [
      [r, nr],
      [w, nw],
    ] as const) {
      const expected = (rowTotal * c) / total;
      let diff = Math.abs(obs - expected);
      if (dof === 1) diff = Math.max(0, diff - Math.min(0.5, diff));
      stat += (diff * diff) / expected;
    }
  }
  return { statistic: stat, pvalue: chi2Sf(stat, dof) };
}

/**
 * Jensen-Shannon distance (square root of the divergence, log base 2, so in [0, 1]) between two count or
 * share vectors, each normalised to sum 1 (scipy.spatial.distance.jensenshannon(p, q, base=2)).
 */
export function jensenShannon(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let sp = 0;
  let sq = 0;
  for (let k = 0; k < p.length; k++) {
    sp += p[k]!;
    sq += q[k]!;
  }
  if (sp === 0 || sq === 0) return Number.NaN;
  let js = 0;
  for (let k = 0; k < p.length; k++) {
    const a = p[k]! / sp;
    const b = q[k]! / sq;
    const mid = (a + b) / 2;
    if (a > 0) js += a * Math.log2(a / mid);
    if (b > 0) js += b * Math.log2(b / mid);
  }
  return Math.sqrt(Math.max(0, js / 2));
}

/** A sorted reference prepared for {@link compareBinned}: its distinct values and their cumulative shares. */
export interface BinnedReference {
  values: Float64Array;
  cdf: Float64Array;
  /**
   * The PSI bins (-inf, e0], (e0, e1], ..., (e_last, inf) of the values equal to each distinct value
   * (`equal[j]`) and of those between it and the one before (`between[j]`, j = 0..K; -1 when a bin edge lies
   * strictly inside that gap, so each of its values is compared with the edges). Absent without edges.
   */
  psi?: { edges: readonly number[]; equal: Int32Array; between: Int32Array };
  /**
   * A uniform grid over [values[0], last value] that narrows each binary search to a few values: value v falls in
   * cell floor((v - values[0]) * scale), and `start[g]` is the first value in cell g or above (start[cells] = K).
   */
  grid: { scale: number; start: Int32Array };
}

/** The grid of {@link BinnedReference} over sorted distinct values (2 cells per value). */
function valueGrid(values: Float64Array): BinnedReference['grid'] {
  const m = values.length;
  const range = m > 1 ? values[m - 1]! - values[0]! : 0;
  let scale = range > 0 ? (2 * m) / range : 0;
  if (!Number.isFinite(scale)) scale = 0; // an infinite range or one of a few subnormals
  if (scale === 0) return { scale, start: Int32Array.of(0, m) }; // one cell: a plain binary search
  const cellOf = (v: number) => Math.floor((v - values[0]!) * scale);
  const cells = m > 0 ? cellOf(values[m - 1]!) + 1 : 1;
  const start = new Int32Array(cells + 1).fill(m);
  // the same arithmetic places values and window values, so a value's cell never decreases with it
  for (let j = m - 1; j >= 0; j--) start[cellOf(values[j]!)] = j;
  for (let g = cells - 1; g >= 0; g--) start[g] = Math.min(start[g]!, start[g + 1]!);
  return { scale, start };
}

/** The number of `edges` (ascending) below v: v's bin among (-inf, e0], (e0, e1], ..., (e_last, inf). */
function binOf(edges: readonly number[], v: number): number {
  let k = 0;
  while (k < edges.length && v > edges[k]!) k++;
  return k;
}

/** The PSI bin of each distinct value and of each gap between two (see {@link BinnedReference}). */
function psiSlots(values: Float64Array, edges: readonly number[]): NonNullable<BinnedReference['psi']> {
  const m = values.length;
  const equal = new Int32Array(m);
  const between = new Int32Array(m + 1);
  for (let j = 0; j < m; j++) equal[j] = binOf(edges, values[j]!);
  for (let j = 0; j <= m; j++) {
    const below = j > 0 ? values[j - 1]! : Number.NEGATIVE_INFINITY;
    const above = j < m ? values[j]! : Number.POSITIVE_INFINITY;
    // every value in (below, above) has the bin of `below` (the edges at or under it) unless an edge lies inside
    const inside = edges.some((e) => e > below && e < above);
    between[j] = inside ? -1 : j > 0 ? binOf(edges, below) + (edges.includes(below) ? 1 : 0) : 0;
  }
  return { edges, equal, between };
}

/**
 * Distinct values of a sorted sample and the share of the sample at or below each; with PSI bin edges, the bin of
 * each value and gap, so {@link compareBinned} counts the window's bins in the same pass.
 */
export function binnedReference(sorted: Float64Array, edges?: readonly number[]): BinnedReference {
  const values: number[] = [];
  const cdf: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i + 1 < sorted.length && sorted[i + 1] === sorted[i]) continue;
    values.push(sorted[i]!);
    cdf.push((i + 1) / sorted.length);
  }
  const distinct = Float64Array.from(values);
  return {
    values: distinct,
    cdf: Float64Array.from(cdf),
    grid: valueGrid(distinct),
    ...(edges ? { psi: psiSlots(distinct, edges) } : {}),
  };
}

/** What {@link compareBinned} finds. */
export interface BinnedComparison {
  statistic: number;
  wasserstein: number;
  /** Finite values of the window. */
  present: number;
  /** Values outside [min, max] (infinite ones included). */
  outside: number;
  /** Window values per PSI bin (when the reference has its bins), else null. */
  binCounts: Float64Array | null;
}

/**
 * KS statistic and Wasserstein distance of an unsorted window against a sorted reference without sorting the
 * window: each value is placed among the reference's distinct values by binary search (O(n log K) with K <= 5,000
 * instead of O(n log n)). D is exact (the ECDF difference is checked just below and at every reference value, where
 * the supremum lies); the Wasserstein area is exact except within a gap between two reference values where the
 * ECDFs cross, so it is within the reference's gap widths times the window shares there. NaN values are skipped.
 * The same pass counts the values outside [min, max] and, when the reference has PSI bins, the values per bin.
 * A profiled hot loop (one pass over each numeric column of a window).
 */
export function compareBinned(
  ref: BinnedReference,
  window: ArrayLike<number>,
  min = Number.NEGATIVE_INFINITY,
  max = Number.POSITIVE_INFINITY,
): BinnedComparison {
  const u = ref.values;
  const m = u.length;
  const equal = new Float64Array(m);
  const between = new Float64Array(m + 1);
  const sumBetween = new Float64Array(m + 1);
  const psi = ref.psi;
  const binCounts = psi ? new Float64Array(psi.edges.length + 1) : null;
  const straddles = psi ? psi.between : null;
  const { scale, start } = ref.grid;
  const cells = start.length - 1;
  const u0 = m > 0 ? u[0]! : 0;
  let n = 0;
  let outside = 0;
  for (let i = 0; i < window.length; i++) {
    const v = window[i]!;
    if (!(v - v === 0)) {
      if (v < min || v > max) outside++; // an infinity (NaN compares false)
      continue;
    }
    n++;
    if (v < min || v > max) outside++;
    // the values below v's cell are < v, those above it are > v: search the cell only
    const g = Math.floor((v - u0) * scale);
    let lo: number;
    let hi: number;
    if (g >= 0 && g < cells) {
      lo = start[g]!;
      hi = start[g + 1]!;
    } else if (g < 0) lo = hi = 0;
    else if (g >= cells) lo = hi = m;
    else {
      lo = 0; // NaN: no grid (one distinct value) and an infinite difference
      hi = m;
    }
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (u[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    if (lo < m && u[lo] === v) equal[lo]!++;
    else {
      between[lo]!++;
      sumBetween[lo]! += v;
      // a gap with a bin edge inside: this value's bin by the edges
      if (straddles !== null && straddles[lo]! < 0) binCounts![binOf(psi!.edges, v)]!++;
    }
  }
  if (psi) {
    for (let j = 0; j < m; j++) binCounts![psi.equal[j]!]! += equal[j]!;
    for (let j = 0; j <= m; j++) if (psi.between[j]! >= 0) binCounts![psi.between[j]!]! += between[j]!;
  }
  if (n === 0 || m === 0)
    return { statistic: Number.NaN, wasserstein: Number.NaN, present: n, outside, binCounts };
  let cw = 0;
  let d = 0;
  let prevFr = 0;
  // below the first reference value the reference ECDF is 0: the area is sum (u0 - v) / n exactly
  let area = (between[0]! * u[0]! - sumBetween[0]!) / n;
  for (let j = 0; j < m; j++) {
    if (j > 0) {
      const len = u[j]! - u[j - 1]!;
      const integral = (cw / n) * len + (between[j]! * u[j]! - sumBetween[j]!) / n;
      area += Math.abs(integral - prevFr * len);
    }
    cw += between[j]!;
    d = Math.max(d, Math.abs(cw / n - prevFr));
    cw += equal[j]!;
    prevFr = ref.cdf[j]!;
    d = Math.max(d, Math.abs(cw / n - prevFr));
  }
  // above the last reference value the reference ECDF is 1: the area is sum (v - u_last) / n exactly
  area += (sumBetween[m]! - between[m]! * u[m - 1]!) / n;
  return { statistic: d, wasserstein: area, present: n, outside, binCounts };
}
