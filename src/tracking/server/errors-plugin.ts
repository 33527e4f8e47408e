import type { FastifyError, FastifyInstance } from 'fastify';
import { TasselError, errorBody, isTasselError } from '../../errors.js';

interface AjvLikeError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** MLflow's wording for a request that failed schema validation. */
export function validationMessage(errors: AjvLikeError[], context: string | undefined): string {
  const first = errors[0];
  if (!first) return 'Invalid request.';
  const path = first.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (first.keyword === 'required') {
    const name = path
      ? `${path}.${String(first.params.missingProperty)}`
      : String(first.params.missingProperty);
    return `Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`;
  }
  if (first.keyword === 'additionalProperties') {
    return `Invalid ${context ?? 'request'}: unknown field '${String(first.params.additionalProperty)}'.`;
  }
  const what = path || (context === 'querystring' ? 'query' : (context ?? 'body'));
  return `Invalid value for parameter '${what}' supplied: ${first.message ?? 'invalid'}.`;
}

/**
 * Installs MLflow-style error handling on the root instance: every error becomes `{error_code, message}`
 * with the catalog's status; schema failures are 400 INVALID_PARAMETER_VALUE, unparsable JSON 400
 * MALFORMED_REQUEST, bodies over the limit 413 REQUEST_TOO_LARGE, unknown routes 404 ENDPOINT_NOT_FOUND.
 * 5xx details go to the log only.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | TasselError | Error, request, reply) => {
    let e: TasselError;
    const fe = error as FastifyError;
    if (isTasselError(error)) e = error;
    else if (fe.validation) {
      e = new TasselError(
        'INVALID_PARAMETER_VALUE',
        validationMessage(fe.validation as AjvLikeError[], fe.validationContext),
      );
    } else if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || fe.statusCode === 413) {
      e = new TasselError('REQUEST_TOO_LARGE', 'Request body is larger than the server accepts.');
    } else if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || fe.statusCode === 415) {
      e = new TasselError(
        'BAD_REQUEST',
        `Unsupported Content-Type '${request.headers['content-type'] ?? ''}'.`,
      );
    } else if (
      fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
      fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
      error instanceof SyntaxError ||
      (fe.statusCode === 400 && /JSON/i.test(fe.message))
    ) {
      e = new TasselError('MALFORMED_REQUEST', 'Malformed request body: it must be a JSON object.');
    } else if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      e = new TasselError(fe.statusCode === 404 ? 'ENDPOINT_NOT_FOUND' : 'BAD_REQUEST', fe.message);
    } else {
      request.log.error({ err: error }, 'request failed');
      e = new TasselError('INTERNAL_ERROR', 'Internal error; see the server log for details.');
    }
    if (e.status >= 500 && isTasselError(error)) request.log.error({ err: error }, 'request failed');
    const body = errorBody(e);
    reply.code(e.status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(body));
  });
  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .header('content-type', 'application/json; charset=utf-8')
      .send(
        JSON.stringify({
          error_code: 'ENDPOINT_NOT_FOUND',
          message: `No API endpoint found for ${request.method} ${request.url.split('?')[0]}`,
        }),
      );
  });
}
