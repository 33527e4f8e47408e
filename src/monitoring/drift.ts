import { type Correction, adjustPValues } from './multiple-testing.js';
import {
  type EstimatedPerformance,
  estimatePerformance,
  type RealisedPerformance,
  realisedPerformance,
} from './performance.js';
import type { CategoricalReference, NumericReference, PreparedReference } from './reference.js';
import {
  binShares,
  chiSquaredTwoSample,
  compareBinned,
  jensenShannon,
  kolmogorovSf,
  ksTwoSample,
  psiFromShares,
  sortedFinite,
  wasserstein,
} from './statistics.js';

/**
 * One window against the reference: per-feature drift (the right test per column type), score drift, data
 * quality, estimated (CBPE) and realised performance, and the alerts the policy's thresholds raise. Drift alarms
 * are decided on p-values corrected across the features of the window, so a window drawn from the training
 * distribution alarms with probability at most `alpha`, however many features are checked.
 */

/** Thresholds of a window check (the pipeline config's `monitoring.thresholds`, defaults filled). */
export interface DriftThresholds {
  /** False-alarm rate of the drift tests per window (after the correction). */
  alpha: number;
  correction: Correction;
  /** A drifted numeric feature must also move this far: Wasserstein distance / reference std. */
  min_wasserstein: number;
  /** A drifted categorical feature must also move this far: Jensen-Shannon distance (base 2). */
  min_js: number;
  /** Alert on the missing rate rising more than this over the reference's (absolute share). */
  max_missing_increase: number;
  /** Alert on more than this share of values outside the reference's [min, max]. */
  max_out_of_range: number;
  /** Alert on more than this share of categories never seen in training. */
  max_unseen: number;
  /** Alert on more than this share of requests refused by validation (or with invalid values). */
  max_refused: number;
  /** Alert on estimated or realised ROC AUC this far below the version's test AUC. */
  max_auc_drop: number;
  /** Equal-probability bins of PSI. */
  psi_bins: number;
}

/** The defaults of every threshold (documented in the README's Monitoring section). */
export const DEFAULT_THRESHOLDS: DriftThresholds = {
  alpha: 0.05,
  correction: 'holm',
  min_wasserstein: 0.1,
  min_js: 0.05,
  max_missing_increase: 0.05,
  max_out_of_range: 0.01,
  max_unseen: 0.01,
  max_refused: 0.01,
  max_auc_drop: 0.05,
  psi_bins: 10,
};

/** A window's data, column by column (aligned rows; NaN / null = missing). */
export interface WindowData {
  n: number;
  numeric: Map<string, Float64Array>;
  categorical: Map<string, ReadonlyArray<string | null>>;
  /** Model scores of the scored rows. */
  scores: Float64Array;
  /** Outcomes aligned with `scores` (NaN = not labelled yet). */
  outcomes: Float64Array;
  /** Requests refused by validation (not in the columns). */
  refused: number;
  /** Invalid values per feature (wrong type/format; counted as missing in the columns). */
  invalid: Map<string, number>;
}

export interface FeatureDrift {
  feature: string;
  type: 'numeric' | 'categorical';
  test: 'ks' | 'chi2';
  statistic: number;
  pvalue: number;
  pvalue_adjusted: number;
  /** Wasserstein distance / reference std (numeric). */
  wasserstein_norm?: number;
  /** PSI on the reference's quantile bins (numeric) or categories (categorical). */
  psi: number;
  /** Jensen-Shannon distance, base 2 (categorical). */
  js_distance?: number;
  missing_rate: number;
  reference_missing_rate: number;
  out_of_range_share?: number;
  unseen_share?: number;
  invalid_share: number;
  drifted: boolean;
  /** Reference vs window shares per bin (numeric: the PSI bins, labelled by upper edge) or per category. */
  distribution?: { bins: string[]; reference: number[]; window: number[] };
}

export interface Alert {
  kind: 'drift' | 'data_quality' | 'performance';
  /** The feature (or "prediction" for the score). */
  subject: string;
  statistic: string;
  value: number;
  threshold: number;
  message: string;
}

