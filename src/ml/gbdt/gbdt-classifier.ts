import { InputError } from '../../errors.js';
import type { Matrix } from '../matrix.js';
import type { Classifier, FitOptions, Labels, ModelFactory, ModelJSON } from '../model.js';
import { type FlatTree, type Precision, TreeEnsemble } from './ensemble.js';
import { featureImportances, IMPORTANCE_TYPES, type ImportanceType } from './importance.js';
import { type GbdtParams, resolveGbdtParams } from './params.js';
import { trainGbdt } from './train.js';

/** Layout version of the GBDT `model.json`; bump on any incompatible change. */
export const GBDT_FORMAT_VERSION = 1;

/** Where a model's trees came from. */
export interface GbdtOrigin {
  source: 'tassel' | 'xgboost';
  /** For imports: the XGBoost version that saved the model, e.g. "1.7.4". */
  xgboost_version?: string;
}

/** Everything a fitted GBDT is, independent of how it was obtained (trained or imported). */
export interface GbdtState {
  ensemble: TreeEnsemble;
  featureNames: string[] | null;
  bestIteration: number;
  roundsRun: number;
  origin: GbdtOrigin;
}

/**
 * Gradient-boosted trees for binary classification with XGBoost's parameters and semantics
 * (`binary:logistic`, `tree_method="hist"`). Also holds XGBoost-imported models (see xgboost-import.ts).
 */
export class GbdtClassifier implements Classifier {
  readonly kind = 'gbdt';
  readonly params: GbdtParams & Record<string, unknown>;
  private state: GbdtState | null = null;

  constructor(params: Record<string, unknown> = {}, state: GbdtState | null = null) {
    this.params = resolveGbdtParams(params) as GbdtParams & Record<string, unknown>;
    this.state = state;
  }

  private fitted(): GbdtState {
    if (!this.state) throw new InputError('gbdt: model is not fitted');
    return this.state;
  }

  /** The flattened ensemble (throws if unfitted). */
  get ensemble(): TreeEnsemble {
    return this.fitted().ensemble;
  }

  /** Trains; with nthread > 1 histograms are built by worker threads and the promise resolves when done. */
  fit(X: Matrix, y: Labels, options: FitOptions = {}): void | Promise<void> {
    const featureNames = options.featureNames ?? null;
    if (featureNames && featureNames.length !== X.cols) {
      throw new InputError(`gbdt: ${featureNames.length} feature names for ${X.cols} columns`);
    }
    if (options.seed !== undefined) this.params.seed = options.seed;
    const done = (r: ReturnType<typeof trainGbdt>) => {
      this.state = {
        ensemble: r.ensemble,
        featureNames: featureNames ? [...featureNames] : null,
        bestIteration: r.bestIteration,
        roundsRun: r.roundsRun,
        origin: { source: 'tassel' },
      };
    };
    done(trainGbdt(X, y, this.params, options));
  }

  /** Raw margins (log-odds) per row. */
  predictMargin(X: Matrix): Float64Array {
    return this.fitted().ensemble.predictMargin(X);
  }

  predictProba(X: Matrix): Float64Array {
    return this.fitted().ensemble.predictProba(X);
  }

  predictOne(row: Float64Array): number {
    const e = this.fitted().ensemble;
    return e.probability(e.marginOf(row));
  }

  /** The probability of a margin as this model computes it (XGBoost's float32 sigmoid for float32 models). */
  probabilityOf(margin: number): number {
    return this.fitted().ensemble.probability(margin);
  }

  /** Raw margin of one row, without allocation. */
  marginOne(row: Float64Array): number {
    return this.fitted().ensemble.marginOf(row);
  }

  /** XGBoost-style importances by feature name. */
  featureImportances(type: ImportanceType = 'gain'): Record<string, number> {
    const s = this.fitted();
    return featureImportances(s.ensemble.trees, type, s.featureNames, s.ensemble.nFeatures);
  }

  summary(): Record<string, unknown> {
    const s = this.fitted();
    return {
      n_trees: s.ensemble.nTrees,
      best_iteration: s.bestIteration,
      rounds_run: s.roundsRun,
      n_features: s.ensemble.nFeatures,
      base_margin: s.ensemble.baseMargin,
      source: s.origin.source,
      importance_gain: this.featureImportances('gain'),
      importance_weight: this.featureImportances('weight'),
      importance_cover: this.featureImportances('cover'),
    };
  }

