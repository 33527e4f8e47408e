/**
 * An example feature step supplied by an ML engineer, outside platform code: the share of assignments
 * submitted, and equal-frequency bands of time spent whose edges are learnt from the training rows only.
 * `pipeline.yaml` references it; the pipeline fits it, logs it, copies this file into the model bundle and
 * applies it before the feature transform in training, `tassel predict` and serving.
 */
// types only (erased at run time), so the copy in the bundle needs nothing from this repository
import type { FeatureRecord, FeatureStep } from '../../../src/features/feature-step.js';

const num = (r: FeatureRecord, k: string) => (typeof r[k] === 'number' ? (r[k] as number) : null);
const engagement: FeatureStep<{ edges: number[] }, { bands?: number }> = {
  outputs: [{ name: 'submission_rate', kind: 'numeric' }, { name: 'time_band', kind: 'categorical' }],
  fit(rows, { params }) {                      // training rows only; the result is stored in the bundle
    const h = rows.map((r) => num(r, 'Time_Spent_Hours')).filter((v) => v !== null).sort((a, b) => a - b);
    const bands = params.bands ?? 3;
    return { edges: Array.from({ length: bands - 1 }, (_, k) => h[Math.floor(((k + 1) * h.length) / bands)]) };
  },
  transform(row, { state }) {
    const done = num(row, 'Assignments_Submitted') ?? 0;
    const total = done + (num(row, 'Assignments_Missed') ?? 0);
    const hours = num(row, 'Time_Spent_Hours');
    return {
      submission_rate: total === 0 ? null : done / total,
      time_band: hours === null ? null : `band${state.edges.filter((e) => hours >= e).length}`,
    };
  },
};
export default engagement;
