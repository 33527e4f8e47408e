import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startTrackingServer } from '../tracking/server/start.js';
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
  /** Port of the embedded server on 127.0.0.1; default 0 (any free port). */
  port?: number;
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

/**
 * Start an embedded Tassel tracking server (with the registry and the web UI) in-process on a loopback port
 * (default: any free one):
 * SQLite at `<dataDir>/mlflow.db` (what `tassel server` uses by default), artifacts under `<dataDir>/artifacts`.
 */
export async function startEmbeddedServer(
  dataDir: string,
  port = 0,
): Promise<{ url: string; close(): Promise<void> }> {
  mkdirSync(dataDir, { recursive: true });
  return startTrackingServer({
    host: '127.0.0.1',
    port,
    backendStoreUri: `sqlite:///${join(dataDir, 'mlflow.db')}`,
    artifactsDestination: pathToFileURL(join(dataDir, 'artifacts')).href,
    logger: false,
  });
}

/** Open the tracking target: a URI through the REST client, or an embedded server under dataDir. */
export async function openTracking(options: OpenTrackingOptions): Promise<TrackingTarget> {
  const env = options.env ?? process.env;
  const token = env.TASSEL_AUTH_TOKEN || env.MLFLOW_TRACKING_TOKEN || undefined;
  const rest = { retries: options.retries, backoffMs: options.backoffMs, token };
  const uri = resolveTrackingUri(options);
  if (uri) {
    return { tracking: createClientTracking({ uri, ...rest }), uri, embedded: false, close: async () => {} };
  }
  const server = await startEmbeddedServer(options.dataDir, options.port);
  return {
    tracking: createClientTracking({ uri: server.url, ...rest }),
    uri: server.url,
    embedded: true,
    close: () => server.close(),
  };
}
