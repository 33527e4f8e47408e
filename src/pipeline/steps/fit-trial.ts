import { TasselError } from '../../errors.js';
import type { Matrix } from '../../ml/matrix.js';
import { type BinaryEvaluation, evaluateBinary } from '../../ml/metrics.js';
import type { Classifier } from '../../ml/model.js';
import type { Trial } from '../candidates.js';
import { firstBadProbability } from '../evaluate.js';
import type { MetricPoint } from '../tracking-port.js';
import { metricPoints, round6 } from './log-format.js';
import type { FeatureMatrices, StepContext } from './step.js';

/** A trial fitted and scored on the training and validation rows (never the test rows). */
export interface TrialFit {
  model: Classifier;
  train: BinaryEvaluation;
  valid: BinaryEvaluation;
  fitSeconds: number;
  summary: Record<string, unknown>;
  /** Per-round metrics the model reported while fitting (valid_/train_ prefixed). */
  history: MetricPoint[];
}

/** What a trial is fitted and scored on: the training and validation matrices only, never the test rows. */
export interface TrialMatrices {
  train: Matrix;
  valid: Matrix;
  featureNames: string[];
}

/** A preset's matrices without the test part. */
export const trialMatrices = (f: FeatureMatrices): TrialMatrices => ({
  train: f.train,
  valid: f.valid,
  featureNames: f.ft.feature_names,
});

/**
 * Fit one trial on the training rows (early stopping on the validation rows) and score both parts.
 * Throws TasselError INVALID_STATE when the model yields a probability outside [0, 1].
 */
export async function fitTrial(
  trial: Pick<Trial, 'name' | 'factory' | 'params'>,
  f: TrialMatrices,
  labels: { train: Uint8Array; valid: Uint8Array },
  seed: number,
  onRound?: (done: number, total: number, metrics?: Record<string, number>) => void,
): Promise<TrialFit> {
  const model = trial.factory.create(trial.params);
  const history: MetricPoint[] = [];
  const t0 = performance.now();
  await model.fit(f.train, labels.train, {
    validation: { X: f.valid, y: labels.valid },
    featureNames: f.featureNames,
    seed,
    onIteration: (info) => {
      onRound?.(Math.min(info.iteration, info.total), info.total, info.metrics);
      for (const [k, v] of Object.entries(info.metrics ?? {}))
        if (Number.isFinite(v))
          history.push({ key: roundMetricKey(k), value: v, step: info.iteration });
    },
  });
  const fitSeconds = (performance.now() - t0) / 1000;
  const pTrain = model.predictProba(f.train);
  const pValid = model.predictProba(f.valid);
  for (const [part, p] of [
    ['training', pTrain],
    ['validation', pValid],
  ] as const) {
    const bad = firstBadProbability(p);
    if (bad >= 0)
      throw new TasselError(
        'INVALID_STATE',
        `candidate ${trial.name} produced an invalid probability (${p[bad]}) for ${part} row ${bad + 1}; the run is failed and nothing is registered`,
      );
  }
  const train = evaluateBinary(labels.train, pTrain, 0.5);
  const valid = evaluateBinary(labels.valid, pValid, 0.5);
  const summary = (model.summary?.() ?? {}) as Record<string, unknown>;
  return { model, train, valid, fitSeconds, summary, history };
}

/** Model-side metric names (XGBoost's eval_metric) -> the names the pipeline logs its metrics under. */
const ROUND_METRIC_NAMES: Record<string, string> = { logloss: 'log_loss', auc: 'roc_auc' };

/**
 * The key of a per-round metric: `valid_logloss` from the GBDT is logged as `valid_log_loss`, the name of the
 * final validation metric, so one metric holds the curve and the final value instead of two spellings.
 */
export function roundMetricKey(k: string): string {
  const m = /^(valid|train)_(.+)$/.exec(k);
  const [part, name] = m ? [m[1]!, m[2]!] : ['valid', k];
  return `${part}_${ROUND_METRIC_NAMES[name] ?? name}`;
}

/**
 * Log a fitted trial's per-round history and final metrics to its child run. A metric with a per-round
 * history (steps 1..N) gets its final value (the model as kept, after early stopping) at step N + 1, so it is
 * the metric's latest value; the others are logged at step 0.
 */
export async function logTrialFit(ctx: StepContext, runId: string, fit: TrialFit): Promise<void> {
  const lastRound = new Map<string, number>();
  for (const h of fit.history) lastRound.set(h.key, Math.max(lastRound.get(h.key) ?? 0, h.step ?? 0));
  const final = (points: MetricPoint[]) =>
    points.map((m) => {
      const last = lastRound.get(m.key);
      return last === undefined ? m : { ...m, step: last + 1 };
    });
  const metrics: MetricPoint[] = [
    ...final(metricPoints('train', fit.train)),
    ...final(metricPoints('valid', fit.valid)),
    { key: 'fit_seconds', value: round6(fit.fitSeconds), step: 0 },
  ];
  for (const [k, v] of Object.entries(fit.summary))
    if (typeof v === 'number' && Number.isFinite(v)) metrics.push({ key: k, value: v, step: 0 });
  for (let i = 0; i < fit.history.length; i += 1000)
    await ctx.tracking.logBatch(runId, { metrics: fit.history.slice(i, i + 1000) });
  await ctx.tracking.logBatch(runId, { metrics });
}
