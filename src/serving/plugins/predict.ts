import type { FastifyReply, FastifyRequest } from 'fastify';
import { InputError } from '../../errors.js';
import { checkInteractionsSize, ExplainQuery, explainRequested } from '../explain-schemas.js';
import { explainRecordWith, sendExplained } from '../explain-step.js';
import { BatchBody, BatchResponse, PredictBody, PredictResponse } from '../schemas.js';
import { requireModel } from '../scoring.js';
import { JSON_ERRORS, type ServingContext, type ServingPlugin } from './context.js';

/**
 * POST /predict (one record, or a feature vector `{features: [...]}`) and POST /predict/batch. The happy path of
 * single-record /predict is also served by the fast lane (fast-lane.ts) through the same scoring step.
 * `?explain=true` adds each prediction's explanation; the lane serves `?explain=true|1[&top=N]` on the happy
 * path too (app.ts, the same scoring and explanation) and leaves any other query string to this route, so a plain
 * prediction pays nothing for the option.
 */
export const predictRoutes: ServingPlugin<'holder' | 'scoring' | 'batchCap'> = async (app, options) => {
  const { batchCap } = options;
  app.post(
    '/predict',
    {
      schema: {
        tags: ['predict'],
        summary: 'Predict one record (or one feature vector)',
        description:
          "With ?explain=true the response adds `explanation`: SHAP values per input field in margin (log-odds) units, base_value + sum(contributions) = margin, probability = sigmoid(margin). ?explain=encoded adds the encoded columns' values, ?explain=interactions the interaction values between fields.",
        querystring: ExplainQuery,
        body: PredictBody,
        response: { 200: PredictResponse, ...JSON_ERRORS },
      },
    },
    createPredictHandler(options),
  );
  app.post(
    '/predict/batch',
    {
      schema: {
        tags: ['predict'],
        summary: 'Predict many records',
        description: `An array of records or {"records": [...]}; at most ${batchCap} records (413 over it). With ?explain=true each prediction adds its explanation.`,
        querystring: ExplainQuery,
        body: BatchBody,
        response: { 200: BatchResponse, ...JSON_ERRORS },
      },
    },
    createBatchHandler(options),
  );
};

type Parts = Pick<ServingContext, 'holder' | 'scoring'>;

/** POST /predict: one record (validated, scored, maybe explained) or one feature vector. */
function createPredictHandler({ holder, scoring }: Parts) {
  return (request: FastifyRequest, reply: FastifyReply) => {
    const model = requireModel(holder);
    const body = request.body as Record<string, unknown>;
    const { explain, top, views } = explainRequested(request.query as ExplainQuery);
    if (body.features !== undefined) {
      checkVectorRequest(body, explain);
      return scoring.predictVector(model, body.features as (number | null)[]);
    }
    const problem = model.validator.check(body);
    if (problem !== null) throw new InputError(problem);
    const out = scoring.predictRecord(model, body, request.id);
    if (!explain) return out;
    return sendExplained(reply, {
      ...out,
      explanation: explainRecordWith(model, body, top, out.model, out.probability, views),
    });
  };
}

/** A vector request `{features: [...]}` carries nothing else and cannot be explained. */
function checkVectorRequest(body: Record<string, unknown>, explain: boolean): void {
  if (explain) {
    throw new InputError(
      'explain=true needs a record of named fields: a feature vector cannot be explained in input-field terms',
    );
  }
  for (const key in body) {
    if (key !== 'features') {
      throw new InputError(`field "${key}": a vector request {"features": [...]} may carry no other field`);
    }
  }
}

/** POST /predict/batch: many records (each logged as `<request id>/<row>`), maybe explained. */
function createBatchHandler({ holder, scoring }: Parts) {
  return (request: FastifyRequest, reply: FastifyReply) => {
    const model = requireModel(holder);
    const body = request.body as BatchBody;
    const records = Array.isArray(body) ? body : body.records;
    const log = {
      route: '/predict/batch',
      requestId: request.id,
      bodyText: request.bodyText,
      bodyAscii: request.bodyAscii,
    };
    const { explain, top, views } = explainRequested(request.query as ExplainQuery);
    if (explain) checkInteractionsSize(views, records.length);
    const { predictions, used } = scoring.scoreMany(model, records, 'records', log);
    const ref = scoring.refOf(used);
    if (!explain) return { predictions, threshold: used.threshold, model: ref };
    predictions.forEach((p, i) => {
      const record = records[i] as Record<string, unknown>;
      (p as typeof p & { explanation?: unknown }).explanation = explainRecordWith(
        model,
        record,
        top,
        ref,
        p.probability,
        views,
      );
    });
    return sendExplained(reply, { predictions, threshold: used.threshold, model: ref });
  };
}
