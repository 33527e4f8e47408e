import { type BinaryEvaluation, scalarMetrics } from '../../ml/metrics.js';
import type { PipelineConfig } from '../config.js';
import type { MetricPoint } from '../tracking-port.js';

/** Six decimals for logged figures that would otherwise carry timer noise. */
export function round6(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : x;
}

/** Metric points for a metrics object, flattening numbers only (confusion matrix etc. stay in JSON). */
export function metricPoints(prefix: string, m: BinaryEvaluation): MetricPoint[] {
  const out: MetricPoint[] = [];
  for (const [k, v] of Object.entries(scalarMetrics(m)))
    if (Number.isFinite(v)) out.push({ key: `${prefix}_${k}`, value: v, step: 0 });
  return out;
}

/** Parameters as MLflow params: strings as they are, everything else as JSON. */
export function flatParams(prefix: string, params: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params))
    out[`${prefix}${k}`] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

/** The validation score trials are ranked by (higher is better). */
export function selectionScore(metric: PipelineConfig['selection_metric'], m: BinaryEvaluation): number {
  if (metric === 'neg_log_loss') return -m.log_loss;
  return metric === 'pr_auc' ? m.pr_auc : m.roc_auc;
}
