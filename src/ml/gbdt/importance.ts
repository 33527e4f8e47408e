import type { FlatTree } from './ensemble.js';

/** XGBoost's importance types: weight (split count), gain/cover (averages per split), total_gain/total_cover. */
export type ImportanceType = 'weight' | 'gain' | 'cover' | 'total_gain' | 'total_cover';

/** All importance types, for validation. */
export const IMPORTANCE_TYPES: readonly ImportanceType[] = [
  'weight',
  'gain',
  'cover',
  'total_gain',
  'total_cover',
];

/**
 * Feature importances as XGBoost's `get_score(importance_type)` defines them, keyed by feature name
 * (`f<index>` when unnamed); features never used in a split are absent. Sorted by decreasing value.
 */
export function featureImportances(
  trees: readonly FlatTree[],
  type: ImportanceType,
  featureNames: readonly string[] | null,
  nFeatures: number,
): Record<string, number> {
  const count = new Float64Array(nFeatures);
  const gain = new Float64Array(nFeatures);
  const cover = new Float64Array(nFeatures);
  for (const t of trees) {
    for (let i = 0; i < t.feature.length; i++) {
      const f = t.feature[i]!;
      if (f < 0) continue;
      count[f]!++;
      gain[f]! += t.gain[i]!;
      cover[f]! += t.cover[i]!;
    }
  }
  const entries: Array<[string, number]> = [];
  for (let f = 0; f < nFeatures; f++) {
    if (count[f] === 0) continue;
    const c = count[f]!;
    const v =
      type === 'weight'
        ? c
        : type === 'gain'
          ? gain[f]! / c
          : type === 'cover'
            ? cover[f]! / c
            : type === 'total_gain'
              ? gain[f]!
              : cover[f]!;
    entries.push([featureNames?.[f] ?? `f${f}`, v]);
  }
  entries.sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(entries);
}
