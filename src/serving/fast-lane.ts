import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { RouteRecorder } from './metrics.js';
import { requestIdOf } from './request-id.js';

/** What the fast lane hands back to the full app: a request it read but does not answer itself. */
export interface ReplayedResponse {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  rawPayload: Buffer;
}

/** Options of {@link createPredictFastLane}. */
export interface PredictFastLaneOptions {
  /** Most bytes in a request body (the app's bodyLimit); a longer request is left to the app, which answers 413. */
  bodyLimit: number;
  /**
   * Scores one record body exactly as the Fastify route does (the same scoring function) and returns the
   * response as JSON text (the bytes the route's serializer would send), or `null` when the record is not on the
   * happy path (validation problem, no model yet): the lane then replays it through the app, which answers the
   * error. Must not count or log anything before it succeeds. `raw` is the body as received, JSON in UTF-8
   * (logged as is, without serializing the record again), and `requestId` the id the response carries.
   * `explainTop` is not null for `?explain=true` (or `1`, with an optional `top=N`): the answer then carries the
   * explanation listing that many top fields, as the route's.
   */
  predict(
    body: Record<string, unknown>,
    raw: Buffer,
    requestId: string,
    explainTop: number | null,
  ): string | null;
  /**
   * Scores a plain `/predict` body straight from its bytes, as `predict` would the parsed body (same answer,
   * counting and logging), or returns null, having done nothing, when it does not read these bytes (then the
   * lane parses the body and calls `predict`). Absent: the lane always parses. `now` (epoch ms) is the time the
   * caller read for this request, when it read one (the wire lane, for its Date header): the prediction log's
   * time then, instead of a clock read of its own.
   */
  predictRaw?(raw: Buffer, requestId: string, now?: number): string | null;
  /** The request recorder of POST /predict (the same series the route's onResponse hook feeds). */
  recorder: RouteRecorder;
  /**
   * Runs a request the lane read through the full Fastify app (app.inject) and gives its response; the request
   * keeps the id the lane gave it (`requestId`, sent as x-request-id).
   */
  replay(request: IncomingMessage, body: Buffer, requestId: string): Promise<ReplayedResponse>;
  /** True once the app is closing: the lane then leaves every request to the app (which answers 503). */
  isClosing(): boolean;
}

/** Handles a request when it can (returns true), else leaves it untouched for Fastify (returns false). */
export type FastLane = (request: IncomingMessage, response: ServerResponse) => boolean;

/** The Content-Type values (lower-cased) the lanes take; any other goes to the route. */
export const JSON_CONTENT_TYPES = new Set(['application/json', 'application/json; charset=utf-8']);
/** The explained query strings the lane takes (any other query string goes to the route): `explain` and `top`. */
const EXPLAIN_QUERY =
  /^\/predict\?(?:explain=(?:true|1)(?:&top=([0-9]{1,3}))?|top=([0-9]{1,3})&explain=(?:true|1))$/;

/** null for plain `/predict`, the `top` of a plain explained query, or undefined for a URL the lane leaves. */
export function explainTopOf(url: string | undefined): number | null | undefined {
  if (url === '/predict') return null;
  if (url === undefined || !url.startsWith('/predict?')) return undefined;
  const m = EXPLAIN_QUERY.exec(url);
  if (m === null) return undefined;
  const top = m[1] ?? m[2];
  return top === undefined ? 5 : Number(top);
}
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date']);

/**
 * The single-record `POST /predict` hot path, served straight from Node's HTTP server ahead of Fastify's
 * routing. Why: for one small JSON record, Fastify's per-request machinery (request/reply objects, hooks, the
 * content-type parser, the serializer) costs as much CPU as validation, encoding and scoring together; skipping
 * it on the happy path is what keeps the service near a bare route's throughput.
 *
 * Only the happy path runs here: a JSON body with a Content-Length under the limit, holding one object of scalar
 * fields that the model's validator accepts. Anything else (another route or method, a query string other than
 * `?explain=true|1[&top=N]`, chunked
 * bodies, other content types, malformed or poisoned JSON, vector requests, validation errors, no model yet,
 * a closing app) goes through the Fastify route itself, so errors, limits and their metrics stay exactly the
 * route's. The lane answers with the same bytes and headers the route would (checked by an agreement test) and
 * records the same request metrics. A plain `/predict` body is first offered to `predictRaw` (the model's record
 * scanner, reading the bytes without JSON.parse); what it declines is parsed and checked here as before.
 *
 * On a listening app, the wire lane (wire-lane.ts) takes most keep-alive `/predict` requests before node:http
 * parses them, answering with the same {@link PredictAnswer} and the same bytes; this lane answers what it
 * leaves to node:http (a request split across reads, a connection handed over earlier, `--no-wire-lane`).
 */
