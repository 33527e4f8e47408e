import { TasselError } from '../../errors.js';
import { defaultFeatureSpec } from '../../features/spec.js';
import { parseSearchSpace, type DimensionConfig } from '../../ml/search/space.js';
import type { Trial } from '../candidates.js';
import { canonicalJson } from '../provenance.js';
import { halvingRungs, runSearch, type SearchPlan, type SearchTrial } from '../search/run-search.js';
import { createTrialPool } from '../search/trial-pool.js';
import type { TrialSetup } from '../search/trial-job.js';
import { flatParams, selectionScore } from './log-format.js';
import type { FeatureMatrices, FittedTrial, PipelineState, StepContext } from './step.js';
import { logTrialFit, trialMatrices } from './fit-trial.js';
import { searchEnsemble } from './search-ensemble.js';

/** The search plan of a tuned trial from its config (rungs below the trial's n_estimators). */
export function searchPlan(trial: Trial, seed: number): SearchPlan {
  const t = trial.tune!;
  const rounds = Number(trial.params.n_estimators ?? 100);
  return {
    strategy: t.strategy,
    space: parseSearchSpace(t.space as Record<string, DimensionConfig>, `${trial.name}.tune.space`),
    base: trial.params,
    trials: t.trials,
    maxSeconds: t.max_seconds ?? null,
    batch: t.batch,
    seed: t.seed ?? seed,
    pruning:
      t.pruning === 'halving'
        ? {
            rungs: halvingRungs(t.min_rounds, t.eta, rounds),
            keep: 1 / t.eta,
            minTrials: Math.max(2, t.batch),
          }
        : null,
  };
}

const trialName = (trial: Trial, n: number) => `${trial.candidate}#${String(n + 1).padStart(3, '0')}`;

/** Log one search trial as a child run (Optuna's MLflowCallback: params, value, state as tags). */
async function logSearchTrial(
  ctx: StepContext,
  s: Pick<PipelineState, 'experimentId' | 'parent' | 'baseTags' | 'derived'>,
  trial: Trial,
  f: FeatureMatrices,
  t: SearchTrial,
): Promise<string> {
  const name = trialName(trial, t.number);
  const o = t.outcome;
  const child = await ctx.startRun(s.experimentId, name, {
    ...s.baseTags,
    'mlflow.parentRunId': s.parent.runId,
    'mlflow.runName': name,
    'tassel.candidate': trial.candidate,
    'tassel.search.strategy': trial.tune!.strategy,
    'tassel.search.trial': String(t.number),
    'tassel.search.state': o.status.toUpperCase(),
    ...(o.prunedAt !== undefined ? { 'tassel.search.pruned_at_round': String(o.prunedAt) } : {}),
    ...(o.error ? { 'tassel.error': o.error.slice(0, 4900) } : {}),
    ...(trial.module ? { 'tassel.candidate.module': trial.module } : {}),
  });
  await ctx.tracking.logBatch(child.runId, {
    params: {
      model_kind: trial.factory.kind,
      feature_preset: trial.preset,
      feature_spec: canonicalJson(defaultFeatureSpec(s.derived.schema, { preset: trial.preset })).slice(
        0,
        6000,
      ),
      n_features: String(f.ft.width),
      ...flatParams('', t.params),
    },
    metrics: o.rungScores.flatMap((v, k) =>
      v === null ? [] : [{ key: 'search_rung_score', value: v, step: k }],
    ),
  });
  if (o.fit) await logTrialFit(ctx, child.runId, { ...o.fit, model: trial.factory.fromJSON(o.fit.model) });
  await ctx.endRun(child.runId, o.status === 'failed' ? 'FAILED' : 'FINISHED');
  return child.runId;
}

/**
 * Run a tuned candidate's search on worker threads: every trial a child run; the complete ones come back
 * as fitted trials for selection. The workers get the training and validation rows only.
 */
