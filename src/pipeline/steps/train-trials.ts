import { TasselError } from '../../errors.js';
import { defaultFeatureSpec } from '../../features/spec.js';
import { type BinaryEvaluation, evaluateBinary } from '../../ml/metrics.js';
import type { Classifier } from '../../ml/model.js';
import type { Trial } from '../candidates.js';
import type { DataPart } from '../data-step.js';
import { firstBadProbability } from '../evaluate.js';
import { canonicalJson } from '../provenance.js';
import type { MetricPoint } from '../tracking-port.js';
import { flatParams, metricPoints, round6, selectionScore } from './log-format.js';
import { defineStep, type FeatureMatrices, type FittedTrial, type StepContext } from './step.js';

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

/**
 * Fit one trial on the training rows (early stopping on the validation rows) and score both parts.
 * Throws TasselError INVALID_STATE when the model yields a probability outside [0, 1].
 */
export async function fitTrial(
  trial: Trial,
  f: FeatureMatrices,
  parts: { train: DataPart; valid: DataPart },
  seed: number,
  onRound?: (done: number, total: number) => void,
): Promise<TrialFit> {
  const model = trial.factory.create(trial.params);
  const history: MetricPoint[] = [];
  const t0 = performance.now();
  await model.fit(f.train, parts.train.y, {
    validation: { X: f.valid, y: parts.valid.y },
    featureNames: f.ft.feature_names,
    seed,
    onIteration: (info) => {
      onRound?.(Math.min(info.iteration, info.total), info.total);
      for (const [k, v] of Object.entries(info.metrics ?? {}))
        if (Number.isFinite(v))
          history.push({ key: /^(valid|train)_/.test(k) ? k : `valid_${k}`, value: v, step: info.iteration });
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
  const train = evaluateBinary(parts.train.y, pTrain, 0.5);
  const valid = evaluateBinary(parts.valid.y, pValid, 0.5);
  const summary = (model.summary?.() ?? {}) as Record<string, unknown>;
  return { model, train, valid, fitSeconds, summary, history };
}

/** Log a fitted trial's per-round history and final metrics to its child run. */
export async function logTrialFit(ctx: StepContext, runId: string, fit: TrialFit): Promise<void> {
  const metrics: MetricPoint[] = [
    ...metricPoints('train', fit.train),
    ...metricPoints('valid', fit.valid),
    { key: 'fit_seconds', value: round6(fit.fitSeconds), step: 0 },
  ];
  for (const [k, v] of Object.entries(fit.summary))
    if (typeof v === 'number' && Number.isFinite(v)) metrics.push({ key: k, value: v, step: 0 });
  for (let i = 0; i < fit.history.length; i += 1000)
    await ctx.tracking.logBatch(runId, { metrics: fit.history.slice(i, i + 1000) });
  await ctx.tracking.logBatch(runId, { metrics });
}

/** Train every trial in its own child run (MLflow's nested runs), in config order. */
export const trainTrialsStep = defineStep({
  name: 'train',
  inputs: ['experimentId', 'parent', 'baseTags', 'trials', 'data', 'features', 'derived'],
  outputs: ['results'],
  report: 'self',
  async run({ experimentId, parent, baseTags, trials, data, features, derived }, ctx) {
    const results: FittedTrial[] = [];
    for (const trial of trials) {
      const f = features.get(trial.preset)!;
      const child = await ctx.startRun(experimentId, trial.name, {
        ...baseTags,
        'mlflow.parentRunId': parent.runId,
        'mlflow.runName': trial.name,
        'tassel.candidate': trial.candidate,
        ...(trial.module ? { 'tassel.candidate.module': trial.module } : {}),
      });
      await ctx.tracking.logBatch(child.runId, {
        params: {
          model_kind: trial.factory.kind,
          feature_preset: trial.preset,
          feature_spec: canonicalJson(defaultFeatureSpec(derived.schema, { preset: trial.preset })).slice(
            0,
            6000,
          ),
          n_features: String(f.ft.width),
          ...flatParams('', trial.params),
        },
      });
      const label = `train ${trial.name}`;
      const fit = await ctx.timed(label, () =>
        fitTrial(trial, f, data, ctx.config.seed, (done, total) => ctx.reporter.progress(label, done, total)),
      );
      await logTrialFit(ctx, child.runId, fit);
      await ctx.endRun(child.runId, 'FINISHED');
      results.push({
        name: trial.name,
        candidate: trial.candidate,
        kind: trial.factory.kind,
        params: trial.params,
        runId: child.runId,
        train: fit.train,
        valid: fit.valid,
        selectionScore: selectionScore(ctx.config.selection_metric, fit.valid),
        fitSeconds: fit.fitSeconds,
        summary: fit.summary,
        model: fit.model,
        trial,
      });
      ctx.reporter.info(
        `  ${trial.name}: valid roc_auc ${fit.valid.roc_auc.toFixed(4)} log_loss ${fit.valid.log_loss.toFixed(4)} (${fit.fitSeconds.toFixed(2)} s)`,
      );
    }
    return { results };
  },
});
