import { InputError } from '../../errors.js';

/** How trees grow: level by level up to `max_depth`, or best-gain leaf first up to `max_leaves` (XGBoost's grow_policy). */
export type GrowPolicy = 'depthwise' | 'lossguide';

/** Early-stopping / evaluation metric on the validation set. */
export type EvalMetric = 'logloss' | 'auc';

/**
 * GBDT hyper-parameters, named and defaulted as XGBoost's (`binary:logistic`, `tree_method="hist"`),
 * so a data scientist's XGBoost settings carry over unchanged.
 */
export interface GbdtParams {
  /** Boosting rounds (trees). */
  n_estimators: number;
  /** Maximum tree depth; 0 = unlimited (only with lossguide and max_leaves > 0). */
  max_depth: number;
  /** Maximum leaves per tree; 0 = unlimited. */
  max_leaves: number;
  grow_policy: GrowPolicy;
  /** Learning rate (shrinkage applied to every leaf weight). */
  eta: number;
  /** Maximum histogram bins per feature (quantile cut points computed once). */
  max_bin: number;
  /** Minimum hessian sum in each child of a split. */
  min_child_weight: number;
  /** L2 regularisation on leaf weights. */
  lambda: number;
  /** L1 regularisation on leaf weights (soft-thresholds the gradient sum). */
  alpha: number;
  /** Minimum loss reduction (XGBoost's `min_split_loss`) a split must reach. */
  gamma: number;
  /** Row sampling ratio per tree. */
  subsample: number;
  /** Feature sampling ratio per tree. */
  colsample_bytree: number;
  /** Feature sampling ratio per split node (from the tree's sample). */
  colsample_bynode: number;
  /** Weight of positive rows in the gradient (class-imbalance knob). */
  scale_pos_weight: number;
  /** Initial prediction as a probability; null = the (weighted) class prior of the training labels. */
  base_score: number | null;
  /** Worker threads for histogram building (1 = in the calling thread). */
  nthread: number;
  /** Seed for row and feature sampling. */
  seed: number;
  /** Stop when the validation metric has not improved for this many rounds; 0 = off. */
  early_stopping_rounds: number;
  eval_metric: EvalMetric;
}

/** XGBoost's defaults, except `base_score` (class prior, as XGBoost 2.x estimates it). */
export const DEFAULT_GBDT_PARAMS: Readonly<GbdtParams> = Object.freeze({
  n_estimators: 100,
  max_depth: 6,
  max_leaves: 0,
  grow_policy: 'depthwise',
  eta: 0.3,
  max_bin: 256,
  min_child_weight: 1,
  lambda: 1,
  alpha: 0,
  gamma: 0,
  subsample: 1,
  colsample_bytree: 1,
  colsample_bynode: 1,
  scale_pos_weight: 1,
  base_score: null,
  nthread: 1,
  seed: 0,
  early_stopping_rounds: 0,
  eval_metric: 'logloss',
});

/** XGBoost's alias names accepted on input (learning_rate, reg_lambda, ...). */
const ALIASES: Record<string, keyof GbdtParams> = {
  learning_rate: 'eta',
  reg_lambda: 'lambda',
  reg_alpha: 'alpha',
  min_split_loss: 'gamma',
  num_boost_round: 'n_estimators',
  n_jobs: 'nthread',
  random_state: 'seed',
};

const num = (key: string, v: unknown): number => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n))
    throw new InputError(`gbdt: ${key} must be a number, got ${JSON.stringify(v)}`);
  return n;
};

const check = (ok: boolean, key: string, rule: string, v: unknown): void => {
  if (!ok) throw new InputError(`gbdt: ${key} must be ${rule}, got ${JSON.stringify(v)}`);
};

/**
 * Validates and completes user params (kebab- or snake-case keys, XGBoost aliases, numeric strings);
 * throws InputError naming the bad key. Unknown keys are rejected so typos do not silently do nothing.
 */
export function resolveGbdtParams(input: Record<string, unknown> = {}): GbdtParams {
  const p: GbdtParams = { ...DEFAULT_GBDT_PARAMS };
  const out = p as unknown as Record<string, unknown>;
  for (const [rawKey, v] of Object.entries(input)) {
    if (v === undefined) continue;
    let key = rawKey.replace(/-/g, '_');
    key = ALIASES[key] ?? key;
    if (!(key in DEFAULT_GBDT_PARAMS)) {
      throw new InputError(
        `gbdt: unknown parameter "${rawKey}"; known: ${Object.keys(DEFAULT_GBDT_PARAMS).join(', ')}`,
      );
    }
    if (key === 'grow_policy') {
      check(v === 'depthwise' || v === 'lossguide', key, '"depthwise" or "lossguide"', v);
      out[key] = v;
    } else if (key === 'eval_metric') {
      check(v === 'logloss' || v === 'auc', key, '"logloss" or "auc"', v);
      out[key] = v;
    } else if (key === 'base_score') {
      out[key] = v === null ? null : num(key, v);
    } else {
      out[key] = num(key, v);
    }
  }
  const int = (k: keyof GbdtParams, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const v = out[k] as number;
    check(Number.isInteger(v) && v >= min && v <= max, k, `an integer in [${min}, ${max}]`, v);
  };
  int('n_estimators', 1, 1_000_000);
  int('max_depth', 0, 64);
  int('max_leaves', 0, 1 << 20);
  int('max_bin', 2, 65_535);
  int('nthread', 1, 64);
  int('seed', 0, 2 ** 32 - 1);
  int('early_stopping_rounds', 0);
  check(p.eta > 0, 'eta', '> 0', p.eta);
  for (const k of ['min_child_weight', 'lambda', 'alpha', 'gamma'] as const)
    check(p[k] >= 0, k, '>= 0', p[k]);
  for (const k of ['subsample', 'colsample_bytree', 'colsample_bynode'] as const) {
    check(p[k] > 0 && p[k] <= 1, k, 'in (0, 1]', p[k]);
  }
  check(p.scale_pos_weight > 0, 'scale_pos_weight', '> 0', p.scale_pos_weight);
  if (p.base_score !== null)
    check(p.base_score > 0 && p.base_score < 1, 'base_score', 'in (0, 1)', p.base_score);
  if (p.max_depth === 0 && p.max_leaves === 0) {
    throw new InputError('gbdt: max_depth 0 (unlimited) needs max_leaves > 0');
  }
  return p;
}
