import { InputError } from '../../errors.js';
import type { FlatTree } from './ensemble.js';
import { TreeEnsemble } from './ensemble.js';
import { type GbdtClassifier, gbdtFromState } from './gbdt-classifier.js';

/** Options of {@link importXgboostModel}. */
export interface XgboostImportOptions {
  /**
   * Feature names of the vectors Tassel will score (e.g. the fitted transform's). When the XGBoost model
   * carries feature names, its splits are re-pointed to these columns by name (every model feature must be
   * present; extra columns are ignored); otherwise the counts must match and columns are taken in order.
   */
  featureNames?: readonly string[];
  /**
   * Stop at the saved `best_iteration` as XGBoost's scikit-learn `predict_proba` does (default true);
   * false keeps every tree, as `Booster.predict` does.
   */
  useBestIteration?: boolean;
}

const bad = (why: string): never => {
  throw new InputError(`not a supported XGBoost model.json: ${why}`);
};

const obj = (v: unknown, what: string): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : bad(`${what} is missing`);

/** XGBoost writes numbers in JSON as strings ("5E-1", and "[5E-1]" for vectors in 2.1+). */
function xgbNumber(v: unknown, what: string): number {
  const s = typeof v === 'string' ? v.replace(/^\[|\]$/g, '') : v;
  const n = typeof s === 'number' ? s : typeof s === 'string' && s.trim() !== '' ? Number(s) : Number.NaN;
  if (!Number.isFinite(n)) bad(`${what} is not a number (${JSON.stringify(v)})`);
  return n;
}

function numbers(t: Record<string, unknown>, key: string, n: number | null, k: number): number[] {
  const v = t[key];
  if (!Array.isArray(v)) return bad(`trees[${k}].${key} is missing`);
  if (n !== null && v.length !== n) bad(`trees[${k}].${key} has ${v.length} entries, expected ${n}`);
  return v.map((x) => (typeof x === 'boolean' ? (x ? 1 : 0) : xgbNumber(x, `trees[${k}].${key}`)));
}

/** XGBoost's ProbToMargin for binary:logistic, in float32 as XGBoost computes it. */
const probToMargin = (p: number): number =>
  Math.fround(-Math.log(Math.fround(Math.fround(1 / Math.fround(p)) - 1)));

/**
 * One XGBoost tree into a flat tree, nodes renumbered breadth-first (so children always follow their parent)
 * and features remapped through `column`. Leaves hold their value in `split_conditions`, learning rate applied.
 */
function convertTree(t: Record<string, unknown>, k: number, column: Int32Array, leafScale: number): FlatTree {
  const left = numbers(t, 'left_children', null, k);
  const n = left.length;
  if (n === 0) bad(`trees[${k}] has no nodes`);
  const right = numbers(t, 'right_children', n, k);
  const index = numbers(t, 'split_indices', n, k);
  const cond = numbers(t, 'split_conditions', n, k);
  const dl = numbers(t, 'default_left', n, k);
  const gain = Array.isArray(t.loss_changes)
    ? numbers(t, 'loss_changes', n, k)
    : new Array<number>(n).fill(0);
  const cover = Array.isArray(t.sum_hessian) ? numbers(t, 'sum_hessian', n, k) : new Array<number>(n).fill(0);
  const splitType = Array.isArray(t.split_type) ? numbers(t, 'split_type', n, k) : null;
  const order: number[] = [0];
  const newId = new Int32Array(n).fill(-1);
  newId[0] = 0;
  for (let q = 0; q < order.length; q++) {
    const i = order[q]!;
    if (left[i] === -1) continue;
    if (splitType && splitType[i] !== 0) bad(`trees[${k}] node ${i} is a categorical split (not supported)`);
    for (const c of [left[i]!, right[i]!]) {
      if (!Number.isInteger(c) || c < 0 || c >= n || newId[c] !== -1)
        bad(`trees[${k}] node ${i} has bad children`);
      newId[c] = order.length;
      order.push(c);
    }
  }
  const m = order.length;
  const out: FlatTree = {
    feature: new Int32Array(m),
    threshold: new Float64Array(m),
    left: new Int32Array(m),
    right: new Int32Array(m),
    defaultLeft: new Uint8Array(m),
    value: new Float64Array(m),
    gain: new Float64Array(m),
    cover: new Float64Array(m),
  };
  order.forEach((i, j) => {
    out.cover[j] = cover[i]!;
    if (left[i] === -1) {
      out.feature[j] = -1;
      out.left[j] = -1;
      out.right[j] = -1;
      out.value[j] = Math.fround(cond[i]! * leafScale);
      return;
    }
    const f = index[i]!;
    if (!Number.isInteger(f) || f < 0 || f >= column.length)
      bad(`trees[${k}] node ${i} splits on feature ${f}`);
    const col = column[f]!;
    if (col < 0) bad(`trees[${k}] splits on feature ${f}, which is not among the given feature names`);
    out.feature[j] = col;
    out.threshold[j] = Math.fround(cond[i]!);
    out.left[j] = newId[left[i]!]!;
    out.right[j] = newId[right[i]!]!;
    out.defaultLeft[j] = dl[i] ? 1 : 0;
    out.gain[j] = gain[i]!;
  });
  return out;
}

