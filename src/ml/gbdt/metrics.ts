/**
 * The two early-stopping metrics, computed per boosting round on the validation set
 * (kept here so the engine does not depend on the wider metrics module).
 */

/** Mean binary log loss, probabilities clipped to [1e-15, 1 - 1e-15] as scikit-learn does. */
export function logLoss(y: ArrayLike<number>, p: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    const q = Math.min(1 - 1e-15, Math.max(1e-15, p[i]!));
    s -= y[i] === 1 ? Math.log(q) : Math.log(1 - q);
  }
  return s / y.length;
}

/** ROC AUC by the rank-sum (Mann-Whitney) formula, ties sharing their average rank; 0.5 if one class is absent. */
export function aucScore(y: ArrayLike<number>, p: ArrayLike<number>): number {
  const n = y.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => p[a]! - p[b]!);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && p[order[j + 1]!] === p[order[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (y[order[k]!] === 1) {
        pos++;
        rankSum += rank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return 0.5;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}
