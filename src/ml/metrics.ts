import { InputError } from '../errors.js';
import type { Labels } from './model.js';

/** Binary classification metrics, with scikit-learn's definitions (checked against a fixture it produced). */

function checkInputs(y: ArrayLike<number>, p: ArrayLike<number>): void {
  if (y.length !== p.length) throw new InputError(`metrics: ${y.length} labels but ${p.length} scores`);
  if (y.length === 0) throw new InputError('metrics: no rows to evaluate');
}

/** Row order by descending score (stable). */
function descendingOrder(p: ArrayLike<number>): Uint32Array {
  const idx = new Uint32Array(p.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  return idx.sort((a, b) => p[b]! - p[a]! || a - b);
}

/**
 * Cumulative true/false positives at each distinct score, from the highest: scikit-learn's
 * `_binary_clf_curve` (tied scores form one threshold).
 */
function binaryCurve(
  y: ArrayLike<number>,
  p: ArrayLike<number>,
): { tps: number[]; fps: number[]; thresholds: number[] } {
  const order = descendingOrder(p);
  const tps: number[] = [];
  const fps: number[] = [];
  const thresholds: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    if (y[i]) tp++;
    else fp++;
    const next = k + 1 < order.length ? p[order[k + 1]!]! : Number.NaN;
    if (next !== p[i]) {
      tps.push(tp);
      fps.push(fp);
      thresholds.push(p[i]!);
    }
  }
  return { tps, fps, thresholds };
}

/** Area under the ROC curve (trapezoids over distinct thresholds, so ties count half). NaN with one class. */
export function rocAuc(y: ArrayLike<number>, p: ArrayLike<number>): number {
  checkInputs(y, p);
  const { tps, fps } = binaryCurve(y, p);
  const P = tps[tps.length - 1]!;
  const N = fps[fps.length - 1]!;
  if (P === 0 || N === 0) return Number.NaN;
  let area = 0;
  let prevTp = 0;
  let prevFp = 0;
  for (let k = 0; k < tps.length; k++) {
    area += ((fps[k]! - prevFp) * (tps[k]! + prevTp)) / 2;
    prevTp = tps[k]!;
    prevFp = fps[k]!;
  }
  return area / (P * N);
}

/** Average precision (scikit-learn's PR AUC): sum over thresholds of (R_n - R_{n-1}) * P_n. NaN without positives. */
export function averagePrecision(y: ArrayLike<number>, p: ArrayLike<number>): number {
  checkInputs(y, p);
  const { tps, fps } = binaryCurve(y, p);
  const P = tps[tps.length - 1]!;
  if (P === 0) return Number.NaN;
  let ap = 0;
  let prevRecall = 0;
  for (let k = 0; k < tps.length; k++) {
    const recall = tps[k]! / P;
    const precision = tps[k]! / (tps[k]! + fps[k]!);
    ap += (recall - prevRecall) * precision;
    prevRecall = recall;
  }
  return ap;
}

/** Mean binary cross-entropy with probabilities clipped to [eps, 1 - eps]. */
export function logLoss(y: ArrayLike<number>, p: ArrayLike<number>, eps = 1e-15): number {
  checkInputs(y, p);
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    const q = Math.min(1 - eps, Math.max(eps, p[i]!));
    s -= y[i] ? Math.log(q) : Math.log(1 - q);
  }
  return s / y.length;
}

/** Mean squared difference between probability and label. */
export function brierScore(y: ArrayLike<number>, p: ArrayLike<number>): number {
  checkInputs(y, p);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += (p[i]! - y[i]!) ** 2;
  return s / y.length;
}

/** Counts at a threshold: predicted positive when p >= threshold. */
export interface Confusion {
  tn: number;
  fp: number;
  fn: number;
  tp: number;
}

export function confusionAt(y: ArrayLike<number>, p: ArrayLike<number>, threshold: number): Confusion {
  checkInputs(y, p);
  const c: Confusion = { tn: 0, fp: 0, fn: 0, tp: 0 };
  for (let i = 0; i < y.length; i++) {
    const pred = p[i]! >= threshold;
    if (y[i]) pred ? c.tp++ : c.fn++;
    else pred ? c.fp++ : c.tn++;
  }
  return c;
}

/** accuracy, precision, recall and F1 from counts (0 where undefined, as zero_division=0). */
export function rates(c: Confusion): { accuracy: number; precision: number; recall: number; f1: number } {
  const n = c.tn + c.fp + c.fn + c.tp;
  const precision = c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : 0;
  const recall = c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : 0;
  const f1 = 2 * c.tp + c.fp + c.fn > 0 ? (2 * c.tp) / (2 * c.tp + c.fp + c.fn) : 0;
  return { accuracy: n ? (c.tp + c.tn) / n : 0, precision, recall, f1 };
}