export interface WindowReport {
  n: number;
  features: FeatureDrift[];
  prediction: FeatureDrift | null;
  quality: { refused_share: number };
  performance: {
    reference_auc: number | null;
    estimated: EstimatedPerformance | null;
    realised: RealisedPerformance | null;
    labelled: number;
  };
  alerts: Alert[];
  /** The features whose drift alarmed, in report order. */
  drifted_features: string[];
}

const round = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(8)) : x);

/** Windows above this many values are compared by binary search into the reference (no sort). */
export const BINNED_WINDOW = 20_000;

/** Shares of unsorted values in the bins (-inf, e0], (e0, e1], ..., (e_last, inf). */
function binSharesUnsorted(
  values: ArrayLike<number>,
  edges: readonly number[],
  present: number,
): Float64Array {
  const counts = new Float64Array(edges.length + 1);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    let k = 0;
    while (k < edges.length && v > edges[k]!) k++;
    counts[k]!++;
  }
  return counts.map((c) => (present ? c / present : 0));
}

function numericDrift(ref: NumericReference, column: Float64Array, invalid: number): FeatureDrift {
  const n = column.length;
  let d: number;
  let w: number;
  let present: number;
  let windowShares: Float64Array;
  let out = 0;
  if (n > BINNED_WINDOW) {
    const r = compareBinned(ref.binned, column, ref.min, ref.max);
    d = r.statistic;
    w = r.wasserstein;
    present = r.present;
    out = r.outside;
    windowShares = r.binCounts
      ? r.binCounts.map((c) => (present ? c / present : 0))
      : binSharesUnsorted(column, ref.psiEdges, present);
  } else {
    const sorted = sortedFinite(column);
    d = ksTwoSample(ref.sorted, sorted).statistic;
    w = wasserstein(ref.sorted, sorted);
    present = sorted.length;
    windowShares = binShares(sorted, ref.psiEdges);
    for (let i = 0; i < sorted.length; i++) if (sorted[i]! < ref.min || sorted[i]! > ref.max) out++;
  }
  // the quantile sample reproduces the training ECDF within 1/K, so the effective size is the training count
  const en = (ref.present * present) / Math.max(1, ref.present + present);
  const s = Math.sqrt(en);
  const pvalue = present === 0 ? Number.NaN : kolmogorovSf((s + 0.12 + 0.11 / s) * d);
  const fmt = (x: number) => String(Number(x.toPrecision(4)));
  return {
    feature: ref.name,
    type: 'numeric',
    test: 'ks',
    statistic: round(d),
    pvalue,
    pvalue_adjusted: Number.NaN,
    wasserstein_norm: round(ref.std > 0 ? w / ref.std : w === 0 ? 0 : Number.POSITIVE_INFINITY),
    psi: round(psiFromShares(ref.psiShares, windowShares)),
    missing_rate: round(n ? (n - present) / n : 0),
    reference_missing_rate: round(ref.missingRate),
    out_of_range_share: round(present ? out / present : 0),
    invalid_share: round(n ? invalid / n : 0),
    drifted: false,
    distribution: {
      bins: [
        ...ref.psiEdges.map((e) => `<= ${fmt(e)}`),
        `> ${fmt(ref.psiEdges[ref.psiEdges.length - 1] ?? Number.NaN)}`,
      ],
      reference: Array.from(ref.psiShares, round),
      window: Array.from(windowShares, round),
    },
  };
}

function categoricalDrift(
  ref: CategoricalReference,
  column: ReadonlyArray<string | null>,
  invalid: number,
): FeatureDrift {
  const k = ref.categories.length;
  // cells: the reference's categories, its "other", then values never seen (when the profile is complete)
  const counts = new Float64Array(k + 2);
  let missing = 0;
  let unseen = 0;
  for (const v of column) {
    if (v === null || v === '') {
      missing++;
      continue;
    }
    const i = ref.index.get(v);
    if (i !== undefined) counts[i]!++;
    else if (ref.complete) {
      counts[k + 1]!++;
      unseen++;
    } else counts[k]!++;
  }
  const refCounts = new Float64Array(k + 2);
  refCounts.set(ref.counts);
  const chi = chiSquaredTwoSample(refCounts, counts);
  const present = column.length - missing;
  const shares = (c: Float64Array, total: number) => c.map((x) => (total ? x / total : 0));
  return {
    feature: ref.name,
    type: 'categorical',
    test: 'chi2',
    statistic: round(chi.statistic),
    pvalue: present === 0 ? Number.NaN : chi.pvalue,
    pvalue_adjusted: Number.NaN,
    psi: round(psiFromShares(shares(refCounts, ref.present), shares(counts, present))),
    js_distance: round(jensenShannon(refCounts, counts)),
    missing_rate: round(column.length ? missing / column.length : 0),
    reference_missing_rate: round(ref.missingRate),
    unseen_share: round(present ? unseen / present : 0),
    invalid_share: round(column.length ? invalid / column.length : 0),
    drifted: false,
    distribution: {
      bins: [...ref.categories, '(other)', '(unseen)'],
      reference: Array.from(shares(refCounts, ref.present), round),
      window: Array.from(shares(counts, present), round),
    },
  };
}

