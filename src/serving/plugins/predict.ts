import { InputError } from '../../errors.js';
import { BatchBody, BatchResponse, PredictBody, PredictResponse } from '../schemas.js';
import { requireModel } from '../scoring.js';
import { JSON_ERRORS, type ServingPlugin } from './context.js';

/**
 * POST /predict (one record, or a feature vector `{features: [...]}`) and POST /predict/batch. The happy path of
 * single-record /predict is also served by the fast lane (fast-lane.ts) through the same scoring step.
 */
export const predictRoutes: ServingPlugin<'holder' | 'scoring' | 'batchCap'> = async (app, options) => {
  const { holder, scoring, batchCap } = options;

  app.post(
    '/predict',
    {
      schema: {
        tags: ['predict'],
        summary: 'Predict one record (or one feature vector)',
        body: PredictBody,
        response: { 200: PredictResponse, ...JSON_ERRORS },
      },
    },
    (request) => {
      const model = requireModel(holder);
      const body = request.body as Record<string, unknown>;
      const features = body.features;
      if (features !== undefined) {
        for (const key in body) {
          if (key !== 'features') {
            throw new InputError(
              `field "${key}": a vector request {"features": [...]} may carry no other field`,
            );
          }
        }
        return scoring.predictVector(model, features as (number | null)[]);
      }
      const problem = model.validator.check(body);
      if (problem !== null) throw new InputError(problem);
      return scoring.predictRecord(model, body, request.id);
    },
  );

  app.post(
    '/predict/batch',
    {
      schema: {
        tags: ['predict'],
        summary: 'Predict many records',
        description: `An array of records or {"records": [...]}; at most ${batchCap} records (413 over it).`,
        body: BatchBody,
        response: { 200: BatchResponse, ...JSON_ERRORS },
      },
    },
    (request) => {
      const model = requireModel(holder);
      const body = request.body as BatchBody;
      const records = Array.isArray(body) ? body : body.records;
      const log = { route: '/predict/batch', requestId: request.id };
      const { predictions, used } = scoring.scoreMany(model, records, 'records', log);
      return { predictions, threshold: used.threshold, model: scoring.refOf(used) };
    },
  );
};
