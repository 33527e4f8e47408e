import { defaultFeatureSpec } from '../../features/spec.js';
import { canonicalJson } from '../provenance.js';
import { fitTrial, logTrialFit, trialMatrices } from './fit-trial.js';
import { flatParams, selectionScore } from './log-format.js';
import { searchTrials } from './search-trials.js';
import { defineStep, type FittedTrial } from './step.js';

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
      if (trial.tune) {
        const found = await ctx.timed(`search ${trial.name}`, () =>
          searchTrials(ctx, { experimentId, parent, baseTags, derived, data }, trial, f),
        );
        results.push(...found);
        continue;
      }
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
        fitTrial(
          trial,
          trialMatrices(f),
          { train: data.train.y, valid: data.valid.y },
          ctx.config.seed,
          (done, total) => ctx.reporter.progress(label, done, total),
        ),
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