export function createPredictFastLane(options: PredictFastLaneOptions): FastLane {
  const { bodyLimit, recorder, replay, isClosing } = options;
  const payloadOf = createPredictAnswer(options);

  const sendReplay = (request: IncomingMessage, response: ServerResponse, body: Buffer, requestId: string) =>
    replayThroughApp(replay, request, response, body, requestId);

  const answer = (
    request: IncomingMessage,
    response: ServerResponse,
    raw: Buffer,
    started: number,
    requestId: string,
    explainTop: number | null,
  ) => {
    const payload = payloadOf(raw, requestId, explainTop);
    if (payload === null) {
      sendReplay(request, response, raw, requestId);
      return;
    }
    response.writeHead(200, {
      'x-request-id': requestId,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(payload),
    });
    response.end(payload);
    recorder.observe(200, (performance.now() - started) / 1000);
  };

  return (request, response) => {
    if (request.method !== 'POST') return false;
    const explainTop = explainTopOf(request.url);
    if (explainTop === undefined) return false;
    const headers = request.headers;
    const type = headers['content-type'];
    if (type === undefined || !JSON_CONTENT_TYPES.has(type.toLowerCase())) return false;
    const declared = headers['content-length'];
    if (declared === undefined || headers['transfer-encoding'] !== undefined) return false;
    const length = Number(declared);
    if (!(length >= 0 && length <= bodyLimit) || isClosing()) return false;

    const started = performance.now();
    const requestId = requestIdOf(headers);
    let first: Buffer | null = null;
    let chunks: Buffer[] | null = null;
    request.on('data', (chunk: Buffer) => {
      if (first === null) first = chunk;
      else (chunks ??= [first]).push(chunk);
    });
    request.on('end', () => {
      const raw = chunks !== null ? Buffer.concat(chunks) : (first ?? Buffer.alloc(0));
      try {
        answer(request, response, raw, started, requestId, explainTop);
      } catch {
        // predict() is meant not to throw; if it does, the route answers (and reports) whatever it was
        if (!response.headersSent) sendReplay(request, response, raw, requestId);
      }
    });
    request.on('error', () => response.destroy());
    return true;
  };
}

/**
 * The lanes' answer to one `/predict` body: the response JSON, or null when it is not on the happy path (the
 * route must answer). A plain `/predict` body is first offered to `predictRaw`; what it declines is parsed and,
 * when it is a record of scalars, given to `predict`. May throw if `predict` does (the caller leaves the
 * request to the route then). `now`: see `predictRaw`.
 */
export type PredictAnswer = (
  raw: Buffer,
  requestId: string,
  explainTop: number | null,
  now?: number,
) => string | null;

/** The {@link PredictAnswer} of the fast lane's `predict` and `predictRaw` (shared with the wire lane). */
export function createPredictAnswer(
  options: Pick<PredictFastLaneOptions, 'predict' | 'predictRaw'>,
): PredictAnswer {
  const { predict } = options;
  const predictRaw = options.predictRaw ?? null;
  return (raw, requestId, explainTop, now) => {
    if (raw.length === 0) return null;
    if (predictRaw !== null && explainTop === null) {
      const payload = predictRaw(raw, requestId, now);
      if (payload !== null) return payload;
    }
    let body: unknown;
    try {
      // plain JSON.parse: a flat record can only be poisoned by a top-level "__proto__" key, which
      // isScalarRecord sends to the route (whose secure-json-parse answers it); a BOM fails here and goes there too
      body = JSON.parse(raw.toString());
    } catch {
      return null;
    }
    return isScalarRecord(body) ? predict(body, raw, requestId, explainTop) : null;
  };
}

/** Answers a request the lane read with the full app's response to it (app.inject), or a 500 if that fails. */
function replayThroughApp(
  replay: PredictFastLaneOptions['replay'],
  request: IncomingMessage,
  response: ServerResponse,
  body: Buffer,
  requestId: string,
): void {
  replay(request, body, requestId).then(
    (r) => {
      const headers: Record<string, string | string[] | number> = {};
      for (const [k, v] of Object.entries(r.headers)) {
        if (v !== undefined && !HOP_BY_HOP.has(k.toLowerCase())) headers[k] = v;
      }
      response.writeHead(r.statusCode, headers);
      response.end(r.rawPayload);
    },
    () => {
      // app.inject only rejects when the app itself is broken; never leave the client hanging
      const payload = '{"error_code":"INTERNAL_ERROR","message":"the request could not be processed"}';
      response.writeHead(500, {
        'x-request-id': requestId,
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(payload),
      });
      response.end(payload);
    },
  );
}

/**
 * A non-null, non-array object whose values are all JSON scalars, which is not a vector request and has no
 * "__proto__" key (JSON.parse makes it an own property; Fastify's parser refuses it).
 */
export function isScalarRecord(body: unknown): body is Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  for (const key in body) {
    if (key === 'features' || key === '__proto__') return false;
    const v = (body as Record<string, unknown>)[key];
    if (v !== null && typeof v === 'object') return false;
  }
  return true;
}
