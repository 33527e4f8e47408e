import { maxHeaderSize as httpMaxHeaderSize, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { explainTopOf, JSON_CONTENT_TYPES, type PredictAnswer } from './fast-lane.js';
import type { RouteRecorder } from './metrics.js';
import { requestIdFrom } from './request-id.js';

/** Options of {@link installWireLane}. */
export interface WireLaneOptions {
  /** The app's HTTP server, just created: its own 'connection' listener (node:http's) is still the only one. */
  server: Server;
  /** Most bytes in a request body (the app's bodyLimit); a longer one is left to node:http and the route. */
  bodyLimit: number;
  /** The fast lane's answer to a body (see fast-lane.ts); null leaves the request to node:http and the route. */
  answer: PredictAnswer;
  /** The request recorder of POST /predict (the series the fast lane and the route's hook feed). */
  recorder: RouteRecorder;
  /** True once the app is closing: requests then go to node:http and the route (which answers 503). */
  isClosing(): boolean;
}

/** What the lane read of one complete request it takes. */
interface LaneRequest {
  /** Offset just past the body. */
  end: number;
  bodyStart: number;
  explainTop: number | null;
  /** The x-request-id header's value, or undefined. */
  requestId: string | undefined;
}

/**
 * Longest request head (request line and headers) the lane reads: node's default limit is 16 KiB; longer heads,
 * or heads over a lower limit the process was started with, are node:http's to judge.
 */
const MAX_HEADER_BYTES = Math.min(8 * 1024, httpMaxHeaderSize);
const MAX_HEADERS = 64;
/** Node's socket timeout is the advertised keep-alive timeout plus this (HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER). */
const KEEP_ALIVE_BUFFER_MS = 1000;
const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const REQUEST_LINE_START = Buffer.from('POST ', 'latin1');
const REQUEST_LINE_END = Buffer.from(' HTTP/1.1\r\n', 'latin1');
const PLAIN_TARGET = Buffer.from('/predict', 'latin1');

/** RFC 9110 tchar: the bytes of a header name. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}

/** The headers the lane looks at (any other is checked for syntax only). */
const Known = {
  Other: 0,
  Host: 1,
  ContentLength: 2,
  ContentType: 3,
  Connection: 4,
  RequestId: 5,
  /** Headers whose presence sends the request to node:http: Transfer-Encoding, Expect, Upgrade, Proxy-Connection. */
  Refused: 6,
} as const;
type Known = (typeof Known)[keyof typeof Known];
const KNOWN_BY_LENGTH = new Map<number, Array<[Buffer, Known]>>();
for (const [name, kind] of [
  ['host', Known.Host],
  ['content-length', Known.ContentLength],
  ['content-type', Known.ContentType],
  ['connection', Known.Connection],
  ['x-request-id', Known.RequestId],
  ['transfer-encoding', Known.Refused],
  ['expect', Known.Refused],
  ['upgrade', Known.Refused],
  // llhttp reads Proxy-Connection as Connection
  ['proxy-connection', Known.Refused],
] as const) {
  const list = KNOWN_BY_LENGTH.get(name.length) ?? [];
  list.push([Buffer.from(name, 'latin1'), kind]);
  KNOWN_BY_LENGTH.set(name.length, list);
}

/**
 * The wire lane: single-record keep-alive `POST /predict` answered straight from the socket's bytes, below
 * node:http. Why: for one small record, node:http's own work per request (llhttp, IncomingMessage and
 * ServerResponse, header writing) costs several times what Tassel's scan, validation, scoring and serialization
 * do, and a bare route pays it too; reading a strict subset of HTTP/1.1 here and writing the response in one
 * buffer is what takes the service past a bare node:http route.
 *
 * Each new connection starts in the lane. While its received bytes hold a complete request the lane accepts
 * (`POST /predict` or a plain explained query, HTTP/1.1, CRLF-terminated header lines of token names and
 * visible-ASCII values, one Host, one JSON Content-Type, one Content-Length within the body limit, the body
 * complete, no Transfer-Encoding, Expect, Upgrade or Proxy-Connection, Connection absent or `keep-alive`) and
 * the fast lane's answer (fast-lane.ts) is a 200, the lane writes exactly what node:http and the fast lane
 * would: the same status line, headers in the same order and case, Date, Connection and Keep-Alive lines, and
 * body, and records the same metrics. At the first byte that is anything else (another request, a request not
 * yet complete in the buffer, an error to answer, a closing app), every unconsumed byte is put back and the
 * socket is handed to node:http's own connection listener for the rest of its life, so llhttp decides all the
 * rest, errors and timeouts included. So the lane never waits inside a request.
 *
 * Idle connections in the lane close after the keep-alive timeout (+1 s, as node's), and one that never
 * completes a first request after the headers/request timeout (silently, where node:http would answer 408).
 * When a response cannot be written at once, the lane stops reading until the socket drains. Closing the
 * server closes the lane's idle connections (they are always idle between reads), as node:http does its own.
 */
export function installWireLane(options: WireLaneOptions): void {
  const { server, bodyLimit, answer, recorder, isClosing } = options;
  const [nodeListener, ...others] = server.listeners('connection') as Array<(socket: Socket) => void>;
  if (nodeListener === undefined || others.length > 0) {
    throw new Error('installWireLane: expected node:http as the only connection listener');
  }
  server.removeListener('connection', nodeListener);
  const lane = new Set<LaneConnection>();
  let closed = false;
  const dates = createDateCache();

  const context: LaneContext = {
    server,
    bodyLimit,
    answer,
    recorder,
    dates,
    lane,
    closing: () => closed || isClosing(),
    handOver: (socket) => nodeListener.call(server, socket),
  };
  server.on('connection', (socket: Socket) => {
    if (closed) nodeListener.call(server, socket);
    else lane.add(new LaneConnection(context, socket));
  });

  const close = server.close;
  server.close = function (this: Server, ...args: Parameters<Server['close']>) {
    closed = true;
    return close.apply(this, args);
  } as Server['close'];
  const closeIdle = server.closeIdleConnections;
  server.closeIdleConnections = function (this: Server) {
    for (const c of [...lane]) c.closeIfIdle();
    closeIdle.call(this);
  };
  const closeAll = server.closeAllConnections;
  server.closeAllConnections = function (this: Server) {
    for (const c of [...lane]) c.destroy();
    closeAll.call(this);
  };
}

interface LaneContext {
  server: Server;
  bodyLimit: number;
  answer: PredictAnswer;
  recorder: RouteRecorder;
  /** The HTTP Date of epoch ms `now`. */
  dates: (now: number) => string;
  lane: Set<LaneConnection>;
  closing(): boolean;
  handOver(socket: Socket): void;
}

/** One connection while the lane holds it. */
class LaneConnection {
  /** Bytes received but not yet processed: only while waiting for the socket to drain. */
  private held: Buffer | null = null;
  private waiting = false;
  private answered = false;
  private readonly onData = (chunk: Buffer) => this.data(chunk);
  private readonly onDrain = () => this.drain();
  private readonly onEnd = () => this.socket.end();
  private readonly onTimeout = () => this.socket.destroy();
  private readonly onError = () => this.socket.destroy();
  private readonly onClose = () => this.ctx.lane.delete(this);

  constructor(
    private readonly ctx: LaneContext,
    private readonly socket: Socket,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('timeout', this.onTimeout);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.setTimeout(firstRequestTimeout(ctx.server));
  }

  /** Closes the connection unless a response is still being written (then it finishes through node:http). */
  closeIfIdle(): void {
    if (!this.waiting) this.destroy();
  }

  destroy(): void {
    this.ctx.lane.delete(this);
    this.socket.destroy();
  }

  private data(chunk: Buffer): void {
    if (this.waiting) {
      this.held = this.held === null ? chunk : Buffer.concat([this.held, chunk]);
      return;
    }
    this.process(chunk);
  }

  private drain(): void {
    this.waiting = false;
    const held = this.held;
    this.held = null;
    if (held !== null && held.length > 0 && !this.process(held)) return;
    this.socket.resume();
  }

  /**
   * Answers every complete request it takes; false once it handed the socket over or paused for a drain. The
   * answers to the requests of one read go out in one write: a client that pipelines (several requests a write)
   * then costs one syscall and one loopback segment a read instead of one a request, on both sides.
   */
  private process(buf: Buffer): boolean {
    const { ctx, socket } = this;
    let at = 0;
    let answers = '';
    while (at < buf.length) {
      const started = performance.now();
      const request =
        ctx.closing() || hasRequestLimit(ctx.server) ? null : readRequest(buf, at, ctx.bodyLimit);
      // one clock read a request, for its Date header and its prediction log time
      const now = Date.now();
      const payload = request === null ? null : this.payloadOf(buf, request, now);
      if (request === null || payload === null) {
        if (answers !== '') socket.write(answers); // ahead of whatever node:http answers next
        this.handOver(at === 0 ? buf : buf.subarray(at));
        return false;
      }
      answers += response(payload, ctx, now);
      ctx.recorder.observe(200, (performance.now() - started) / 1000);
      if (!this.answered) {
        this.answered = true;
        socket.setTimeout(keepAliveTimeout(ctx.server));
      }
      at = request.end;
    }
    if (answers !== '' && !socket.write(answers)) {
      this.waiting = true;
      socket.pause();
      socket.once('drain', this.onDrain);
      return false;
    }
    return true;
  }

  /** The fast lane's answer, with the request id it carries; null (the route answers) if it throws. */
  private payloadOf(
    buf: Buffer,
    request: LaneRequest,
    now: number,
  ): { text: string; requestId: string } | null {
    const requestId = requestIdFrom(request.requestId);
    try {
      const text = this.ctx.answer(
        buf.subarray(request.bodyStart, request.end),
        requestId,
        request.explainTop,
        now,
      );
      return text === null ? null : { text, requestId };
    } catch {
      return null;
    }
  }

  /** Gives the connection, with the bytes not yet consumed, to node:http for the rest of its life. */
  private handOver(rest: Buffer): void {
    const { socket } = this;
    this.ctx.lane.delete(this);
    socket.removeListener('data', this.onData);
    socket.removeListener('drain', this.onDrain);
    socket.removeListener('end', this.onEnd);
    socket.removeListener('timeout', this.onTimeout);
    socket.removeListener('error', this.onError);
    socket.removeListener('close', this.onClose);
    socket.setTimeout(0);
    // node:http's listener starts its parser on the socket's handle; the bytes put back reach it first, as the
    // socket's buffered data once it flows again
    socket.pause();
    if (rest.length > 0) socket.unshift(rest);
    this.ctx.handOver(socket);
    socket.resume();
  }
}

/** How long a connection may wait in the lane before its first request: node's headers/request timeout. */
function firstRequestTimeout(server: Server): number {
  const limits = [server.headersTimeout, server.requestTimeout].filter((t) => t > 0);
  return limits.length > 0 ? Math.min(...limits) : keepAliveTimeout(server);
}

function keepAliveTimeout(server: Server): number {
  return server.keepAliveTimeout > 0 ? server.keepAliveTimeout + KEEP_ALIVE_BUFFER_MS : 0;
}

/** With maxRequestsPerSocket, node:http counts requests and closes connections: the lane steps aside. */
function hasRequestLimit(server: Server): boolean {
  return server.maxRequestsPerSocket !== null && server.maxRequestsPerSocket > 0;
}

/** The bytes node:http and the fast lane write for a 200 (checked byte for byte by wire-lane.test.ts). */
function response(payload: { text: string; requestId: string }, ctx: LaneContext, now: number): string {
  const { server } = ctx;
  const keepAlive =
    server.keepAliveTimeout > 0
      ? `Keep-Alive: timeout=${Math.floor(server.keepAliveTimeout / 1000)}\r\n`
      : '';
  return (
    `HTTP/1.1 200 OK\r\nx-request-id: ${payload.requestId}\r\n` +
    `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(payload.text)}\r\n` +
    `Date: ${ctx.dates(now)}\r\nConnection: keep-alive\r\n${keepAlive}\r\n${payload.text}`
  );
}

/** The HTTP Date of the current second, formatted once per second (as node:http's utcDate). */
function createDateCache(): (now: number) => string {
  let text = '';
  let until = 0;
  return (now) => {
    if (now >= until) {
      text = new Date(now).toUTCString();
      until = now - (now % 1000) + 1000;
    }
    return text;
  };
}

/**
 * Reads the request starting at `at` when it is complete in `buf` and within the lane's subset; null for
 * anything else (incomplete, another request, anything node:http should judge).
 */
function readRequest(buf: Buffer, at: number, bodyLimit: number): LaneRequest | null {
  const target = requestTarget(buf, at);
  if (target === null) return null;
  const headers = readHeaders(buf, target.next, Math.min(buf.length, at + MAX_HEADER_BYTES));
  if (headers === null) return null;
  const end = headers.bodyStart + headers.length;
  if (headers.length > bodyLimit || end > buf.length) return null;
  return { end, bodyStart: headers.bodyStart, explainTop: target.explainTop, requestId: headers.requestId };
}

/** `POST <target> HTTP/1.1\r\n` with a target the fast lane takes: its explain `top`, and where headers start. */
function requestTarget(buf: Buffer, at: number): { explainTop: number | null; next: number } | null {
  if (!startsWith(buf, at, REQUEST_LINE_START)) return null;
  const start = at + REQUEST_LINE_START.length;
  let i = start;
  const limit = Math.min(buf.length, start + 64);
  while (i < limit && buf[i]! > SP && buf[i]! < 0x7f) i++;
  if (i === limit || buf[i] !== SP || !startsWith(buf, i, REQUEST_LINE_END)) return null;
  const plain = i - start === PLAIN_TARGET.length && startsWith(buf, start, PLAIN_TARGET);
  const explainTop = plain ? null : explainTopOf(buf.toString('latin1', start, i));
  if (explainTop === undefined) return null;
  return { explainTop, next: i + REQUEST_LINE_END.length };
}

interface ReadHeaders {
  bodyStart: number;
  length: number;
  requestId: string | undefined;
}

/** The header section from `at` to its empty line, when complete and within the lane's subset. */
function readHeaders(buf: Buffer, at: number, limit: number): ReadHeaders | null {
  let i = at;
  let count = 0;
  let host = 0;
  let length = -1;
  let type = false;
  let connection = false;
  let requestId: string | undefined;
  while (i < limit) {
    if (buf[i] === CR) {
      if (i + 1 >= limit || buf[i + 1] !== LF) return null;
      if (host !== 1 || length < 0 || !type) return null;
      return { bodyStart: i + 2, length, requestId };
    }
    if (++count > MAX_HEADERS) return null;
    const nameStart = i;
    while (i < limit && TCHAR[buf[i]!] === 1) i++;
    if (i === nameStart || i >= limit || buf[i] !== 0x3a) return null;
    const kind = knownHeader(buf, nameStart, i);
    i++;
    while (i < limit && (buf[i] === SP || buf[i] === HTAB)) i++;
    const valueStart = i;
    while (i < limit && ((buf[i]! >= SP && buf[i]! < 0x7f) || buf[i] === HTAB)) i++;
    if (i + 1 >= limit || buf[i] !== CR || buf[i + 1] !== LF) return null;
    const valueEnd = i;
    i += 2;
    // trailing whitespace: node:http's trimming is its own to apply
    if (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)) return null;
    switch (kind) {
      case Known.Other:
        break;
      case Known.Host:
        host++;
        break;
      case Known.ContentLength:
        if (length >= 0) return null;
        length = contentLength(buf, valueStart, valueEnd);
        if (length < 0) return null;
        break;
      case Known.ContentType:
        if (type || !JSON_CONTENT_TYPES.has(buf.toString('latin1', valueStart, valueEnd).toLowerCase()))
          return null;
        type = true;
        break;
      case Known.Connection:
        if (connection || buf.toString('latin1', valueStart, valueEnd).toLowerCase() !== 'keep-alive')
          return null;
        connection = true;
        break;
      case Known.RequestId:
        if (requestId !== undefined) return null;
        requestId = buf.toString('latin1', valueStart, valueEnd);
        break;
      default:
        return null;
    }
  }
  return null;
}

/** Digits only (at most 10), else -1. */
function contentLength(buf: Buffer, start: number, end: number): number {
  if (end === start || end - start > 10) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function knownHeader(buf: Buffer, start: number, end: number): Known {
  const candidates = KNOWN_BY_LENGTH.get(end - start);
  if (candidates === undefined) return Known.Other;
  for (const [name, kind] of candidates) {
    let i = 0;
    while (i < name.length) {
      let c = buf[start + i]!;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c !== name[i]) break;
      i++;
    }
    if (i === name.length) return kind;
  }
  return Known.Other;
}

function startsWith(buf: Buffer, at: number, prefix: Buffer): boolean {
  if (at + prefix.length > buf.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[at + i] !== prefix[i]) return false;
  return true;
}
