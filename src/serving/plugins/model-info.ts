import { ErrorResponse, ModelResponse } from '../schemas.js';
import { requireModel } from '../scoring.js';
import type { ServingPlugin } from './context.js';

/** GET /model: the model being served, its fields, signature, training metrics and the swap count. */
export const modelInfoRoutes: ServingPlugin<'holder'> = async (app, { holder }) => {
  app.get(
    '/model',
    {
      schema: {
        tags: ['ops'],
        summary: 'The model being served',
        response: { 200: ModelResponse, 503: ErrorResponse },
      },
    },
    () => {
      const model = requireModel(holder);
      const out: Record<string, unknown> = {
        name: model.identity.name,
        version: model.identity.version,
        run_id: model.identity.runId,
        uri: model.identity.uri,
        kind: model.kind,
        fallback: model.fallback,
        threshold: model.threshold,
        prior: model.prior,
        width: model.width,
        feature_names: model.featureNames,
        fields: model.validator.fields.map((f) => ({ ...f })),
        signature: model.signature,
        metrics: model.metrics,
        swaps: holder.swaps,
      };
      if (model.identity.checksum) out.checksum = model.identity.checksum;
      if (model.reason !== undefined) out.reason = model.reason;
      return out;
    },
  );
};
