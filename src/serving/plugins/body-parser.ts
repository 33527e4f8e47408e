import fp from 'fastify-plugin';
import { TasselError } from '../../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON body's text as received (the prediction log reuses a batch's rows from it); null without one. */
    bodyText: string | null;
    /** True when `bodyText` is known to be ASCII only (its UTF-8 bytes are its chars, one each). */
    bodyAscii: boolean;
  }
}

/**
 * How the service reads request bodies. JSON only: Fastify's default `text/plain` parser is removed, so a
 * body of any other content type is a 415 (as the README promises) instead of a string that fails the
 * schema. The JSON parser says what it refused: the parser's own message for malformed JSON, and the key for
 * a prototype-poisoning body (`__proto__`, or `constructor` holding `prototype`), which Fastify's default
 * parser reports only as "Body is not valid JSON".
 */
export const bodyParserPlugin = fp(
  async (app) => {
    app.removeContentTypeParser(['text/plain', 'application/json']);
    app.decorateRequest('bodyText', null);
    app.decorateRequest('bodyAscii', false);
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      try {
        const value = parseJsonBody(body as string);
        request.bodyText = body as string;
        request.bodyAscii = isAsciiBody(body as string, request.headers['content-length']);
        done(null, value);
      } catch (e) {
        done(e as Error, undefined);
      }
    });
  },
  { name: 'tassel-serving-body-parser' },
);

/**
 * Text that may hold a poisoning key: either key spelled out, or any `\u` escape (JSON.parse turns
 * `"\u005f_proto__"` into a `__proto__` key). Most bodies have none, so the parsed value is walked only when it
 * matches. Why one regex: V8's String.includes on a 25 kB body took 30-50 us a search, two searches up to 100 us
 * of a 900 us batch request; the compiled regex scans for all three in ~27 us.
 */
const MAYBE_POISONED = /__proto__|constructor|\\u/;

/** JSON.parse with the refusals named; throws TasselError MALFORMED_REQUEST. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new TasselError('MALFORMED_REQUEST', 'the body is empty: send a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new TasselError('MALFORMED_REQUEST', `the body is not valid JSON: ${(e as Error).message}`);
  }
  if (MAYBE_POISONED.test(text)) {
    const key = poisonedKey(value, 0);
    if (key !== null)
      throw new TasselError(
        'MALFORMED_REQUEST',
        `the body was refused: it has a ${key} key, which could change object prototypes (prototype poisoning)`,
      );
  }
  return value;
}

/**
 * Whether a body decoded from UTF-8 is ASCII only, from its Content-Length (the bytes Fastify checked it
 * received; no hook here transforms the payload): every non-ASCII character takes more bytes than UTF-16 units,
 * except an invalid byte decoded as one U+FFFD, which a one-byte string cannot hold (the search is then
 * immediate). Why: the prediction log copies a batch's rows as bytes (memcpy) instead of encoding them as UTF-8
 * again, 2 us instead of 6-12 us for 50 kB; a pass over the text to check it would cost as much as it saves.
 */
export function isAsciiBody(text: string, contentLength: string | undefined): boolean {
  return contentLength !== undefined && Number(contentLength) === text.length && text.indexOf('\uFFFD') < 0;
}

/** `"__proto__"` or `"constructor.prototype"` when some object in `v` has such a key, else null. */
function poisonedKey(v: unknown, depth: number): string | null {
  if (v === null || typeof v !== 'object' || depth > 64) return null;
  if (Array.isArray(v)) {
    for (const item of v) {
      const k = poisonedKey(item, depth + 1);
      if (k !== null) return k;
    }
    return null;
  }
  const o = v as Record<string, unknown>;
  if (Object.hasOwn(o, '__proto__')) return '"__proto__"';
  const ctor = Object.hasOwn(o, 'constructor') ? o.constructor : undefined;
  if (ctor !== null && typeof ctor === 'object' && Object.hasOwn(ctor, 'prototype'))
    return '"constructor" with a "prototype"';
  for (const key of Object.keys(o)) {
    const k = poisonedKey(o[key], depth + 1);
    if (k !== null) return k;
  }
  return null;
}
