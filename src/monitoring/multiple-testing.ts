/**
 * Multiple-testing corrections across the features of one window, so that checking 40 features at level
 * alpha does not alarm on 1 - (1 - alpha)^40 = 87 % of windows drawn from the reference distribution.
 */

/** Which correction: Holm (controls the family-wise error rate), Benjamini-Hochberg (false discovery rate), none. */
export type Correction = 'holm' | 'bh' | 'none';

/** The known corrections (for config validation and --help). */
export const CORRECTIONS: readonly Correction[] = ['holm', 'bh', 'none'];

/**
 * Adjusted p-values in the input order (as statsmodels' multipletests): comparing an adjusted p-value with
 * alpha gives the procedure's decision. NaN p-values (tests that could not run) stay NaN and do not count.
 */
export function adjustPValues(pvalues: readonly number[], method: Correction): number[] {
  const idx = pvalues.map((_, i) => i).filter((i) => Number.isFinite(pvalues[i]!));
  const m = idx.length;
  const out = pvalues.map(() => Number.NaN);
  if (method === 'none') {
    for (const i of idx) out[i] = pvalues[i]!;
    return out;
  }
  if (method === 'holm') {
    idx.sort((a, b) => pvalues[a]! - pvalues[b]!);
    let running = 0;
    idx.forEach((i, k) => {
      running = Math.max(running, Math.min(1, (m - k) * pvalues[i]!));
      out[i] = running;
    });
    return out;
  }
  idx.sort((a, b) => pvalues[b]! - pvalues[a]!);
  let running = 1;
  idx.forEach((i, k) => {
    const rank = m - k;
    running = Math.min(running, (m / rank) * pvalues[i]!);
    out[i] = Math.min(1, running);
  });
  return out;
}
