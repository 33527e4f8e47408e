import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TasselError } from '../errors.js';
import type { PipelineTracking } from './tracking-port.js';
import { createClientTracking } from './tracking-client-adapter.js';

/** Where the pipeline logs, and how to let go of it. */
export interface TrackingTarget {
  tracking: PipelineTracking;
  uri: string;
  /** True when an in-process server was started for this run. */
  embedded: boolean;
  close(): Promise<void>;
}

export interface OpenTrackingOptions {
  /** --tracking-uri. */
  uri?: string;
  /** config.tracking.uri. */
  configUri?: string;
  /** Folder of the embedded server (SQLite + artifacts). */
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  /** Retry settings for the REST client (tests use few, short retries). */
  retries?: number;
  backoffMs?: number;
}

/** The tracking URI to use: flag, then TASSEL_TRACKING_URI / MLFLOW_TRACKING_URI, then the config; undefined = embedded. */
export function resolveTrackingUri(
  options: Pick<OpenTrackingOptions, 'uri' | 'configUri' | 'env'>,
): string | undefined {
  const env = options.env ?? process.env;
  return options.uri || env.TASSEL_TRACKING_URI || env.MLFLOW_TRACKING_URI || options.configUri || undefined;
}

/** The shape of the tracking engineer's in-process server starter (src/tracking/server/start.ts). */
type StartTrackingServer = (
  options: Record<string, unknown>,
) => Promise<{ url: string; close(): Promise<void> }>;

/**
 * Start an embedded Tassel tracking server in-process on a free loopback port: SQLite at
 * `<dataDir>/mlflow.db` (what `tassel server` uses by default), artifacts under `<dataDir>/artifacts`.
 */
export async function startEmbeddedServer(dataDir: string): Promise<{ url: string; close(): Promise<void> }> {
  mkdirSync(dataDir, { recursive: true });
  // Looked up at run time so the pipeline does not pin the server module's file layout.
  const candidates = ['../tracking/server/start.js', '../tracking/server/index.js', '../tracking/index.js'];
  let start: StartTrackingServer | undefined;
  for (const rel of candidates) {
    try {
      const mod = (await import(new URL(rel, import.meta.url).href.replace(/\.js$/, sourceExt()))) as Record<
        string,
        unknown
      >;
      if (typeof mod.startTrackingServer === 'function') {
        start = mod.startTrackingServer as StartTrackingServer;
        break;
      }
    } catch {
      // try the next location
    }
  }
  if (!start)
    throw new TasselError(
      'NOT_IMPLEMENTED',
      'no embedded tracking server is available in this build; set TASSEL_TRACKING_URI to a running server',
    );
  return start({
    host: '127.0.0.1',
    port: 0,
    backendStoreUri: `sqlite:///${join(dataDir, 'mlflow.db')}`,
    artifactsDestination: pathToFileURL(join(dataDir, 'artifacts')).href,
    dataDir,
    logger: false,
  });
}

/** When running from TypeScript sources (tsx), modules end in .ts; compiled, in .js. */
const sourceExt = () => (import.meta.url.endsWith('.ts') ? '.ts' : '.js');

/** Open the tracking target: a URI through the REST client, or an embedded server under dataDir. */
export async function openTracking(options: OpenTrackingOptions): Promise<TrackingTarget> {
  const env = options.env ?? process.env;
  const token = env.TASSEL_AUTH_TOKEN || env.MLFLOW_TRACKING_TOKEN || undefined;
  const rest = { retries: options.retries, backoffMs: options.backoffMs, token };
  const uri = resolveTrackingUri(options);
  if (uri) {
    return { tracking: createClientTracking({ uri, ...rest }), uri, embedded: false, close: async () => {} };
  }
  const server = await startEmbeddedServer(options.dataDir);
  return {
    tracking: createClientTracking({ uri: server.url, ...rest }),
    uri: server.url,
    embedded: true,
    close: () => server.close(),
  };
}
