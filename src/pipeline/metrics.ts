/**
 * The curves behind the run's plots (ROC and precision-recall points at every distinct score); the
 * metrics themselves come from src/ml/metrics.ts.
 */

/** Row order by descending score (stable), shared by the AUC and curve computations. */
function orderByScore(p: ArrayLike<number>): Uint32Array {
  const idx = new Uint32Array(p.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  return idx.sort((a, b) => p[b]! - p[a]! || a - b);
}

/** Cumulative (fp, tp) at each distinct score threshold, descending. */
function thresholdPoints(y: ArrayLike<number>, p: ArrayLike<number>) {
  const order = orderByScore(p);
  const fps: number[] = [];
  const tps: number[] = [];
  const thresholds: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    if (y[i]) tp++;
    else fp++;
    const next = order[k + 1];
    if (next === undefined || p[next]! !== p[i]!) {
      fps.push(fp);
      tps.push(tp);
      thresholds.push(p[i]!);
    }
  }
  return { fps, tps, thresholds, pos: tp, neg: fp };
}

/** ROC curve points (starting at 0,0) and the thresholds. */
export function rocCurve(
  y: ArrayLike<number>,
  p: ArrayLike<number>,
): { fpr: number[]; tpr: number[]; thresholds: number[] } {
  const t = thresholdPoints(y, p);
  const fpr = [0];
  const tpr = [0];
  for (let k = 0; k < t.fps.length; k++) {
    fpr.push(t.neg ? t.fps[k]! / t.neg : 0);
    tpr.push(t.pos ? t.tps[k]! / t.pos : 0);
  }
  return { fpr, tpr, thresholds: [Number.POSITIVE_INFINITY, ...t.thresholds] };
}

/** Precision-recall points (recall ascending, starting at recall 0, precision 1). */
export function prCurve(
  y: ArrayLike<number>,
  p: ArrayLike<number>,
): { recall: number[]; precision: number[]; thresholds: number[] } {
  const t = thresholdPoints(y, p);
  const recall = [0];
  const precision = [1];
  for (let k = 0; k < t.fps.length; k++) {
    recall.push(t.pos ? t.tps[k]! / t.pos : 0);
    precision.push(t.tps[k]! / (t.tps[k]! + t.fps[k]!));
  }
  return { recall, precision, thresholds: [Number.POSITIVE_INFINITY, ...t.thresholds] };
}
