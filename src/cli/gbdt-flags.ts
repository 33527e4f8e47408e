import { InvalidArgumentError } from 'commander';
import { type ModelFlag, numberOption as num } from './model-flags.js';

const int =
  (min: number, max: number) =>
  (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max}].`);
    }
    return n;
  };

const choice =
  (...values: string[]) =>
  (value: string): string => {
    if (!values.includes(value)) throw new InvalidArgumentError(`expected ${values.join(' or ')}.`);
    return value;
  };

/**
 * `tassel train --model gbdt` flags: XGBoost's parameter names in kebab-case with XGBoost's meaning and defaults
 * (`--seed` and `--valid-column` are general train flags; the valid-column rows drive early stopping).
 */
export const GBDT_TRAIN_FLAGS: ModelFlag[] = [
  {
    flags: '--n-estimators <n>',
    description: 'gbdt: boosting rounds (default 100)',
    param: 'n_estimators',
    parse: int(1, 1_000_000),
  },
  {
    flags: '--max-depth <n>',
    description: 'gbdt: maximum tree depth, 0 = unlimited with lossguide (default 6)',
    param: 'max_depth',
    parse: int(0, 64),
  },
  {
    flags: '--max-leaves <n>',
    description: 'gbdt: maximum leaves per tree, 0 = no limit (default 0)',
    param: 'max_leaves',
    parse: int(0, 1 << 20),
  },
  {
    flags: '--grow-policy <p>',
    description: 'gbdt: depthwise | lossguide (default depthwise)',
    param: 'grow_policy',
    parse: choice('depthwise', 'lossguide'),
  },
  {
    flags: '--eta <r>',
    description: 'gbdt: learning rate (default 0.3)',
    param: 'eta',
    parse: num(0, 1e6, true),
  },
  {
    flags: '--max-bin <n>',
    description: 'gbdt: histogram bins per feature (default 256)',
    param: 'max_bin',
    parse: int(2, 65_535),
  },
  {
    flags: '--min-child-weight <w>',
    description: 'gbdt: minimum hessian sum per child (default 1)',
    param: 'min_child_weight',
    parse: num(0, 1e12),
  },
  {
    flags: '--lambda <l>',
    description: 'gbdt: L2 regularization on leaf weights (default 1)',
    param: 'lambda',
    parse: num(0, 1e12),
  },
  {
    flags: '--alpha <a>',
    description: 'gbdt: L1 regularization on leaf weights (default 0)',
    param: 'alpha',
    parse: num(0, 1e12),
  },
  {
    flags: '--gamma <g>',
    description: 'gbdt: minimum loss reduction to split (default 0)',
    param: 'gamma',
    parse: num(0, 1e12),
  },
  {
    flags: '--subsample <r>',
    description: 'gbdt: row sampling ratio per tree (default 1)',
    param: 'subsample',
    parse: num(0, 1, true),
  },
  {
    flags: '--colsample-bytree <r>',
    description: 'gbdt: feature sampling ratio per tree (default 1)',
    param: 'colsample_bytree',
    parse: num(0, 1, true),
  },
  {
    flags: '--colsample-bynode <r>',
    description: 'gbdt: feature sampling ratio per split (default 1)',
    param: 'colsample_bynode',
    parse: num(0, 1, true),
  },
  {
    flags: '--scale-pos-weight <w>',
    description: 'gbdt: weight of positive rows (default 1)',
    param: 'scale_pos_weight',
    parse: num(0, 1e12, true),
  },
  {
    flags: '--nthread <n>',
    description:
      "gbdt: threads for tree growing (default 1; at most the machine's cores); tables under 5,000,000 cells (rows x features) stay on one thread; the model is the same for any value",
    param: 'nthread',
    parse: int(1, 64),
  },
  {
    flags: '--early-stopping-rounds <n>',
    description:
      'gbdt: stop after N rounds without validation improvement; needs --valid-column (default 0 = off)',
    param: 'early_stopping_rounds',
    parse: int(0, 1_000_000),
  },
  {
    flags: '--eval-metric <m>',
    description: 'gbdt: early-stopping metric logloss | auc (default logloss)',
    param: 'eval_metric',
    parse: choice('logloss', 'auc'),
  },
];