/**
 * Loads a binary:logistic model saved by XGBoost's `save_model("model.json")` (1.7 and 2.x layouts, gbtree
 * and dart) into Tassel's predictor. Predictions reproduce XGBoost's float32 arithmetic (thresholds and inputs
 * compared as float32, leaf values summed in float32), so they match XGBoost's to about 1e-7.
 */
export function importXgboostModel(json: unknown, options: XgboostImportOptions = {}): GbdtClassifier {
  if (typeof json === 'string') {
    try {
      json = JSON.parse(json);
    } catch {
      bad('not valid JSON (UBJSON models are not supported; save with a .json file name)');
    }
  }
  const root = obj(json, 'the top-level object');
  const learner = obj(root.learner, '"learner"');
  const version = Array.isArray(root.version) ? root.version.join('.') : 'unknown';
  const objective = obj(learner.objective, 'learner.objective');
  if (objective.name !== 'binary:logistic' && objective.name !== 'reg:logistic') {
    bad(`objective ${JSON.stringify(objective.name)}; only binary:logistic models can be imported`);
  }
  const mp = obj(learner.learner_model_param, 'learner.learner_model_param');
  const numClass = mp.num_class === undefined ? 0 : xgbNumber(mp.num_class, 'num_class');
  if (numClass > 1) bad(`num_class ${numClass}; only binary models can be imported`);
  const numFeature = xgbNumber(mp.num_feature, 'learner_model_param.num_feature');
  const baseScore = xgbNumber(mp.base_score, 'learner_model_param.base_score');
  if (!(baseScore > 0 && baseScore < 1)) bad(`base_score ${baseScore} is not a probability`);

  let booster = obj(learner.gradient_booster, 'learner.gradient_booster');
  let weightDrop: number[] | null = null;
  if (booster.name === 'dart') {
    weightDrop = Array.isArray(booster.weight_drop)
      ? booster.weight_drop.map((w) => xgbNumber(w, 'weight_drop'))
      : null;
    booster = obj(booster.gbtree, 'gradient_booster.gbtree');
  } else if (booster.name !== undefined && booster.name !== 'gbtree') {
    bad(`booster ${JSON.stringify(booster.name)}; only tree boosters (gbtree, dart) can be imported`);
  }
  const model = obj(booster.model, 'gradient_booster.model');
  if (!Array.isArray(model.trees)) bad('gradient_booster.model.trees is missing');
  const rawTrees = model.trees as unknown[];
  const gp = (model.gbtree_model_param ?? {}) as Record<string, unknown>;
  const parallel =
    gp.num_parallel_tree === undefined ? 1 : xgbNumber(gp.num_parallel_tree, 'num_parallel_tree');

  const modelNames =
    Array.isArray(learner.feature_names) && learner.feature_names.length > 0
      ? (learner.feature_names as unknown[]).map(String)
      : null;
  if (modelNames && modelNames.length !== numFeature)
    bad(`${modelNames.length} feature names for ${numFeature} features`);
  let column: Int32Array;
  let names: string[] | null;
  if (options.featureNames) {
    const given = [...options.featureNames];
    names = given;
    if (modelNames) {
      const at = new Map(given.map((n, i) => [n, i]));
      const absent = modelNames.filter((n) => !at.has(n));
      if (absent.length > 0) {
        throw new InputError(
          `the XGBoost model uses features missing from the given feature names: ${absent.slice(0, 10).join(', ')}${absent.length > 10 ? ', ...' : ''}`,
        );
      }
      column = Int32Array.from(modelNames, (n) => at.get(n)!);
    } else {
      if (given.length !== numFeature) {
        throw new InputError(
          `the XGBoost model has ${numFeature} features (unnamed) but ${given.length} feature names were given`,
        );
      }
      column = Int32Array.from({ length: numFeature }, (_, i) => i);
    }
  } else {
    names = modelNames;
    column = Int32Array.from({ length: numFeature }, (_, i) => i);
  }
  const width = names ? names.length : numFeature;

  const attributes = (learner.attributes ?? {}) as Record<string, unknown>;
  const best =
    attributes.best_iteration === undefined ? null : xgbNumber(attributes.best_iteration, 'best_iteration');
  const rounds = Math.floor(rawTrees.length / parallel);
  let keep = rawTrees.length;
  if (best !== null && options.useBestIteration !== false)
    keep = Math.min(rawTrees.length, (best + 1) * parallel);
  const trees = rawTrees
    .slice(0, keep)
    .map((t, k) => convertTree(obj(t, `trees[${k}]`), k, column, weightDrop ? (weightDrop[k] ?? 1) : 1));
  const ensemble = new TreeEnsemble(trees, probToMargin(baseScore), width, 'float32');
  return gbdtFromState(
    { n_estimators: Math.max(1, rounds), base_score: baseScore },
    {
      ensemble,
      featureNames: names,
      bestIteration: best ?? rounds - 1,
      roundsRun: rounds,
      origin: { source: 'xgboost', xgboost_version: version },
    },
  );
}
