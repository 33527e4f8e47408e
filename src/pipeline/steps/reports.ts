import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Classifier } from '../../ml/model.js';
import { prCurve, rocCurve } from '../metrics.js';
import { calibrationSvg, prSvg, rocSvg } from '../plots.js';
import { buildReferenceProfile } from '../profile.js';
import { round6 } from './log-format.js';
import { defineStep } from './step.js';

/**
 * Feature importances of the winner: the model's own (GBDT gain/weight/cover, or `importances`), else
 * |coefficient| for linear models (on standardised features), else none.
 */
export function featureImportance(
  model: Classifier,
  summary: Record<string, unknown>,
  names: string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = { model_kind: model.kind };
  for (const [k, v] of Object.entries(summary)) if (k.startsWith('importance')) out[k] = v;
  if (Object.keys(out).length > 1) return out;
  const coef = model.toJSON().coef;
  if (Array.isArray(coef) && coef.length === names.length) {
    const pairs = names.map((n, i) => [n, Math.abs(Number(coef[i]))] as const).sort((a, b) => b[1] - a[1]);
    out.importance_abs_coef = Object.fromEntries(pairs);
    return out;
  }
  out.importances = null;
  return out;
}

/**
 * The explain-ready artifacts next to the bundle: ROC/PR/calibration plots, metrics.json, feature
 * importances, the confusion matrix and the reference profile drift checks compare against. Everything
 * written into `artifacts.dir` before the `log` step is uploaded with the parent run.
 */
export const reportsStep = defineStep({
  name: 'reports',
  inputs: ['winner', 'results', 'features', 'data', 'derived', 'threshold', 'evaluation', 'artifacts'],
  outputs: [],
  report: 'self',
  run({ winner, results, features, data, derived, threshold, evaluation, artifacts }) {
    const { test, p } = evaluation;
    const write = (name: string, body: string) => writeFileSync(join(artifacts.dir, name), body);
    const json = (name: string, value: unknown) => write(name, `${JSON.stringify(value, null, 2)}\n`);
    const roc = rocCurve(data.test.y, p);
    const pr = prCurve(data.test.y, p);
    let positives = 0;
    for (let i = 0; i < data.test.y.length; i++) positives += data.test.y[i]!;
    write('roc.svg', rocSvg(roc.fpr, roc.tpr, test.roc_auc));
    write('pr.svg', prSvg(pr.recall, pr.precision, test.pr_auc, positives / data.test.y.length));
    write(
      'calibration.svg',
      calibrationSvg(
        test.calibration.map((b) => b.mean_predicted),
        test.calibration.map((b) => b.fraction_positive),
        test.ece,
      ),
    );
    json('metrics.json', {
      winner: winner.name,
      kind: winner.kind,
      params: winner.params,
      threshold,
      test,
      candidates: results.map((r) => ({
        name: r.name,
        train: r.train,
        valid: r.valid,
        fit_seconds: round6(r.fitSeconds),
      })),
    });
    const wf = features.get(winner.trial.preset)!;
    json('feature_importance.json', featureImportance(winner.model, winner.summary, wf.ft.feature_names));
    json('confusion_matrix.json', { threshold, ...(test.confusion ?? {}) });
    // the derived table holds the raw inputs (what the prediction log records) and the steps' outputs,
    // so drift can be checked on either
    const pTrain = winner.model.predictProba(wf.train);
    // the test scores and labels let a monitor calibrate (CBPE) and check score drift; the input schema lets
    // it coerce logged requests with the training rules
    json(
      'reference_profile.json',
      buildReferenceProfile(
        derived.train,
        derived.schema,
        pTrain,
        { threshold, scores: p, labels: data.test.y },
        data.modelSchema,
      ),
    );
    return {};
  },
});
