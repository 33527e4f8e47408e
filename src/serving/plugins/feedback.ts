import { idColumns } from '../../data/schema.js';
import { TasselError } from '../../errors.js';
import type { FeedbackItem } from '../prediction-sink/port.js';
import { ErrorResponse, FeedbackBody, FeedbackResponse } from '../schemas.js';
import type { ServingPlugin } from './context.js';

/**
 * POST /feedback: ground truth for logged predictions, by request id or by entity id (e.g. Student_ID). Every
 * item gets a status (attached, updated, duplicate, unknown): unknown ids are reported, never silently dropped.
 * Stored through the prediction log's store (local segments or PostgreSQL); 501 when the log is off.
 */
export const feedbackRoutes: ServingPlugin<'sink' | 'holder' | 'batchCap' | 'entityField'> = async (
  app,
  { sink, holder, batchCap, entityField },
) => {
  app.post(
    '/feedback',
    {
      schema: {
        tags: ['monitoring'],
        summary: 'Attach observed outcomes to logged predictions',
        description:
          'By request id (the x-request-id of the prediction) or by entity id. Late labels are matched against ' +
          `the whole log; at most ${batchCap} outcomes per request.`,
        body: FeedbackBody,
        response: {
          200: FeedbackResponse,
          400: ErrorResponse,
          413: ErrorResponse,
          501: ErrorResponse,
        },
      },
    },
    async (request) => {
      if (sink === null) {
        throw new TasselError(
          'NOT_IMPLEMENTED',
          'the prediction log is off, so there is nothing to attach outcomes to; start the service with --prediction-log',
        );
      }
      const body = request.body as FeedbackBody;
      if (body.outcomes.length > batchCap) {
        throw new TasselError(
          'REQUEST_TOO_LARGE',
          `${body.outcomes.length} outcomes in one request is over the cap of ${batchCap}; split the request`,
        );
      }
      const items: FeedbackItem[] = body.outcomes.map((o) => ({
        request_id: o.request_id,
        entity_id: o.entity_id,
        outcome: o.outcome === true || o.outcome === 1 ? 1 : 0,
      }));
      const schema = holder.current?.schema;
      const field = body.entity_field ?? entityField ?? (schema ? idColumns(schema)[0]?.name : undefined);
      const results = await sink.attachOutcomes(items, { entityField: field });
      const count = (status: string) => results.filter((r) => r.status === status).length;
      return {
        results,
        attached: count('attached'),
        updated: count('updated'),
        duplicate: count('duplicate'),
        unknown: count('unknown'),
      };
    },
  );
};
