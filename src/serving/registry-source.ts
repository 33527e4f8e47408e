import { cp, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, TasselError } from '../errors.js';
import { authorizationHeader, createHttpTransport, type HttpTransport } from '../tracking/client/http.js';
import { parseModelUri, uriScheme } from '../tracking/client/model-uri.js';
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
  /** Reconnect delay of the event stream, doubled up to 30 s; default 1 s. */
  reconnectMs?: number;
  /** Unused here (the loader polls); accepted so callers can pass one options object. */
  pollIntervalMs?: number;
  transport?: HttpTransport;
  /** Bearer token; default from MLFLOW_TRACKING_TOKEN / TASSEL_AUTH_TOKEN (or Basic from the MLflow variables). */
  token?: string;
}

interface WireVersion {
  name: string;
  version: string;
  run_id?: string;
  source?: string;
  status?: string;
  tags?: Array<{ key: string; value: string }>;
}

const tagsOf = (v: WireVersion) => Object.fromEntries((v.tags ?? []).map((t) => [t.key, t.value]));

/**
 * The registry as a model source, over MLflow's REST API (so it works against a Tassel server and a real
 * MLflow server alike): resolves the URI to a version, downloads its artifacts through the server's artifact
 * proxy (`mlflow-artifacts:`) or from a local `file:` location, and listens to Tassel's registry event stream
 * (`/api/2.0/tassel/events`) for alias moves. A server without the stream (MLflow) is covered by the loader's
 * polling.
 */
