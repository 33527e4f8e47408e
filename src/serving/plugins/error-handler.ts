import type { FastifyError } from 'fastify';
import fp from 'fastify-plugin';
import { errorBody, InputError, isTasselError, TasselError } from '../../errors.js';

/**
 * Every error the service answers, in MLflow's `{error_code, message}` form: catalog errors with their status,
 * schema violations as 400 naming the field, body limits as 413, other 4xx (malformed JSON, wrong content type,
 * poisoned bodies) with their status, anything else as a logged 500 that echoes no stack. Unknown endpoints are
 * ENDPOINT_NOT_FOUND (404). Registered with fastify-plugin so the handlers sit on the root and every route
 * plugin registered after it inherits them.
 */
export const errorHandlerPlugin = fp(
  async (app) => {
    app.setErrorHandler((error: FastifyError | TasselError, request, reply) => {
      if (isTasselError(error)) {
        reply.status(error.status).send(errorBody(error));
        return;
      }
      const e = error as FastifyError;
      if (e.validation) {
        reply.status(400).send(errorBody(new InputError(validationMessage(e, request.body))));
        return;
      }
      const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
      if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        const type = String(request.headers['content-type'] ?? '').split(';')[0] || 'none';
        reply.status(415).send({
          error_code: 'BAD_REQUEST',
          message: `content type ${type} is not supported: send the body as application/json`,
        });
      } else if (status === 413) {
        reply.status(413).send(errorBody(new TasselError('REQUEST_TOO_LARGE', e.message)));
      } else if (status >= 400 && status < 500) {
        // malformed JSON, wrong content type, empty body, prototype poisoning...
        const code = status === 400 ? 'MALFORMED_REQUEST' : 'BAD_REQUEST';
        reply.status(status).send({ error_code: code, message: e.message });
      } else {
        request.log.error({ err: error }, 'request failed');
        reply.status(500).send(errorBody(error));
      }
    });
    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0];
      reply
        .status(404)
        .send(errorBody(new TasselError('ENDPOINT_NOT_FOUND', `no endpoint ${request.method} ${path}`)));
    });
  },
  { name: 'tassel-serving-errors' },
);

/** The value at an Ajv instance path ("/0/Age") in the request body. */
function valueAt(body: unknown, segments: string[]): unknown {
  let v = body;
  for (const s of segments) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[s];
  }
  return v;
}

/**
 * A readable message from Ajv's errors: the deepest one, naming the field. A number JSON cannot hold
 * (1e999 parses to Infinity) is named as such, not as a type mismatch.
 */
export function validationMessage(error: FastifyError, body?: unknown): string {
  const errors = error.validation ?? [];
  let best = errors[0];
  for (const e of errors) if (best && e.instancePath.length > best.instancePath.length) best = e;
  if (!best) return error.message;
  const params = best.params as Record<string, unknown>;
  if (best.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    return `field "${params.additionalProperty}" is not allowed here`;
  }
  const segments = best.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const path = segments.join('.');
  const value = valueAt(body, segments);
  if (path && typeof value === 'number' && !Number.isFinite(value))
    return `field "${path}": not a finite number (${value > 0 ? '' : '-'}Infinity after parsing, e.g. 1e999)`;
  return path
    ? `field "${path}": ${best.message ?? 'is invalid'}`
    : `request body ${best.message ?? 'is invalid'}`;
}
