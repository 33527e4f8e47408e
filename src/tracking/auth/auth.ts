import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { InputError, TasselError } from '../../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who made the request: the Basic user name, "token"/"read-only-token" for a bearer, or "anonymous". */
    tasselPrincipal?: string;
    /** Whether the request was authenticated with the read-only token. */
    tasselReadOnly?: boolean;
  }
}

export const ANONYMOUS = 'anonymous';

/**
 * POST endpoints a read-only token may call: they only read (searches and bulk gets that MLflow
 * exposes as POST because of their body size). Paths are relative to /api/2.0 and /ajax-api/2.0.
 */
export const READ_ONLY_POST_PATHS: ReadonlySet<string> = new Set([
  '/mlflow/runs/search',
  '/mlflow/experiments/search',
  '/mlflow/experiments/search-datasets',
  '/mlflow/registered-models/search',
  '/mlflow/registered-models/get-latest-versions',
  '/mlflow/model-versions/search',
  '/mlflow/logged-models/search',
  '/mlflow/metrics/get-history-bulk',
  '/mlflow/metrics/get-history-bulk-interval',
  '/mlflow/datasets/search',
  '/mlflow/traces/search',
]);

/** Paths served without credentials (liveness and version probes). */
export const DEFAULT_OPEN_PATHS: ReadonlySet<string> = new Set([
  '/health',
  '/version',
  '/healthz',
  '/readyz',
]);

/** Header paths pino must redact so tokens never reach a log. */
export const AUTH_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'request.headers.authorization',
];

export interface AuthOptions {
  /** Full-access token (`--auth-token` / TASSEL_AUTH_TOKEN). Without it the server is open. */
  token?: string;
  /** Optional token that may only read (GET/HEAD and the searches in {@link READ_ONLY_POST_PATHS}). */
  readOnlyToken?: string;
  openPaths?: ReadonlySet<string>;
  readOnlyPostPaths?: ReadonlySet<string>;
}

/** The SHA-256 of a secret, the form {@link secretsEqual} compares against. */
export function secretDigest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time equality of a presented secret and the expected one (hashes first, so lengths never leak). */
export function secretsEqual(presented: string, expected: Buffer): boolean {
  return timingSafeEqual(secretDigest(presented), expected);
}

/** The path without query string and without the /api/2.0 or /ajax-api/2.0 prefix. */
function apiRelativePath(url: string): string {
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  const m = /^\/(?:ajax-)?api\/[0-9.]+(\/.*)$/.exec(path);
  return m ? m[1] : path;
}

function stripQuery(url: string): string {
  const q = url.indexOf('?');
  return q >= 0 ? url.slice(0, q) : url;
}

interface Credentials {
  secret: string;
  user?: string;
}

function readCredentials(header: string | undefined): Credentials | 'malformed' | undefined {
  if (!header) return undefined;
  const m = /^(\w+)\s+(.+)$/.exec(header.trim());
  if (!m) return 'malformed';
  const scheme = m[1].toLowerCase();
  if (scheme === 'bearer') return { secret: m[2].trim() };
  if (scheme === 'basic') {
    let decoded: string;
    try {
      decoded = Buffer.from(m[2].trim(), 'base64').toString('utf8');
    } catch {
      return 'malformed';
    }
    const colon = decoded.indexOf(':');
    if (colon < 0) return 'malformed';
    return { user: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
  }
  return 'malformed';
}

function deny(reply: FastifyReply, error: TasselError): FastifyReply {
  if (error.status === 401) reply.header('www-authenticate', 'Basic realm="tassel", Bearer realm="tassel"');
  return reply.code(error.status).send(error.toJSON());
}

/**
 * Token authentication for the whole server: `Authorization: Bearer TOKEN` (what MLFLOW_TRACKING_TOKEN
 * sends) or Basic with the token as password (MLFLOW_TRACKING_USERNAME/PASSWORD; the user name becomes
 * the recorded principal). Failures are 401 UNAUTHENTICATED / 403 PERMISSION_DENIED in MLflow's form.
 * Registered without encapsulation so its hook guards every route.
 */
export const authPlugin: FastifyPluginAsync<AuthOptions> = async (app: FastifyInstance, opts) => {
  const full = opts.token ? secretDigest(opts.token) : undefined;
  const readOnly = opts.readOnlyToken ? secretDigest(opts.readOnlyToken) : undefined;
  if (!full && readOnly)
    throw new InputError('a read-only token needs a full-access token too (--auth-token)');
  const openPaths = opts.openPaths ?? DEFAULT_OPEN_PATHS;
  const readOnlyPosts = opts.readOnlyPostPaths ?? READ_ONLY_POST_PATHS;

  app.decorateRequest('tasselPrincipal', undefined);
  app.decorateRequest('tasselReadOnly', undefined);

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const creds = readCredentials(request.headers.authorization);
    if (!full) {
      // Open server: still record a Basic user name as the principal for the audit trail.
      request.tasselPrincipal = creds && creds !== 'malformed' && creds.user ? creds.user : ANONYMOUS;
      request.tasselReadOnly = false;
      return;
    }
    if (openPaths.has(stripQuery(request.url)) || request.method === 'OPTIONS') {
      request.tasselPrincipal = ANONYMOUS;
      return;
    }
    if (creds === undefined) {
      return deny(
        reply,
        new TasselError(
          'UNAUTHENTICATED',
          'You are not authenticated. Send Authorization: Bearer <token> or Basic credentials.',
        ),
      );
    }
    if (creds === 'malformed') {
      return deny(
        reply,
        new TasselError('UNAUTHENTICATED', 'Malformed Authorization header; use Bearer or Basic.'),
      );
    }
    // Compare against both tokens every time so timing does not reveal which one matched.
    const isFull = secretsEqual(creds.secret, full);
    const isReadOnly = readOnly ? secretsEqual(creds.secret, readOnly) : false;
    if (!isFull && !isReadOnly) {
      return deny(reply, new TasselError('UNAUTHENTICATED', 'Invalid credentials.'));
    }
    request.tasselReadOnly = !isFull;
    request.tasselPrincipal = creds.user || (isFull ? 'token' : 'read-only-token');
    if (!isFull) {
      const method = request.method;
      const readOk =
        method === 'GET' ||
        method === 'HEAD' ||
        (method === 'POST' && readOnlyPosts.has(apiRelativePath(request.url)));
      if (!readOk) {
        return deny(
          reply,
          new TasselError(
            'PERMISSION_DENIED',
            `The read-only token cannot call ${method} ${stripQuery(request.url)}.`,
          ),
        );
      }
    }
  });
};
// Like fastify-plugin: do not encapsulate, so the hook applies to routes registered beside the plugin.
(authPlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;

/** True for loopback hosts (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/**
 * Refuses to serve a non-loopback address without a token unless `insecure` is set explicitly
 * (the check `tassel server` runs before binding).
 */
export function assertAuthConfigured(options: { host: string; token?: string; insecure?: boolean }): void {
  if (options.token || options.insecure || isLoopbackHost(options.host)) return;
  throw new InputError(
    `refusing to serve ${options.host} without authentication: pass --auth-token (or set TASSEL_AUTH_TOKEN), ` +
      'or --insecure to serve it open on purpose',
  );
}
