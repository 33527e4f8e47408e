import { type DatasetSchema, schemaFromJSON } from '../data/schema.js';
import { rocAuc } from '../ml/metrics.js';
import type { CategoricalProfile, NumericProfile, ReferenceProfile } from '../pipeline/profile.js';
import { TasselError } from '../errors.js';
import { type IsotonicMap, fitIsotonic } from './performance.js';
import {
  type BinnedReference,
  binShares,
  binnedReference,
  quantileEdges,
  sortedFinite,
} from './statistics.js';

/**
 * The reference profile a model version was trained with, prepared once for many windows: sorted quantile
 * samples and PSI bins for numeric features, category counts for categorical ones, the test scores (score
 * drift) and an isotonic calibration map (CBPE).
 */

export interface NumericReference {
  type: 'numeric';
  name: string;
  /** Sorted quantile sample of the present values. */
  sorted: Float64Array;
  /** Present values in the training data (the effective sample size of the tests). */
  present: number;
  missingRate: number;
  std: number;
  min: number;
  max: number;
  psiEdges: number[];
  psiShares: Float64Array;
  /** Distinct values and shares, for windows compared without sorting them. */
  binned: BinnedReference;
}

export interface CategoricalReference {
  type: 'categorical';
  name: string;
  categories: string[];
  index: Map<string, number>;
  /** Counts per category, then the rest (`other`) as the last cell. */
  counts: Float64Array;
  /** True when the profile kept every category (so a value not in it is unseen, not merely rare). */
  complete: boolean;
  present: number;
  missingRate: number;
}

export type FeatureReference = NumericReference | CategoricalReference;

export interface PreparedReference {
  features: FeatureReference[];
  /** Sorted test scores (or the training score sample of older profiles); null when neither was logged. */
  scores: Float64Array | null;
  scoresCount: number;
  calibration: IsotonicMap | null;
  threshold: number | null;
  /** ROC AUC of the model on its test sample. */
  referenceAuc: number | null;
  /** The schema to coerce logged inputs with, when the profile carries it. */
  inputSchema: DatasetSchema | null;
}

/** Options of {@link prepareReference}. */
export interface PrepareReferenceOptions {
  /** Features left out of monitoring. Default: none (date columns are left out unless listed in `include`). */
  ignore?: readonly string[];
  /** Only these features (default: every profiled feature the input schema knows). */
  include?: readonly string[];
  /** Equal-probability PSI bins. Default 10. */
  psiBins?: number;
}

function numericReference(name: string, p: NumericProfile, bins: number): NumericReference | null {
  if (!p.sample || p.sample.length === 0 || p.std === null || p.min === null || p.max === null) return null;
  const sorted = sortedFinite(p.sample);
  const edges = quantileEdges(sorted, bins);
  return {
    type: 'numeric',
    name,
    sorted,
    present: p.count - p.missing,
    missingRate: p.count ? p.missing / p.count : 0,
    std: p.std,
    min: p.min,
    max: p.max,
    psiEdges: edges,
    psiShares: binShares(sorted, edges),
    binned: binnedReference(sorted, edges),
  };
}

function categoricalReference(name: string, p: CategoricalProfile): CategoricalReference {
  const categories = Object.keys(p.frequencies);
  const present = p.count - p.missing;
  const counts = new Float64Array(categories.length + 1);
  categories.forEach((c, i) => {
    counts[i] = p.frequencies[c]! * present;
  });
  counts[categories.length] = p.other * present;
  return {
    type: 'categorical',
    name,
    categories,
    index: new Map(categories.map((c, i) => [c, i])),
    counts,
    complete: p.other === 0 && p.distinct === categories.length,
    present,
    missingRate: p.count ? p.missing / p.count : 0,
  };
}

/** Prepares a logged reference profile; throws INVALID_PARAMETER_VALUE when it has nothing to compare with. */
export function prepareReference(
  profile: ReferenceProfile,
  options: PrepareReferenceOptions = {},
): PreparedReference {
  const ignore = new Set(options.ignore ?? []);
  const include = options.include ? new Set(options.include) : null;
  const inputSchema = profile.input_schema ? schemaFromJSON(profile.input_schema) : null;
  const inputs = inputSchema
    ? new Set(inputSchema.columns.filter((c) => c.role === 'feature').map((c) => c.name))
    : null;
  const features: FeatureReference[] = [];
  for (const [name, p] of Object.entries(profile.features)) {
    if (ignore.has(name) || (include && !include.has(name))) continue;
    // derived features (feature steps) are not in the logged inputs
    if (inputs && !inputs.has(name)) continue;
    if (p.type === 'numeric') {
      if (!include && p.column_type === 'date') continue;
      const r = numericReference(name, p, options.psiBins ?? 10);
      if (r) features.push(r);
    } else features.push(categoricalReference(name, p));
  }
  if (features.length === 0)
    throw new TasselError(
      'INVALID_PARAMETER_VALUE',
      'the reference profile has no feature sample to compare with (profiles logged before monitoring existed lack one; re-run the pipeline)',
    );
  const ev = profile.evaluation;
  let scores: Float64Array | null = null;
  let calibration: IsotonicMap | null = null;
  let referenceAuc: number | null = null;
  if (ev && ev.scores.length > 0) {
    scores = sortedFinite(ev.scores);
    calibration = fitIsotonic(ev.scores, ev.labels);
    const auc = rocAuc(ev.labels, ev.scores);
    referenceAuc = Number.isFinite(auc) ? auc : null;
  } else if (profile.prediction?.sample) scores = sortedFinite(profile.prediction.sample);
  return {
    features,
    scores,
    scoresCount: ev
      ? ev.scores.length
      : profile.prediction
        ? profile.prediction.count - profile.prediction.missing
        : 0,
    calibration,
    threshold: ev?.threshold ?? null,
    referenceAuc,
    inputSchema,
  };
}