export async function searchTrials(
  ctx: StepContext,
  s: Pick<PipelineState, 'experimentId' | 'parent' | 'baseTags' | 'derived' | 'data'>,
  trial: Trial,
  f: FeatureMatrices,
): Promise<FittedTrial[]> {
  const plan = searchPlan(trial, ctx.config.seed);
  const setup: TrialSetup = {
    ...(trial.module ? { module: trial.module } : { kind: trial.factory.kind }),
    matrices: trialMatrices(f),
    labels: { train: s.data.train.y, valid: s.data.valid.y },
    seed: ctx.config.seed,
  };
  const label = `search ${trial.name}`;
  const out: FittedTrial[] = [];
  const score = (fit: NonNullable<SearchTrial['outcome']['fit']>) =>
    selectionScore(ctx.config.selection_metric, fit.valid);
  const pool = await createTrialPool(setup, trial.tune!.workers);
  try {
    const all = await runSearch(
      plan,
      pool,
      (o) => score(o.fit!),
      async (batch) => {
        for (const t of batch) {
          const runId = await logSearchTrial(ctx, s, trial, f, t);
          const fit = t.outcome.fit;
          if (!fit) continue;
          out.push({
            name: trialName(trial, t.number),
            candidate: trial.candidate,
            kind: trial.factory.kind,
            params: t.params,
            runId,
            train: fit.train,
            valid: fit.valid,
            selectionScore: score(fit),
            fitSeconds: fit.fitSeconds,
            summary: fit.summary,
            model: trial.factory.fromJSON(fit.model),
            trial: { ...trial, name: trialName(trial, t.number), params: t.params },
          });
        }
        ctx.reporter.progress(label, batch.at(-1)!.number + 1, plan.trials);
      },
      (n) => trialName(trial, n),
    );
    const pruned = all.filter((t) => t.outcome.status === 'pruned').length;
    const failed = all.filter((t) => t.outcome.status === 'failed');
    ctx.reporter.info(
      `  ${trial.name}: ${plan.strategy} search, ${all.length} trials (${out.length} complete, ${pruned} pruned, ${failed.length} failed)`,
    );
    if (out.length === 0)
      throw new TasselError(
        'INVALID_STATE',
        `search ${trial.name}: no trial completed${failed[0] ? ` (first error: ${failed[0].outcome.error})` : ''}`,
      );
    const k = trial.tune!.ensemble_top;
    if (k !== undefined) {
      const ens = await logEnsemble(ctx, s, trial, f, out, k);
      if (ens) out.push(ens);
    }
    return out;
  } finally {
    await pool.close();
  }
}

/**
 * The average of the search's best `k` trials (by validation score) as one more fitted trial, logged as the
 * child run `CANDIDATE#topK` (tag `tassel.search.state` ENSEMBLE, its members in
 * `tassel.search.ensemble_members`). Null (nothing logged) with fewer than two complete GBDT trials.
 */
async function logEnsemble(
  ctx: StepContext,
  s: Pick<PipelineState, 'experimentId' | 'parent' | 'baseTags' | 'data'>,
  trial: Trial,
  f: FeatureMatrices,
  fitted: readonly FittedTrial[],
  k: number,
): Promise<FittedTrial | null> {
  const t0 = performance.now();
  const ens = searchEnsemble(fitted, k, trialMatrices(f), { train: s.data.train.y, valid: s.data.valid.y });
  if (!ens) return null;
  const fitSeconds = (performance.now() - t0) / 1000;
  const name = `${trial.candidate}#top${ens.members.length}`;
  const members = ens.members.join(',');
  const child = await ctx.startRun(s.experimentId, name, {
    ...s.baseTags,
    'mlflow.parentRunId': s.parent.runId,
    'mlflow.runName': name,
    'tassel.candidate': trial.candidate,
    'tassel.search.strategy': trial.tune!.strategy,
    'tassel.search.state': 'ENSEMBLE',
    'tassel.search.ensemble_members': members.slice(0, 4900),
  });
  const params = { ensemble_members: members, ensemble_size: ens.members.length };
  await ctx.tracking.logBatch(child.runId, {
    params: {
      model_kind: 'gbdt',
      feature_preset: trial.preset,
      n_features: String(f.ft.width),
      ...flatParams('', params),
    },
  });
  const summary = ens.model.summary();
  await logTrialFit(ctx, child.runId, { ...ens, fitSeconds, summary, history: [] });
  await ctx.endRun(child.runId, 'FINISHED');
  const best = fitted.find((x) => x.name === ens.members[0])!;
  ctx.reporter.info(
    `  ${name}: valid roc_auc ${ens.valid.roc_auc.toFixed(4)} log_loss ${ens.valid.log_loss.toFixed(4)} (average of ${members})`,
  );
  return {
    name,
    candidate: trial.candidate,
    kind: 'gbdt',
    params,
    runId: child.runId,
    train: ens.train,
    valid: ens.valid,
    selectionScore: selectionScore(ctx.config.selection_metric, ens.valid),
    fitSeconds,
    summary,
    model: ens.model,
    trial: { ...best.trial, name },
  };
}