function scoreDrift(ref: PreparedReference, scores: Float64Array): FeatureDrift | null {
  if (!ref.scores || scores.length === 0) return null;
  const sorted = sortedFinite(scores);
  const ks = ksTwoSample(ref.scores, sorted);
  let mean = 0;
  for (const v of ref.scores) mean += v;
  mean /= ref.scores.length;
  let ss = 0;
  for (const v of ref.scores) ss += (v - mean) ** 2;
  const std = Math.sqrt(ss / ref.scores.length);
  const edges = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
  return {
    feature: 'prediction',
    type: 'numeric',
    test: 'ks',
    statistic: round(ks.statistic),
    pvalue: ks.pvalue,
    pvalue_adjusted: Number.NaN,
    wasserstein_norm: round(std > 0 ? wasserstein(ref.scores, sorted) / std : 0),
    psi: round(psiFromShares(binShares(ref.scores, edges), binShares(sorted, edges))),
    missing_rate: 0,
    reference_missing_rate: 0,
    invalid_share: 0,
    drifted: false,
  };
}

function alert(a: Omit<Alert, 'message'>, message: string): Alert {
  return { ...a, value: round(a.value), message };
}

/** Checks one window against the reference with the given thresholds. */
export function evaluateWindow(
  ref: PreparedReference,
  window: WindowData,
  thresholds: DriftThresholds = DEFAULT_THRESHOLDS,
): WindowReport {
  const t = thresholds;
  const features: FeatureDrift[] = [];
  for (const f of ref.features) {
    const invalid = window.invalid.get(f.name) ?? 0;
    if (f.type === 'numeric') {
      const col = window.numeric.get(f.name);
      if (col) features.push(numericDrift(f, col, invalid));
    } else {
      const col = window.categorical.get(f.name);
      if (col) features.push(categoricalDrift(f, col, invalid));
    }
  }
  const prediction = scoreDrift(ref, window.scores);
  const family = prediction ? [...features, prediction] : features;
  const adjusted = adjustPValues(
    family.map((f) => f.pvalue),
    t.correction,
  );
  const alerts: Alert[] = [];
  family.forEach((f, i) => {
    f.pvalue_adjusted = round(adjusted[i]!);
    const effect = f.type === 'numeric' ? (f.wasserstein_norm ?? 0) : (f.js_distance ?? 0);
    const minEffect = f.type === 'numeric' ? t.min_wasserstein : t.min_js;
    f.drifted = adjusted[i]! < t.alpha && effect >= minEffect;
    f.pvalue = round(f.pvalue);
    if (f.drifted)
      alerts.push(
        alert(
          {
            kind: 'drift',
            subject: f.feature,
            statistic: f.test === 'ks' ? 'ks_pvalue_adjusted' : 'chi2_pvalue_adjusted',
            value: adjusted[i]!,
            threshold: t.alpha,
          },
          `${f.feature}: drift (${f.test === 'ks' ? 'KS' : 'chi-squared'} p ${adjusted[i]!.toExponential(2)} after ${t.correction} < ${t.alpha}; ${f.type === 'numeric' ? `Wasserstein ${effect.toFixed(3)} std` : `JS ${effect.toFixed(3)}`}, PSI ${f.psi.toFixed(3)})`,
        ),
      );
  });
  for (const f of features) {
    const rise = f.missing_rate - f.reference_missing_rate;
    if (rise > t.max_missing_increase)
      alerts.push(
        alert(
          {
            kind: 'data_quality',
            subject: f.feature,
            statistic: 'missing_rate',
            value: f.missing_rate,
            threshold: f.reference_missing_rate + t.max_missing_increase,
          },
          `${f.feature}: missing rate ${(100 * f.missing_rate).toFixed(1)} % (training ${(100 * f.reference_missing_rate).toFixed(1)} %)`,
        ),
      );
    if ((f.out_of_range_share ?? 0) > t.max_out_of_range)
      alerts.push(
        alert(
          {
            kind: 'data_quality',
            subject: f.feature,
            statistic: 'out_of_range_share',
            value: f.out_of_range_share!,
            threshold: t.max_out_of_range,
          },
          `${f.feature}: ${(100 * f.out_of_range_share!).toFixed(1)} % of values outside the training range`,
        ),
      );
    if ((f.unseen_share ?? 0) > t.max_unseen)
      alerts.push(
        alert(
          {
            kind: 'data_quality',
            subject: f.feature,
            statistic: 'unseen_share',
            value: f.unseen_share!,
            threshold: t.max_unseen,
          },
          `${f.feature}: ${(100 * f.unseen_share!).toFixed(1)} % of values are categories never seen in training`,
        ),
      );
    if (f.invalid_share > t.max_refused)
      alerts.push(
        alert(
          {
            kind: 'data_quality',
            subject: f.feature,
            statistic: 'invalid_share',
            value: f.invalid_share,
            threshold: t.max_refused,
          },
          `${f.feature}: ${(100 * f.invalid_share).toFixed(1)} % of values invalid for the schema`,
        ),
      );
  }
  const total = window.n + window.refused;
  const refusedShare = total ? window.refused / total : 0;
  if (refusedShare > t.max_refused)
    alerts.push(
      alert(
        {
          kind: 'data_quality',
          subject: 'requests',
          statistic: 'refused_share',
          value: refusedShare,
          threshold: t.max_refused,
        },
        `${(100 * refusedShare).toFixed(1)} % of requests refused by validation`,
      ),
    );

  const estimated =
    window.scores.length && ref.threshold !== null
      ? estimatePerformance(window.scores, ref.threshold, ref.calibration)
      : null;
  const ly: number[] = [];
  const lp: number[] = [];
  for (let i = 0; i < window.outcomes.length; i++)
    if (!Number.isNaN(window.outcomes[i]!)) {
      ly.push(window.outcomes[i]!);
      lp.push(window.scores[i]!);
    }
  const realised = ly.length > 0 ? realisedPerformance(ly, lp, ref.threshold ?? 0.5) : null;
  const refAuc = ref.referenceAuc;
  if (refAuc !== null) {
    if (estimated && refAuc - estimated.roc_auc > t.max_auc_drop)
      alerts.push(
        alert(
          {
            kind: 'performance',
            subject: 'prediction',
            statistic: 'estimated_roc_auc',
            value: estimated.roc_auc,
            threshold: refAuc - t.max_auc_drop,
          },
          `estimated ROC AUC ${estimated.roc_auc.toFixed(4)} (CBPE) is ${(refAuc - estimated.roc_auc).toFixed(4)} below the test AUC ${refAuc.toFixed(4)}`,
        ),
      );
    if (realised && Number.isFinite(realised.roc_auc) && refAuc - realised.roc_auc > t.max_auc_drop)
      alerts.push(
        alert(
          {
            kind: 'performance',
            subject: 'prediction',
            statistic: 'realised_roc_auc',
            value: realised.roc_auc,
            threshold: refAuc - t.max_auc_drop,
          },
          `realised ROC AUC ${realised.roc_auc.toFixed(4)} on ${realised.n} labelled predictions is ${(refAuc - realised.roc_auc).toFixed(4)} below the test AUC ${refAuc.toFixed(4)}`,
        ),
      );
  }
  return {
    n: window.n,
    features,
    prediction,
    quality: { refused_share: round(refusedShare) },
    performance: { reference_auc: refAuc, estimated, realised, labelled: ly.length },
    alerts,
    drifted_features: features.filter((f) => f.drifted).map((f) => f.feature),
  };
}