export function createRegistryModelSource(options: RegistryModelSourceOptions): ModelSource {
  const parsed = parseModelUri(options.uri);
  const http =
    options.transport ??
    createHttpTransport({
      baseUrl: options.trackingUri,
      token: options.token,
      timeoutMs: options.timeoutMs ?? 10_000,
      maxRetries: options.maxRetries ?? 1,
    });
  const base = options.trackingUri.replace(/\/+$/, '');

  async function resolveVersion(): Promise<WireVersion> {
    if (parsed.scheme !== 'models') throw new InputError('internal: not a models:/ URI');
    if (parsed.kind === 'alias') {
      const r = await http.json<{ model_version: WireVersion }>({
        method: 'GET',
        path: '/api/2.0/mlflow/registered-models/alias',
        query: { name: parsed.name, alias: parsed.alias },
      });
      return r.model_version;
    }
    if (parsed.kind === 'version') {
      const r = await http.json<{ model_version: WireVersion }>({
        method: 'GET',
        path: '/api/2.0/mlflow/model-versions/get',
        query: { name: parsed.name, version: parsed.version },
      });
      return r.model_version;
    }
    if (parsed.kind === 'latest' || parsed.kind === 'stage') {
      const r = await http.json<{ model_versions?: WireVersion[] }>({
        method: 'POST',
        path: '/api/2.0/mlflow/registered-models/get-latest-versions',
        body: parsed.kind === 'stage' ? { name: parsed.name, stages: [parsed.stage] } : { name: parsed.name },
        idempotent: true,
      });
      const versions = r.model_versions ?? [];
      if (versions.length === 0) {
        throw new TasselError(
          'RESOURCE_DOES_NOT_EXIST',
          `no version of ${parsed.name} matches ${options.uri}`,
        );
      }
      return versions.reduce((a, b) => (Number(b.version) > Number(a.version) ? b : a));
    }
    throw new InputError(
      `serving by logged-model id (${options.uri}) is not supported; use models:/NAME@ALIAS`,
    );
  }

  /** Copies every file under an artifact location into `dir`. */
  async function downloadArtifacts(location: string, dir: string): Promise<void> {
    const scheme = uriScheme(location);
    if (scheme === '' || scheme === 'file') {
      await cp(scheme === 'file' ? fileURLToPath(location) : location, dir, { recursive: true });
      return;
    }
    if (scheme !== 'mlflow-artifacts') {
      throw new TasselError(
        'INVALID_PARAMETER_VALUE',
        `artifact location ${location} (${scheme}:) cannot be downloaded by the service; serve artifacts through the tracking server's proxy (mlflow-artifacts:)`,
      );
    }
    const root = location
      .replace(/^mlflow-artifacts:(\/\/[^/]*)?/, '')
      .replace(/^\/+/, '')
      .replace(/\/+$/, '');
    const walk = async (rel: string) => {
      const listing = await http.json<{ files?: Array<{ path: string; is_dir: boolean }> }>({
        method: 'GET',
        path: '/api/2.0/mlflow-artifacts/artifacts',
        query: { path: rel },
      });
      for (const f of listing.files ?? []) {
        const name = f.path.includes('/') ? f.path.slice(f.path.lastIndexOf('/') + 1) : f.path;
        const child = `${rel}/${name}`;
        const target = join(dir, child.slice(root.length + 1));
        if (f.is_dir) await walk(child);
        else {
          const res = await http.raw({
            method: 'GET',
            path: `/api/2.0/mlflow-artifacts/artifacts/${child.split('/').map(encodeURIComponent).join('/')}`,
          });
          await mkdir(dirname(target), { recursive: true });
          await writeFile(target, new Uint8Array(await res.arrayBuffer()));
        }
      }
    };
    await walk(root);
  }

  return {
    description: options.uri,
    async resolve(): Promise<ResolvedModel> {
      if (parsed.scheme === 'runs') {
        return { name: `run-${parsed.runId}`, version: null, runId: parsed.runId, uri: options.uri };
      }
      const v = await resolveVersion();
      return {
        name: v.name,
        version: String(v.version),
        runId: v.run_id || null,
        uri: options.uri,
        tags: tagsOf(v),
      };
    },
    async download(resolved, dir) {
      let location: string;
      if (parsed.scheme === 'runs') {
        const r = await http.json<{ run: { info: { artifact_uri: string } } }>({
          method: 'GET',
          path: '/api/2.0/mlflow/runs/get',
          query: { run_id: parsed.runId },
        });
        location = `${r.run.info.artifact_uri.replace(/\/+$/, '')}/${parsed.path}`;
      } else {
        const r = await http.json<{ artifact_uri: string }>({
          method: 'GET',
          path: '/api/2.0/mlflow/model-versions/get-download-uri',
          query: { name: resolved.name, version: resolved.version ?? '' },
        });
        location = r.artifact_uri;
        if (parsed.path) location = `${location.replace(/\/+$/, '')}/${parsed.path}`;
      }
      await downloadArtifacts(location, dir);
    },
    watch(onChange) {
      if (parsed.scheme !== 'models') return () => {};
      const name = parsed.kind === 'model_id' ? undefined : parsed.name;
      let stopped = false;
      let controller: AbortController | null = null;
      let delay = options.reconnectMs ?? 1000;
      const connect = async () => {
        while (!stopped) {
          controller = new AbortController();
          try {
            const url = `${base}/api/2.0/tassel/events${name ? `?name=${encodeURIComponent(name)}` : ''}`;
            const res = await fetch(url, {
              headers: { accept: 'text/event-stream', ...authHeaders(options.token) },
              signal: controller.signal,
            });
            if (!res.ok || !res.body) throw new Error(`event stream answered ${res.status}`);
            delay = options.reconnectMs ?? 1000;
            // (re)connected: something may have changed while we were away
            onChange();
            const decoder = new TextDecoder();
            let buffer = '';
            for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
              buffer += decoder.decode(chunk, { stream: true });
              let end = buffer.indexOf('\n\n');
              while (end >= 0) {
                const frame = buffer.slice(0, end);
                buffer = buffer.slice(end + 2);
                if (/^data:/m.test(frame)) onChange();
                end = buffer.indexOf('\n\n');
              }
            }
          } catch {
            // server down, no stream (MLflow answers 404) or aborted: the loader's polling covers the gap
          }
          if (stopped) return;
          await new Promise((r) => setTimeout(r, delay).unref());
          delay = Math.min(30_000, delay * 2);
        }
      };
      void connect();
      return () => {
        stopped = true;
        controller?.abort();
      };
    },
  };
}

function authHeaders(token?: string): Record<string, string> {
  const value = authorizationHeader({ token });
  return value ? { authorization: value } : {};
}
