/** Index of the first non-finite or out-of-range probability, or -1. */
export function firstBadProbability(p: ArrayLike<number>): number {
  for (let i = 0; i < p.length; i++) {
    const v = p[i]!;
    if (!(v >= 0 && v <= 1)) return i;
  }
  return -1;
}
