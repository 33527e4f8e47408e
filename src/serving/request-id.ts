import { randomFillSync } from 'node:crypto';
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
  return typeof sent === 'string' && CALLER_ID.test(sent) ? sent : newRequestId();
}

/** UUIDs made per batch (Node's randomUUID caches the entropy of as many). */
const BATCH = 128;
const UUID_CHARS = 36;
const QUOTE = 0x22;
const HEX = Buffer.from('0123456789abcdef', 'latin1');
const entropy = Buffer.allocUnsafeSlow(16 * BATCH);
const text = Buffer.allocUnsafeSlow(UUID_CHARS * BATCH);
let batch = '';
let next = BATCH;
/** The id made last and where its text starts in `text`. */
let newest = '';
let newestAt = 0;

/**
 * A random (version 4) UUID, as crypto.randomUUID makes one (the same CSPRNG, version and variant bits, lowercase
 * text). Why not randomUUID: it builds each UUID by concatenating its 20 pieces, so the id is a rope that the
 * first reader of its characters (the prediction log's encoder, on the request path) flattens, a runtime call and
 * a copy: writing a fresh randomUUID cost ~190 ns, a flat one ~110. Here the text of 128 UUIDs is made at once,
 * one flat string, and each id is a slice of it (~75 ns an id, randomUUID's ~120).
 */
export function newRequestId(): string {
  if (next === BATCH) refill();
  newestAt = UUID_CHARS * next++;
  newest = batch.slice(newestAt, newestAt + UUID_CHARS);
  return newest;
}

/**
 * Writes `"<id>"` at `o` when `id` is the id {@link newRequestId} made last (the request being answered, on the
 * wire lane) and returns the offset past it, copying the bytes it was made from; returns -1, writing nothing,
 * for any other id. Why: the prediction log writes every request's id, and this copy of bytes known to need no
 * escaping cost ~40 ns where reading and checking the string's 36 chars cost ~105.
 */
export function writeNewestRequestId(id: string, b: Uint8Array, o: number): number {
  if (id !== newest) return -1;
  b[o++] = QUOTE;
  for (let i = newestAt, end = newestAt + UUID_CHARS; i < end; i++) b[o++] = text[i]!;
  b[o++] = QUOTE;
  return o;
}

/** The next batch of UUIDs' text, from fresh random bytes. */
function refill(): void {
  randomFillSync(entropy);
  let o = 0;
  for (let u = 0; u < BATCH; u++) {
    const e = 16 * u;
    entropy[e + 6] = (entropy[e + 6]! & 0x0f) | 0x40; // version 4
    entropy[e + 8] = (entropy[e + 8]! & 0x3f) | 0x80; // variant 10xx (RFC 4122)
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) text[o++] = 0x2d;
      const x = entropy[e + i]!;
      text[o++] = HEX[x >> 4]!;
      text[o++] = HEX[x & 15]!;
    }
  }
  batch = text.toString('latin1');
  next = 0;
}
