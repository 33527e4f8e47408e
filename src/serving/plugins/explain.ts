import { Type } from '@sinclair/typebox';
import {
  checkInteractionsSize,
  ExplainQuery,
  ExplanationSchema,
  explainRequested,
} from '../explain-schemas.js';
import { explainRecordWith, type ServedExplanation, sendExplained } from '../explain-step.js';
import { BatchBody, ModelRef } from '../schemas.js';
import { requireModel } from '../scoring.js';
import { JSON_ERRORS, type ServingPlugin } from './context.js';

const ExplainResponse = Type.Object({
  explanations: Type.Array(
    Type.Object({ probability: Type.Number(), label: Type.Integer(), explanation: ExplanationSchema }),
  ),
  summary: Type.Object(
    {
      base_value: Type.Number(),
      features: Type.Array(Type.Object({ field: Type.String(), mean_abs: Type.Number() }), {
        description: 'Mean |contribution| of each field over the posted records, largest first.',
      }),
    },
    { description: 'The global view of the posted records: which fields matter most, in margin units.' },
  ),
  threshold: Type.Number(),
  model: ModelRef,
});

/** Mean |contribution| per field over explanations, largest first. */
function meanAbs(explanations: readonly ServedExplanation[]): { field: string; mean_abs: number }[] {
  const sums = new Map<string, number>();
  for (const e of explanations) {
    for (const [f, v] of Object.entries(e.contributions)) sums.set(f, (sums.get(f) ?? 0) + Math.abs(v));
  }
  const n = Math.max(1, explanations.length);
  return [...sums.entries()]
    .map(([field, s]) => ({ field, mean_abs: s / n }))
    .sort((a, b) => b.mean_abs - a.mean_abs || (a.field < b.field ? -1 : 1));
}

/**
 * POST /explain: explanations of records (an array or `{records: [...]}`, the batch cap applies) with their
 * predictions, plus the records' global summary (mean |SHAP| per field). The same explanations
 * /predict?explain=true and /predict/batch?explain=true attach.
 */
export const explainRoutes: ServingPlugin<'holder' | 'scoring' | 'batchCap'> = async (app, options) => {
  const { holder, scoring, batchCap } = options;
  app.post(
    '/explain',
    {
      schema: {
        tags: ['predict'],
        summary: 'Explain records: SHAP values per input field, and their global summary',
        description:
          `An array of records or {"records": [...]}; at most ${batchCap} records. Margin (log-odds) units: ` +
          'base_value + sum(contributions) = margin, probability = sigmoid(margin). GBDT: exact TreeSHAP; ' +
          'logistic: coefficient x (x - training mean); the fallback prior: a constant (no field contributes). ' +
          '?explain=encoded / interactions / encoded,interactions add those views to each explanation.',
        querystring: ExplainQuery,
        body: BatchBody,
        response: { 200: ExplainResponse, ...JSON_ERRORS, 501: JSON_ERRORS[400] },
      },
    },
    (request, reply) => {
      const model = requireModel(holder);
      const body = request.body as BatchBody;
      const records = Array.isArray(body) ? body : body.records;
      const { top, views } = explainRequested(request.query as ExplainQuery);
      checkInteractionsSize(views, records.length);
      const { predictions, used } = scoring.scoreMany(model, records, 'records', {
        route: '/explain',
        requestId: request.id,
      });
      const ref = scoring.refOf(used);
      const explanations = predictions.map((p, i) => ({
        probability: p.probability,
        label: p.label,
        explanation: explainRecordWith(
          model,
          records[i] as Record<string, unknown>,
          top,
          ref,
          p.probability,
          views,
        ),
      }));
      const all = explanations.map((e) => e.explanation);
      return sendExplained(reply, {
        explanations,
        summary: { base_value: all[0]?.base_value ?? 0, features: meanAbs(all) },
        threshold: used.threshold,
        model: ref,
      });
    },
  );
};
