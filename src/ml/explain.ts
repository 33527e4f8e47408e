import { TasselError } from '../errors.js';
import { DummyClassifier } from './dummy.js';
import { sigmoid } from './gbdt/ensemble.js';
import { GbdtClassifier } from './gbdt/gbdt-classifier.js';
import { TreeShapExplainer } from './gbdt/tree-shap.js';
import { LogisticRegression } from './logistic.js';
import type { Classifier } from './model.js';

/** How a model's contributions are computed. */
export type ExplainMethod = 'tree_shap' | 'linear_shap' | 'constant';

/**
 * Exact SHAP values of a model in margin (log-odds) units over the encoded feature columns: for every row,
 * `baseValue + sum(contributions) = margin`, and `probability(margin)` is the predicted probability.
 */
export interface ModelExplainer {
  readonly method: ExplainMethod;
  /** Number of encoded columns. */
  readonly width: number;
  /** The expected margin (the bias every explanation starts from). */
  readonly baseValue: number;
  /**
   * Writes one encoded row's contributions into `out[outAt .. outAt + width)` (overwritten) and returns the
   * margin; `margin`, when the caller has just scored this row, is returned as is instead of scoring it again.
   */
  explain(row: Float64Array, out: Float64Array, outAt?: number, margin?: number): number;
  /**
   * The probability of a margin as the model predicts it: the logistic function, for float32 GBDT models
   * XGBoost's float32 sigmoid (so an explanation's probability is the prediction's, bit for bit).
   */
  probability(margin: number): number;
  /**
   * SHAP interaction values of one encoded row (XGBoost's `pred_interactions` without the bias row and
   * column): width x width, row-major, symmetric; row j sums to column j's contribution, the diagonal holds
   * its main effect. Logistic: the contributions on the diagonal (a linear margin has no interactions).
   */
  interactions(row: Float64Array): Float64Array;
}

/** Options of {@link createModelExplainer}. */
export interface ModelExplainerOptions {
  /**
   * The mean of each encoded column over the training rows (a fitted transform's `output_mean`): linear
   * SHAP's background. Required for logistic models.
   */
  featureMeans?: ArrayLike<number> | null;
  /**
   * GBDT: compact (float32) TreeSHAP tables, for explaining one record at a time (serving): about half the
   * memory traffic, each contribution within about 1e-7 of its size of the exact one, the sum still the margin.
   */
  compact?: boolean;
}

/** log(p / (1 - p)) with p kept inside (1e-15, 1 - 1e-15), so a certain prior still has a finite margin. */
export const logit = (p: number): number => {
  const q = Math.min(1 - 1e-15, Math.max(1e-15, p));
  return Math.log(q / (1 - q));
};

/**
 * The explainer for a fitted model: TreeSHAP for GBDT (Tassel-trained or XGBoost-imported), linear SHAP
 * (coefficient x (x - mean x)) for logistic regression, and all-zero contributions for the dummy model, whose
 * prediction depends on no feature. Throws NOT_IMPLEMENTED, with the reason, for any other kind.
 */
export function createModelExplainer(model: Classifier, options: ModelExplainerOptions = {}): ModelExplainer {
  if (model instanceof GbdtClassifier) return treeExplainer(model, options.compact === true);
  if (model instanceof LogisticRegression) return linearExplainer(model, options.featureMeans ?? null);
  if (model instanceof DummyClassifier) {
    const base = logit(model.predictOne(new Float64Array(0)));
    return {
      method: 'constant',
      width: 0,
      baseValue: base,
      explain: () => base,
      probability: sigmoid,
      interactions: () => new Float64Array(0),
    };
  }
  throw new TasselError(
    'NOT_IMPLEMENTED',
    `explanations are available for gbdt, logistic and dummy models; this model is of kind "${model.kind}"`,
  );
}

function treeExplainer(model: GbdtClassifier, compact: boolean): ModelExplainer {
  let shap: TreeShapExplainer;
  try {
    shap = new TreeShapExplainer(model.ensemble, { compact });
  } catch (e) {
    throw new TasselError('NOT_IMPLEMENTED', `this model cannot be explained: ${(e as Error).message}`);
  }
  const width = shap.nFeatures;
  return {
    method: 'tree_shap',
    width,
    baseValue: shap.expectedValue,
    explain(row, out, outAt = 0, margin?: number) {
      shap.featureContributions(row, out, 0, outAt);
      return margin ?? model.marginOne(row);
    },
    probability: (margin) => model.probabilityOf(margin),
    interactions(row) {
      const all = shap.interactions(row);
      const out = new Float64Array(width * width);
      for (let j = 0; j < width; j++)
        out.set(all.subarray(j * (width + 1), j * (width + 1) + width), j * width);
      return out;
    },
  };
}

function linearExplainer(model: LogisticRegression, means: ArrayLike<number> | null): ModelExplainer {
  const coef = model.coef;
  const width = coef.length;
  if (!means) {
    throw new TasselError(
      'NOT_IMPLEMENTED',
      'this logistic model cannot be explained: its feature transform holds no training means (output_mean); retrain it with this Tassel',
    );
  }
  if (means.length !== width) {
    throw new TasselError('INVALID_STATE', `${means.length} feature means for ${width} coefficients`);
  }
  let base = model.intercept;
  for (let j = 0; j < width; j++) base += coef[j]! * means[j]!;
  return {
    method: 'linear_shap',
    width,
    baseValue: base,
    explain(row, out, outAt = 0) {
      let margin = model.intercept;
      for (let j = 0; j < width; j++) {
        const c = coef[j]!;
        margin += c * row[j]!;
        out[outAt + j] = c * (row[j]! - means[j]!);
      }
      return margin;
    },
    probability: sigmoid,
    interactions(row) {
      const out = new Float64Array(width * width);
      for (let j = 0; j < width; j++) out[j * width + j] = coef[j]! * (row[j]! - means[j]!);
      return out;
    },
  };
}
