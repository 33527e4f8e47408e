import { InputError } from '../../errors.js';
import type { Matrix } from '../matrix.js';
import type { FitOptions, Labels } from '../model.js';
import {
  type BinCuts,
  type BinnedRows,
  binMatrix,
  computeBinCuts,
  type SparseRows,
  sparseRows,
} from './binning.js';
import { type FlatTree, TreeEnsemble } from './ensemble.js';
import { aucScore, logLoss } from './metrics.js';
import type { GbdtParams } from './params.js';
import { createPrng, sampleSorted } from './prng.js';
import { type HistogramBackend, serialBackend } from './histogram-backend.js';
import { createThreadedBackend } from './threads.js';
import { TreeGrower } from './tree-grower.js';

export type { HistogramBackend } from './histogram-backend.js';

/** What boosting produced. */
export interface TrainResult {
  ensemble: TreeEnsemble;
  /** 0-based round with the best validation metric (the last round without early stopping). */
  bestIteration: number;
  /** Rounds actually run (may exceed the kept trees when early stopping truncated). */
  roundsRun: number;
  /** Validation metric per round (empty without a validation set). */
  validHistory: number[];
}

const logit = (p: number) => Math.log(p / (1 - p));

/**
 * Gradient boosting for binary:logistic, XGBoost's `hist` algorithm. Deterministic for a seed:
 * all randomness comes from one seeded PRNG, and histograms sum rows in the same order whatever the thread count.
 */
export function trainGbdt(
  X: Matrix,
  y: Labels,
  p: GbdtParams,
  options: FitOptions = {},
  backend?: HistogramBackend,
): TrainResult {
  const hb = backend ?? (p.nthread > 1 ? createThreadedBackend(p.nthread) : serialBackend);
  try {
    return boost(X, y, p, options, hb);
  } finally {
    hb.close();
  }
}

