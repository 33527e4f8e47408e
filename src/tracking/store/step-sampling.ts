/**
 * MLflow's `_get_sampled_steps_from_steps`: of the sorted `allSteps` within [start, end], all of them when
 * there are at most `max`, else `max` picks at a fixed interval from the first, plus the last. For 10
 * steps and max 5: 0, 2, 4, 6, 8, 9. (MLflow compares the index with the count of steps in range, not
 * with the range's end; kept for identical answers.)
 */
export function sampledSteps(start: number, end: number, max: number, allSteps: number[]): Set<number> {
  const startIdx = lowerBound(allSteps, start);
  const endIdx = upperBound(allSteps, end);
  if (endIdx - startIdx <= max) return new Set(allSteps.slice(startIdx, endIdx));
  const count = endIdx - startIdx;
  const interval = count / max;
  const out = new Set<number>();
  for (let i = 0; i < max; i++) {
    const idx = startIdx + Math.floor(i * interval);
    if (idx < count) out.add(allSteps[idx]);
  }
  out.add(allSteps[endIdx - 1]);
  return out;
}

/**
 * The steps get-history-bulk-interval returns for every run, as MLflow's handler picks them: sampled over
 * the union of the runs' steps within [start, end] (default 0 to the largest step), plus each run's first
 * and last step within that range, ascending.
 */
export function bulkIntervalSteps(
  stepsPerRun: number[][],
  max: number,
  range?: { start: number; end: number },
): number[] {
  const all = [...new Set(stepsPerRun.flat())].sort((a, b) => a - b);
  const start = range?.start ?? 0;
  const end = range?.end ?? (all.length ? all[all.length - 1] : 0);
  const chosen = sampledSteps(start, end, max, all);
  for (const steps of stepsPerRun) {
    if (!steps.length) continue;
    for (const s of [Math.min(...steps), Math.max(...steps)]) if (s >= start && s <= end) chosen.add(s);
  }
  return [...chosen].sort((a, b) => a - b);
}

/** First index whose value is >= x (bisect_left). */
function lowerBound(sorted: number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is > x (bisect_right). */
function upperBound(sorted: number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
