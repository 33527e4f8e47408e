import { type DatasetSchema, schemaToJSON } from '../data/schema.js';
import { type Table, isNumericData } from '../data/table.js';

/**
 * The reference profile of the training data, logged with every model for later drift checks
 * (PSI / KS against live traffic): per feature, quantiles and a histogram (numeric-like columns)
 * or category frequencies (categorical columns), plus the distribution of the model's scores.
 */

export interface NumericProfile {
  type: 'numeric';
  count: number;
  missing: number;
  mean: number | null;
  std: number | null;
  min: number | null;
  max: number | null;
  /** Quantile level -> value (type 7, as numpy's default). */
  quantiles: Record<string, number>;
  /** Histogram over bin edges (edges.length = counts.length + 1; first/last open-ended for drift checks). */
  histogram: { edges: number[]; counts: number[] };
  /**
   * A quantile sample of the present values: `sample[k]` is the value at order statistic (k + 0.5) / K, so its
   * empirical distribution function is the reference's within 1/K. Drift tests (KS, Wasserstein, PSI) run on it.
   */
  sample?: number[];
  /** The schema's column type (numeric, integer, boolean, date) when profiled from a schema. */
  column_type?: string;
}

export interface CategoricalProfile {
  type: 'categorical';
  count: number;
  missing: number;
  distinct: number;
  /** Value -> share of present rows, for the most frequent values; the rest are summed in `other`. */
  frequencies: Record<string, number>;
  other: number;
}

/** The model's held-out (test) scores and labels, for calibration (CBPE) and as the reference of score drift. */
export interface EvaluationSample {
  /** Decision threshold of the model (label = score >= threshold). */
  threshold: number;
  scores: number[];
  labels: number[];
}

export interface ReferenceProfile {
  format_version: 1;
  rows: number;
  features: Record<string, NumericProfile | CategoricalProfile>;
  prediction?: NumericProfile;
  /** Test-set scores and labels of the model (added for monitoring; absent in profiles of older versions). */
  evaluation?: EvaluationSample;
  /** The schema callers send (schemaToJSON), so a monitor coerces logged inputs with the training rules. */
  input_schema?: Record<string, unknown>;
}

/** Points in the quantile sample of a numeric profile. */
export const PROFILE_SAMPLE_SIZE = 5000;

const QUANTILE_LEVELS = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1];
const round = (x: number) => Number(x.toPrecision(10));

function quantileSorted(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** The values at order statistics (k + 0.5) / size of a sorted array (all of them when it is smaller). */
export function quantileSample(sorted: Float64Array, size = PROFILE_SAMPLE_SIZE): number[] {
  if (sorted.length <= size) return Array.from(sorted, (v) => Number(v.toPrecision(8)));
  const out = new Array<number>(size);
  for (let k = 0; k < size; k++)
    out[k] = Number(sorted[Math.floor(((k + 0.5) * sorted.length) / size)]!.toPrecision(8));
  return out;
}

/**
 * Profile of a numeric column (NaN = missing); `bins` equal-width bins between min and max, and a quantile
 * sample of `sampleSize` values (0 = none).
 */
export function profileNumeric(
  values: ArrayLike<number>,
  bins = 10,
  sampleSize = PROFILE_SAMPLE_SIZE,
): NumericProfile {
  const present: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) present.push(values[i]!);
  const missing = values.length - present.length;
  if (present.length === 0)
    return {
      type: 'numeric',
      count: values.length,
      missing,
      mean: null,
      std: null,
      min: null,
      max: null,
      quantiles: {},
      histogram: { edges: [], counts: [] },
    };
  const sorted = Float64Array.from(present).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const mean = sum / sorted.length;
  let ss = 0;
  for (const v of sorted) ss += (v - mean) ** 2;
  const std = Math.sqrt(ss / sorted.length);
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  const quantiles: Record<string, number> = {};
  for (const q of QUANTILE_LEVELS) quantiles[String(q)] = round(quantileSorted(sorted, q));
  const nb = min === max ? 1 : bins;
  const edges: number[] = [];
  for (let b = 0; b <= nb; b++) edges.push(round(min + ((max - min) * b) / nb));
  const counts = new Array<number>(nb).fill(0);
  const width = (max - min) / nb;
  for (const v of sorted) {
    const b = width === 0 ? 0 : Math.min(nb - 1, Math.floor((v - min) / width));
    counts[b]!++;
  }
  return {
    type: 'numeric',
    count: values.length,
    missing,
    mean: round(mean),
    std: round(std),
    min,
    max,
    quantiles,
    histogram: { edges, counts },
    ...(sampleSize > 0 ? { sample: quantileSample(sorted, sampleSize) } : {}),
  };
}

/** Profile of a categorical column (null = missing); keeps the `top` most frequent values. */
export function profileCategorical(values: ArrayLike<string | null>, top = 50): CategoricalProfile {
  const counts = new Map<string, number>();
  let missing = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || v === '') missing++;
    else counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const present = values.length - missing;
  // Ties broken by value so the profile is byte-identical run to run.
  const entries = [...counts.entries()].sort(
    (a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0),
  );
  const frequencies: Record<string, number> = {};
  let kept = 0;
  for (const [v, c] of entries.slice(0, top)) {
    frequencies[v] = round(c / Math.max(1, present));
    kept += c;
  }
  return {
    type: 'categorical',
    count: values.length,
    missing,
    distinct: counts.size,
    frequencies,
    other: round((present - kept) / Math.max(1, present)),
  };
}

/** Most test rows kept in the profile's evaluation sample (every k-th row beyond it). */
export const EVALUATION_SAMPLE_SIZE = 20_000;

/**
 * Profile of every feature column of `table` per `schema`, of the scores when given, and the model's test scores
 * and labels when given (thinned to EVALUATION_SAMPLE_SIZE rows by a fixed stride, so it stays deterministic).
 */
export function buildReferenceProfile(
  table: Table,
  schema: DatasetSchema,
  scores?: ArrayLike<number>,
  evaluation?: { threshold: number; scores: ArrayLike<number>; labels: ArrayLike<number> },
  inputSchema?: DatasetSchema,
): ReferenceProfile {
  const features: ReferenceProfile['features'] = {};
  for (const spec of schema.columns) {
    if (spec.role !== 'feature') continue;
    const col = table.columns[spec.name];
    if (!col) continue;
    features[spec.name] = isNumericData(col)
      ? { ...profileNumeric(col), column_type: spec.type }
      : profileCategorical(col);
  }
  const profile: ReferenceProfile = { format_version: 1, rows: table.nRows, features };
  if (scores) profile.prediction = profileNumeric(scores, 20);
  if (evaluation) {
    const n = evaluation.scores.length;
    const stride = Math.max(1, Math.ceil(n / EVALUATION_SAMPLE_SIZE));
    const s: number[] = [];
    const l: number[] = [];
    for (let i = 0; i < n; i += stride) {
      s.push(Number(evaluation.scores[i]!.toPrecision(8)));
      l.push(evaluation.labels[i]! ? 1 : 0);
    }
    profile.evaluation = { threshold: evaluation.threshold, scores: s, labels: l };
  }
  if (inputSchema) profile.input_schema = schemaToJSON(inputSchema);
  return profile;
}
