import { TasselError } from '../errors.js';
import { parseModelUri } from '../tracking/client/model-uri.js';
import { createRegistryClient, type RegistryClient } from '../tracking/client/registry-client.js';
import type { ModelSource, ResolvedModel } from './model-source.js';

/** Options of {@link createRegistryModelSource}. */
export interface RegistryModelSourceOptions {
  /** models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME/latest, models:/NAME/STAGE or runs:/RUN/PATH. */
  uri: string;
  /** Tracking/registry server base URL (a Tassel server or MLflow's). */
  trackingUri: string;
  /** Per-request timeout in ms; default 10 s. */
  timeoutMs?: number;
  /** Retries per registry call (the loader retries on its own too); default 1. */
  maxRetries?: number;
  /** Alias polling interval when the server has no event stream (a real MLflow server); default 5 s. */
  pollIntervalMs?: number;
  /** Bearer token; default from MLFLOW_TRACKING_TOKEN / TASSEL_AUTH_TOKEN (or Basic from the MLflow variables). */
  token?: string;
  client?: RegistryClient;
}

/**
 * The registry as a model source, through the registry client (MLflow's REST API, so a Tassel server and a real
 * MLflow server both work): resolves the URI to a version with its tags, downloads that version's artifacts
 * (artifact proxy, local or S3 locations) and, for `models:/NAME@ALIAS`, watches the alias through the
 * registry's event stream with polling as the fallback.
 */
export function createRegistryModelSource(options: RegistryModelSourceOptions): ModelSource {
  const parsed = parseModelUri(options.uri);
  const client =
    options.client ??
    createRegistryClient({
      trackingUri: options.trackingUri,
      token: options.token,
      timeoutMs: options.timeoutMs ?? 10_000,
      maxRetries: options.maxRetries ?? 1,
    });
  /** Artifact location of each resolved version, so the download fetches exactly what was resolved. */
  const locations = new Map<string, string>();

  return {
    description: options.uri,
    async resolve(): Promise<ResolvedModel> {
      if (parsed.kind === 'model_id') {
        throw new TasselError(
          'INVALID_PARAMETER_VALUE',
          `serve a registered model (models:/NAME@ALIAS), not ${options.uri}`,
        );
      }
      const r = await client.resolveModelUri(options.uri);
      if (parsed.kind === 'run') {
        locations.set(`run-${parsed.runId}\0`, r.artifactUri);
        return { name: `run-${parsed.runId}`, version: null, runId: parsed.runId, uri: options.uri };
      }
      const v = await client.getModelVersion(r.name!, r.version!);
      const tags = Object.fromEntries((v.tags ?? []).map((t) => [t.key, t.value]));
      locations.set(`${r.name}\0${r.version}`, r.artifactUri);
      return { name: r.name!, version: r.version!, runId: v.run_id || null, uri: options.uri, tags };
    },
    async download(resolved, dir) {
      const location = locations.get(`${resolved.name}\0${resolved.version ?? ''}`);
      if (!location)
        throw new TasselError('INVALID_STATE', `download of ${resolved.name} before it was resolved`);
      const files = await client.downloadArtifacts(location, dir);
      if (files.length === 0)
        throw new TasselError('RESOURCE_DOES_NOT_EXIST', `no model files at ${location}`);
    },
    watch(onChange) {
      if (parsed.kind !== 'alias') return () => {};
      const watcher = client.watchAlias(parsed.name, parsed.alias, () => onChange(), {
        pollIntervalMs: options.pollIntervalMs ?? 5000,
        onError: () => {
          // the registry being down is the loader's business (it keeps the current model and retries)
        },
      });
      // a move between our last resolve and the watcher's first read would be its baseline, not a change:
      // look once more when it is ready
      void watcher.ready.then(() => onChange()).catch(() => {});
      return () => watcher.close();
    },
  };
}