function boost(
  X: Matrix,
  y: Labels,
  p: GbdtParams,
  options: FitOptions,
  backend: HistogramBackend,
): TrainResult {
  const n = X.rows;
  const m = X.cols;
  if (y.length !== n) throw new InputError(`gbdt: ${n} rows but ${y.length} labels`);
  if (n === 0) throw new InputError('gbdt: no training rows');
  const w = options.sampleWeight;
  if (w && w.length !== n) throw new InputError(`gbdt: ${n} rows but ${w.length} sample weights`);
  for (let i = 0; i < n; i++)
    if (y[i] !== 0 && y[i] !== 1) throw new InputError('gbdt: labels must be 0 or 1');
  const valid = options.validation;
  if (valid && valid.X.cols !== m)
    throw new InputError(`gbdt: validation has ${valid.X.cols} columns, training ${m}`);
  if (p.early_stopping_rounds > 0 && (!valid || valid.X.rows === 0)) {
    throw new InputError('gbdt: early_stopping_rounds needs a validation set (tassel train --valid-column COL)');
  }

  const seed = options.seed ?? p.seed;
  const rng = createPrng(seed);
  const cuts = computeBinCuts(X, p.max_bin);
  const bins = binMatrix(cuts, X);
  const { grad, hess, rows } = backend.allocate(n);
  const build = backend.create(cuts, sparseRows(cuts, bins, n), grad, hess, rows);
  const grower = new TreeGrower(cuts, bins, m, n, p, build);

  let baseScore = p.base_score;
  if (baseScore === null) {
    let sw = 0;
    let sy = 0;
    for (let i = 0; i < n; i++) {
      const wi = w ? w[i]! : 1;
      sw += wi;
      sy += wi * y[i]!;
    }
    baseScore = Math.min(1 - 1e-6, Math.max(1e-6, sy / sw));
  }
  const base = logit(baseScore);
  const margin = new Float64Array(n).fill(base);

  const vBins = valid ? binMatrix(cuts, valid.X) : null;
  const vMargin = valid ? new Float64Array(valid.X.rows).fill(base) : null;
  const vProb = valid ? new Float64Array(valid.X.rows) : null;

  const allFeatures = Int32Array.from({ length: m }, (_, i) => i);
  const sampled = new Uint8Array(n);
  const trees: FlatTree[] = [];
  const history: number[] = [];
  const higherIsBetter = p.eval_metric === 'auc';
  let best = Number.NaN;
  let bestIteration = 0;
  const spw = p.scale_pos_weight;
  for (let round = 0; round < p.n_estimators; round++) {
    for (let i = 0; i < n; i++) {
      const z = margin[i]!;
      const pr = z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
      let wi = w ? w[i]! : 1;
      if (y[i] === 1) wi *= spw;
      grad[i] = (pr - y[i]!) * wi;
      hess[i] = Math.max(pr * (1 - pr), 1e-16) * wi;
    }
    let nRoot = n;
    if (p.subsample < 1) {
      nRoot = 0;
      for (let i = 0; i < n; i++) {
        const s = rng.next() < p.subsample ? 1 : 0;
        sampled[i] = s;
        if (s) rows[nRoot++] = i;
      }
    } else for (let i = 0; i < n; i++) rows[i] = i;
    const treeFeatures =
      p.colsample_bytree < 1
        ? sampleSorted(allFeatures, Math.max(1, Math.floor(p.colsample_bytree * m)), rng)
        : null;

    const grown = grower.grow(grad, hess, rows, nRoot, treeFeatures, rng);
    const { tree, splitSlot, leafRanges } = grown;
    trees.push(tree);
    for (let k = 0; k < leafRanges.length; k += 3) {
      const v = tree.value[leafRanges[k]!]!;
      for (let i = leafRanges[k + 1]!; i < leafRanges[k + 2]!; i++) margin[rows[i]!]! += v;
    }
    if (nRoot < n) {
      for (let i = 0; i < n; i++)
        if (!sampled[i]) margin[i]! += binnedLeafValue(tree, splitSlot, cuts, bins, n, i);
    }

    let metrics: Record<string, number> | undefined;
    if (valid && vBins && vMargin && vProb) {
      const vn = valid.X.rows;
      for (let i = 0; i < vn; i++) {
        vMargin[i]! += binnedLeafValue(tree, splitSlot, cuts, vBins, vn, i);
        const z = vMargin[i]!;
        vProb[i] = z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
      }
      const score = higherIsBetter ? aucScore(valid.y, vProb) : logLoss(valid.y, vProb);
      history.push(score);
      metrics = { [`valid_${p.eval_metric}`]: score };
      if (round === 0 || (higherIsBetter ? score > best : score < best)) {
        best = score;
        bestIteration = round;
      }
    } else bestIteration = round;
    options.onIteration?.({ iteration: round + 1, total: p.n_estimators, metrics });
    if (valid && p.early_stopping_rounds > 0 && round - bestIteration >= p.early_stopping_rounds) break;
  }
  const roundsRun = trees.length;
  const kept = valid && p.early_stopping_rounds > 0 ? trees.slice(0, bestIteration + 1) : trees;
  return { ensemble: new TreeEnsemble(kept, base, m), bestIteration, roundsRun, validHistory: history };
}

/** The leaf value row `row` of a column-major binned matrix with n rows reaches (bins <= split slot go left). */
function binnedLeafValue(
  tree: FlatTree,
  splitSlot: Int32Array,
  cuts: BinCuts,
  bins: BinnedRows,
  n: number,
  row: number,
): number {
  const { feature, left, right, defaultLeft, value } = tree;
  let node = 0;
  let f = feature[0]!;
  while (f >= 0) {
    const b = bins[f * n + row]!;
    const missing = cuts.slotOffset[f]! + cuts.nBins[f]!;
    node =
      b === missing
        ? defaultLeft[node]
          ? left[node]!
          : right[node]!
        : b <= splitSlot[node]!
          ? left[node]!
          : right[node]!;
    f = feature[node]!;
  }
  return value[node]!;
}
