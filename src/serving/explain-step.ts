import type { FastifyReply } from 'fastify';
import type { RawRecord } from '../data/table.js';
import { TasselError } from '../errors.js';
import { logit } from '../ml/explain.js';
import type { Explanation, ExplanationViews } from '../ml/record-explainer.js';
import type { ServedModel } from './served-model.js';

/** An explanation as the routes send it: the model's, or the prior's with a note saying why it is trivial. */
export type ServedExplanation = Explanation & { note?: string };

/**
 * The explanation of a prior-only answer: the prior's margin and no field contributing. `fields` are the
 * input fields the real model would have been explained in (so clients see every field, at 0).
 */
export function priorExplanation(
  prior: number,
  fields: readonly string[],
  note: string,
  views: ExplanationViews = {},
): ServedExplanation {
  const base = logit(prior);
  const contributions: Record<string, number> = {};
  for (const f of fields) contributions[f] = 0;
  const out: ServedExplanation = {
    method: 'constant',
    base_value: base,
    base_probability: Math.min(1, Math.max(0, prior)),
    margin: base,
    contributions,
    top: [],
  };
  // the prior reads no encoded column, and no field interacts with another
  if (views.encoded) out.encoded = {};
  if (views.interactions) {
    out.interactions = { fields: [...fields], values: fields.map(() => fields.map(() => 0)) };
  }
  out.note = note;
  return out;
}

/** Input fields of a served model's schema (its feature columns), for the prior's explanation. */
export const schemaFields = (model: ServedModel): string[] =>
  (model.schema?.columns ?? []).filter((c) => c.role === 'feature' && c.type !== 'id').map((c) => c.name);

/**
 * Explains one validated record with the model that answered it. `answeredBy` is the model whose prediction was
 * sent: when scoring fell back to the prior (the model threw), the explanation is the prior's too, so it always
 * matches the probability beside it. A model kind without explanations answers NOT_IMPLEMENTED with the reason.
 */
export function explainRecordWith(
  model: ServedModel,
  record: RawRecord,
  top: number,
  answeredBy: { fallback: boolean; reason?: string },
  prior: number,
  views?: ExplanationViews,
): ServedExplanation {
  if (answeredBy.fallback && !model.fallback) {
    return priorExplanation(
      prior,
      schemaFields(model),
      `the model failed on this record, so its class prior answered (${answeredBy.reason ?? 'inference error'}); no field contributes to the prior`,
      views,
    );
  }
  if (!model.explainRecord) {
    throw new TasselError('NOT_IMPLEMENTED', `the served model (kind ${model.kind}) offers no explanations`);
  }
  return model.explainRecord(record, top, views);
}

/**
 * Sends an explained response as JSON text. Why: the response serializer costs about 2.5x JSON.stringify on
 * an explanation (a field map and a list of objects), a cost only explained requests pay; the objects the routes
 * build hold exactly the schema's fields, so the bytes are what the serializer would write.
 */
export function sendExplained(reply: FastifyReply, body: unknown): string {
  reply.header('content-type', 'application/json; charset=utf-8');
  return JSON.stringify(body);
}
