import { Readable } from 'node:stream';
import { TasselError, toErrorCode } from '../../errors.js';

/** Options of {@link createHttpTransport}. */
export interface HttpTransportOptions {
  /** Server base URL, e.g. `http://127.0.0.1:5000` (a trailing slash is ignored). */
  baseUrl: string;
  /** Bearer token; default from MLFLOW_TRACKING_TOKEN, then TASSEL_AUTH_TOKEN. */
  token?: string;
  /** Basic auth; default from MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD. */
  username?: string;
  password?: string;
  /** Per-attempt timeout in ms (default 30,000). */
  timeoutMs?: number;
  /** Retries for idempotent calls on 429, 5xx and connection errors (default 5). */
  maxRetries?: number;
  /** First backoff in ms, doubled each retry with full jitter (default 100). */
  backoffMs?: number;
  /** Longest single backoff in ms (default 5,000). */
  maxBackoffMs?: number;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /** Environment to read defaults from (default process.env). */
  env?: Record<string, string | undefined>;
  fetch?: typeof fetch;
}

/** One request. `query` values that are arrays become repeated keys, as MLflow's GET endpoints take lists. */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined | Array<string | number>>;
  body?: unknown;
  /** Safe to repeat: retried on 429, 5xx and connection errors. Default: true for GET. */
  idempotent?: boolean;
  /** Raw body (artifact upload); sent as application/octet-stream. Not retried when it is a stream. */
  raw?: Uint8Array | Readable;
  headers?: Record<string, string>;
  /** Per-call timeout override in ms. */
  timeoutMs?: number;
}

/** The transport the tracking and registry clients share. */
export interface HttpTransport {
  readonly baseUrl: string;
  /** Sends a request and parses the JSON answer; throws TasselError with MLflow's error_code. */
  json<T>(req: HttpRequest): Promise<T>;
  /** Sends a request and returns the response for streaming (status already checked). */
  raw(req: HttpRequest): Promise<Response>;
}

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

/** The Authorization header for the options/env, or undefined. */
export function authorizationHeader(
  options: Pick<HttpTransportOptions, 'token' | 'username' | 'password' | 'env'>,
): string | undefined {
  const env = options.env ?? process.env;
  const token = options.token ?? env.MLFLOW_TRACKING_TOKEN ?? env.TASSEL_AUTH_TOKEN;
  if (token) return `Bearer ${token}`;
  const user = options.username ?? env.MLFLOW_TRACKING_USERNAME;
  const password = options.password ?? env.MLFLOW_TRACKING_PASSWORD;
  if (user !== undefined && password !== undefined) {
    return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }
  return undefined;
}

/** Builds the URL for a path and query (arrays become repeated keys). */
export function buildUrl(baseUrl: string, path: string, query?: HttpRequest['query']): string {
  const url = new URL(baseUrl.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) url.searchParams.append(k, String(item));
    else url.searchParams.append(k, String(v));
  }
  return url.toString();
}

async function errorFrom(res: Response, method: string, url: string): Promise<TasselError> {
  const text = await res.text().catch(() => '');
  let code: ReturnType<typeof toErrorCode> | undefined;
  let message = text.slice(0, 500);
  try {
    const body = JSON.parse(text) as { error_code?: unknown; message?: unknown };
    if (body && typeof body === 'object' && 'error_code' in body) {
      code = toErrorCode(body.error_code);
      message = typeof body.message === 'string' ? body.message : message;
    }
  } catch {
    // not JSON: keep the text
  }
  if (!code) {
    code =
      res.status === 404
        ? 'ENDPOINT_NOT_FOUND'
        : res.status === 401
          ? 'UNAUTHENTICATED'
          : res.status === 403
            ? 'PERMISSION_DENIED'
            : res.status === 429
              ? 'REQUEST_LIMIT_EXCEEDED'
              : res.status >= 500
                ? 'INTERNAL_ERROR'
                : 'BAD_REQUEST';
    message = `${method} ${url} failed with HTTP ${res.status}${message ? `: ${message}` : ''}`;
  }
  return new TasselError(code, message, { details: undefined, cause: { status: res.status } });
}

/**
 * A small fetch-based HTTP transport: base URL, Authorization (token or basic, from options or
 * MLFLOW_TRACKING_TOKEN / MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD / TASSEL_AUTH_TOKEN), a
 * per-attempt timeout, and retries with exponential backoff and full jitter on 429, 5xx and connection
 * errors for idempotent calls. Failures throw {@link TasselError} carrying the server's error_code.
 */
export function createHttpTransport(options: HttpTransportOptions): HttpTransport {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const auth = authorizationHeader(options);
  const maxRetries = options.maxRetries ?? 5;
  const backoff = options.backoffMs ?? 100;
  const maxBackoff = options.maxBackoffMs ?? 5_000;

  async function send(req: HttpRequest): Promise<Response> {
    const url = buildUrl(baseUrl, req.path, req.query);
    const headers: Record<string, string> = { ...(options.headers ?? {}), ...(req.headers ?? {}) };
    if (auth) headers.authorization = auth;
    let body: NonNullable<RequestInit['body']> | undefined;
    let streaming = false;
    if (req.raw !== undefined) {
      headers['content-type'] ??= 'application/octet-stream';
      if (req.raw instanceof Readable) {
        body = Readable.toWeb(req.raw) as unknown as NonNullable<RequestInit['body']>;
        streaming = true;
      } else body = req.raw as NonNullable<RequestInit['body']>;
    } else if (req.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.body);
    }
    const idempotent = !streaming && (req.idempotent ?? req.method === 'GET');
    const attempts = idempotent ? maxRetries + 1 : 1;
    for (let attempt = 1; ; attempt++) {
      const controller = new AbortController();
      const timeoutMs = req.timeoutMs ?? options.timeoutMs ?? 30_000;
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      let res: Response;
      try {
        res = await doFetch(url, {
          method: req.method,
          headers,
          body,
          signal: controller.signal,
          ...(streaming ? { duplex: 'half' } : {}),
        } as RequestInit);
      } catch (e) {
        clearTimeout(timer);
        if (attempt < attempts) {
          await sleep(attempt);
          continue;
        }
        if (controller.signal.aborted) {
          throw new TasselError('DEADLINE_EXCEEDED', `${req.method} ${url} timed out after ${timeoutMs} ms`, {
            cause: e,
          });
        }
        const reason = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
        throw new TasselError('TEMPORARILY_UNAVAILABLE', `Could not reach ${baseUrl} (${reason})`, {
          cause: e,
        });
      }
      clearTimeout(timer);
      if (res.ok) return res;
      if (attempt < attempts && RETRY_STATUSES.has(res.status)) {
        await res.body?.cancel().catch(() => {});
        const retryAfter = Number(res.headers.get('retry-after'));
        await sleep(attempt, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined);
        continue;
      }
      throw await errorFrom(res, req.method, url);
    }
  }

  function sleep(attempt: number, atLeast?: number): Promise<void> {
    const cap = Math.min(maxBackoff, backoff * 2 ** (attempt - 1));
    const ms = Math.max(atLeast ?? 0, Math.random() * cap);
    return new Promise((r) => setTimeout(r, Math.min(ms, maxBackoff)));
  }

  return {
    baseUrl,
    async json<T>(req: HttpRequest): Promise<T> {
      const res = await send(req);
      const text = await res.text();
      if (!text) return {} as T;
      try {
        return JSON.parse(text) as T;
      } catch (e) {
        throw new TasselError(
          'INTERNAL_ERROR',
          `${req.method} ${req.path}: the server answered with invalid JSON`,
          { cause: e },
        );
      }
    },
    raw: send,
  };
}
