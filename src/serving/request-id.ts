import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** An id a caller may set: 1-200 visible ASCII characters (no spaces or controls, so it is safe to echo). */
const CALLER_ID = /^[\x21-\x7e]{1,200}$/;

/**
 * The request id of a request: the caller's `x-request-id` when it sent a usable one (so its traces join ours),
 * else a fresh UUID. Every response carries it back as `x-request-id`; the prediction log keys predictions by it
 * and POST /feedback attaches outcomes by it.
 */
export function requestIdOf(headers: IncomingHttpHeaders): string {
  return requestIdFrom(headers['x-request-id']);
}

/** {@link requestIdOf} of the `x-request-id` header's value (undefined when absent). */
export function requestIdFrom(sent: string | string[] | undefined): string {
  return typeof sent === 'string' && CALLER_ID.test(sent) ? sent : randomUUID();
}