/** One reliability-diagram bin (empty bins are left out, as scikit-learn's calibration_curve). */
export interface CalibrationBin {
  lower: number;
  upper: number;
  count: number;
  mean_predicted: number;
  fraction_positive: number;
}

/**
 * Uniform calibration bins over [0, 1] with scikit-learn's edges (bin k holds (k/n, (k+1)/n], the first also 0)
 * and the expected calibration error: sum over bins of count/N * |fraction_positive - mean_predicted|.
 */
export function calibrationBins(
  y: ArrayLike<number>,
  p: ArrayLike<number>,
  nBins = 10,
): { bins: CalibrationBin[]; ece: number } {
  checkInputs(y, p);
  const step = 1 / nBins;
  const edges = Array.from({ length: nBins + 1 }, (_, i) => i * step);
  edges[nBins] = 1;
  const count = new Float64Array(nBins);
  const sumP = new Float64Array(nBins);
  const sumY = new Float64Array(nBins);
  for (let i = 0; i < y.length; i++) {
    const v = p[i]!;
    // searchsorted(edges[1:-1], v, side='left')
    let b = 0;
    while (b < nBins - 1 && edges[b + 1]! < v) b++;
    count[b]++;
    sumP[b] += v;
    sumY[b] += y[i]!;
  }
  const bins: CalibrationBin[] = [];
  let ece = 0;
  for (let b = 0; b < nBins; b++) {
    if (!count[b]) continue;
    const bin = {
      lower: edges[b]!,
      upper: edges[b + 1]!,
      count: count[b]!,
      mean_predicted: sumP[b]! / count[b]!,
      fraction_positive: sumY[b]! / count[b]!,
    };
    bins.push(bin);
    ece += (bin.count / y.length) * Math.abs(bin.fraction_positive - bin.mean_predicted);
  }
  return { bins, ece };
}

/** How to pick the decision threshold: the one maximising F1 on (y, p), or a given number. */
export type ThresholdChoice = 'max_f1' | number;

/**
 * The threshold for `label = p >= threshold`. With 'max_f1' it tries every distinct score and returns the one
 * with the highest F1 (the highest threshold among equals).
 */
export function chooseThreshold(
  y: ArrayLike<number>,
  p: ArrayLike<number>,
  choice: ThresholdChoice = 0.5,
): number {
  if (typeof choice === 'number') {
    if (!(choice >= 0 && choice <= 1)) throw new InputError(`threshold must be in [0, 1], got ${choice}`);
    return choice;
  }
  if (choice !== 'max_f1')
    throw new InputError(`unknown threshold choice ${JSON.stringify(choice)}; use max_f1 or a number`);
  checkInputs(y, p);
  const { tps, fps, thresholds } = binaryCurve(y, p);
  const P = tps[tps.length - 1]!;
  let best = 0.5;
  let bestF1 = -1;
  for (let k = 0; k < tps.length; k++) {
    const fn = P - tps[k]!;
    const f1 = tps[k]! > 0 ? (2 * tps[k]!) / (2 * tps[k]! + fps[k]! + fn) : 0;
    if (f1 > bestF1) {
      bestF1 = f1;
      best = thresholds[k]!;
    }
  }
  return best;
}

/** Everything `tassel train` reports for a set of predictions. */
export interface BinaryEvaluation {
  roc_auc: number;
  pr_auc: number;
  log_loss: number;
  brier: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  ece: number;
  confusion: Confusion;
  threshold: number;
  n: number;
  positive_rate: number;
  calibration: CalibrationBin[];
}

/** All metrics at a threshold (label = p >= threshold). */
export function evaluateBinary(
  y: Labels | ArrayLike<number>,
  p: ArrayLike<number>,
  threshold = 0.5,
): BinaryEvaluation {
  checkInputs(y, p);
  const confusion = confusionAt(y, p, threshold);
  const { bins, ece } = calibrationBins(y, p);
  let pos = 0;
  for (let i = 0; i < y.length; i++) pos += y[i]!;
  return {
    roc_auc: rocAuc(y, p),
    pr_auc: averagePrecision(y, p),
    log_loss: logLoss(y, p),
    brier: brierScore(y, p),
    ...rates(confusion),
    ece,
    confusion,
    threshold,
    n: y.length,
    positive_rate: pos / y.length,
    calibration: bins,
  };
}

/** The scalar metrics of an evaluation (for tracking: metric name -> value). */
export function scalarMetrics(e: BinaryEvaluation): Record<string, number> {
  return {
    roc_auc: e.roc_auc,
    pr_auc: e.pr_auc,
    log_loss: e.log_loss,
    brier: e.brier,
    accuracy: e.accuracy,
    precision: e.precision,
    recall: e.recall,
    f1: e.f1,
    ece: e.ece,
    threshold: e.threshold,
  };
}