  toJSON(): ModelJSON {
    const s = this.fitted();
    const e = s.ensemble;
    return {
      kind: 'gbdt',
      format_version: GBDT_FORMAT_VERSION,
      params: { ...this.params },
      origin: { ...s.origin },
      n_features: e.nFeatures,
      feature_names: s.featureNames,
      base_margin: e.baseMargin,
      precision: e.precision,
      best_iteration: s.bestIteration,
      rounds_run: s.roundsRun,
      trees: e.trees.map((t) => ({
        feature: Array.from(t.feature),
        threshold: Array.from(t.threshold),
        left: Array.from(t.left),
        right: Array.from(t.right),
        default_left: Array.from(t.defaultLeft),
        value: Array.from(t.value),
        gain: Array.from(t.gain),
        cover: Array.from(t.cover),
      })),
    };
  }
}

const bad = (why: string): never => {
  throw new InputError(`invalid gbdt model.json: ${why}`);
};

function numArray(o: Record<string, unknown>, key: string, len: number | null, where: string): number[] {
  const v = o[key];
  if (!Array.isArray(v)) return bad(`${where}.${key} is not an array`);
  if (len !== null && v.length !== len) bad(`${where}.${key} has ${v.length} entries, expected ${len}`);
  for (const x of v)
    if (typeof x !== 'number' || !Number.isFinite(x)) bad(`${where}.${key} holds a non-number`);
  return v as number[];
}

function treeFromJSON(json: unknown, k: number): FlatTree {
  if (!json || typeof json !== 'object') return bad(`trees[${k}] is not an object`);
  const o = json as Record<string, unknown>;
  const where = `trees[${k}]`;
  const feature = numArray(o, 'feature', null, where);
  const n = feature.length;
  if (n === 0) bad(`${where} has no nodes`);
  return {
    feature: Int32Array.from(feature),
    threshold: Float64Array.from(numArray(o, 'threshold', n, where)),
    left: Int32Array.from(numArray(o, 'left', n, where)),
    right: Int32Array.from(numArray(o, 'right', n, where)),
    defaultLeft: Uint8Array.from(numArray(o, 'default_left', n, where)),
    value: Float64Array.from(numArray(o, 'value', n, where)),
    gain: Float64Array.from(numArray(o, 'gain', n, where)),
    cover: Float64Array.from(numArray(o, 'cover', n, where)),
  };
}

/** Restores a fitted GBDT from its `model.json` form; throws InputError on a damaged or newer file. */
export function gbdtFromJSON(json: ModelJSON): GbdtClassifier {
  if (json.kind !== 'gbdt') bad(`kind is ${JSON.stringify(json.kind)}`);
  if (json.format_version !== GBDT_FORMAT_VERSION) {
    bad(`format_version ${json.format_version} is not supported (this Tassel reads ${GBDT_FORMAT_VERSION})`);
  }
  const nFeatures = json.n_features;
  if (typeof nFeatures !== 'number' || !Number.isInteger(nFeatures) || nFeatures < 0) bad('n_features');
  const names = json.feature_names;
  if (names !== null && !(Array.isArray(names) && names.every((x) => typeof x === 'string')))
    bad('feature_names');
  if (Array.isArray(names) && names.length !== nFeatures) bad('feature_names length differs from n_features');
  const base = json.base_margin;
  if (typeof base !== 'number' || !Number.isFinite(base)) bad('base_margin');
  const precision = json.precision ?? 'float64';
  if (precision !== 'float64' && precision !== 'float32') bad('precision');
  if (!Array.isArray(json.trees)) bad('trees is not an array');
  const trees = (json.trees as unknown[]).map(treeFromJSON);
  const origin = (json.origin ?? { source: 'tassel' }) as GbdtOrigin;
  if (origin.source !== 'tassel' && origin.source !== 'xgboost') bad('origin.source');
  let ensemble: TreeEnsemble;
  try {
    ensemble = new TreeEnsemble(trees, base as number, nFeatures as number, precision as Precision);
  } catch (e) {
    return bad((e as Error).message);
  }
  const bestIteration = typeof json.best_iteration === 'number' ? json.best_iteration : trees.length - 1;
  const roundsRun = typeof json.rounds_run === 'number' ? json.rounds_run : trees.length;
  return new GbdtClassifier(json.params ?? {}, {
    ensemble,
    featureNames: (names as string[] | null) ?? null,
    bestIteration,
    roundsRun,
    origin,
  });
}

/** Creates a GBDT classifier from an imported/precomputed state (used by the XGBoost importer). */
export function gbdtFromState(params: Record<string, unknown>, state: GbdtState): GbdtClassifier {
  return new GbdtClassifier(params, state);
}

/** The `gbdt` model kind. */
export const gbdtFactory: ModelFactory = {
  kind: 'gbdt',
  create: (params) => new GbdtClassifier(params ?? {}),
  fromJSON: (json) => gbdtFromJSON(json),
};

export { IMPORTANCE_TYPES };
