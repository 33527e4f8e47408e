import { copyFileSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TasselError, toErrorCode } from '../errors.js';
import type { AliasChange, DatasetInput, PipelineTracking, VersionInfo } from './tracking-port.js';

/**
 * The pipeline's tracking port over MLflow's REST API (`/api/2.0/mlflow/...` and the artifact proxy
 * `/api/2.0/mlflow-artifacts/...`), so the pipeline logs to a Tassel server or a real MLflow server alike.
 * Idempotent calls are retried with exponential backoff on connection errors, 429 and 5xx.
 */

export interface RestTrackingOptions {
  /** http(s)://host:port of the tracking server. */
  uri: string;
  /** Bearer token (TASSEL_AUTH_TOKEN / MLFLOW_TRACKING_TOKEN). */
  token?: string;
  /** Attempts per request on retryable failures (default 4). */
  retries?: number;
  /** First backoff delay in ms, doubled per attempt (default 250). */
  backoffMs?: number;
  /** Per-request timeout in ms (default 30 s). */
  timeoutMs?: number;
}

const tagList = (tags: Record<string, string>) =>
  Object.entries(tags).map(([key, value]) => ({ key, value }));
const tagMap = (tags: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (Array.isArray(tags))
    for (const t of tags as Array<{ key: string; value: string }>) out[t.key] = t.value;
  return out;
};

const toVersion = (mv: Record<string, unknown>): VersionInfo => ({
  name: String(mv.name),
  version: String(mv.version),
  source: String(mv.source ?? ''),
  runId: mv.run_id ? String(mv.run_id) : null,
  tags: tagMap(mv.tags),
});

function walkFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walkFiles(p));
    else out.push(p);
  }
  return out;
}

const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

/** A PipelineTracking speaking MLflow's REST API with fetch. */
export function createRestTracking(options: RestTrackingOptions): PipelineTracking {
  const base = options.uri.replace(/\/+$/, '');
  const retries = options.retries ?? 4;
  const backoff = options.backoffMs ?? 250;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const auth: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};

  async function raw(
    method: string,
    path: string,
    body?: string | Uint8Array | null,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    let lastError: unknown;
    for (let attempt = 0; attempt < retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, backoff * 2 ** (attempt - 1)));
      try {
        const res = await fetch(`${base}${path}`, {
          method,
          headers: { ...auth, ...headers },
          body: body ?? null,
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (res.status === 429 || res.status >= 500) {
          lastError = new Error(`HTTP ${res.status} ${await res.text().catch(() => '')}`.trim());
          continue;
        }
        return res;
      } catch (e) {
        lastError = e;
      }
    }
    const err = lastError as Error & { cause?: { code?: string; errors?: Array<{ code?: string }> } };
    const why =
      err?.cause?.code ??
      err?.cause?.errors?.[0]?.code ??
      (err?.cause as Error | undefined)?.message ??
      err?.message ??
      String(lastError);
    throw new TasselError(
      'TEMPORARILY_UNAVAILABLE',
      `tracking server ${base} unreachable after ${retries} attempts (${method} ${path}: ${why})`,
      { cause: lastError },
    );
  }

  async function call<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    endpoint: string,
    payload?: Record<string, unknown>,
  ): Promise<T> {
    let path = `/api/2.0/mlflow/${endpoint}`;
    let body: string | undefined;
    if (method === 'GET' && payload) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(payload)) if (v !== undefined) q.append(k, String(v));
      path += `?${q}`;
    } else if (payload) body = JSON.stringify(payload);
    const res = await raw(method, path, body, body ? { 'content-type': 'application/json' } : {});
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      json = { message: text.slice(0, 200) };
    }
    if (!res.ok) {
      throw new TasselError(
        toErrorCode(json.error_code),
        `tracking server: ${method} ${endpoint} failed with HTTP ${res.status}: ${String(json.message ?? text).slice(0, 500)}`,
      );
    }
    return json as T;
  }

  const isNotFound = (e: unknown) =>
    e instanceof TasselError && (e.code === 'RESOURCE_DOES_NOT_EXIST' || e.code === 'NOT_FOUND');

  /** The proxy path of an mlflow-artifacts: URI, or the local folder of a file: URI. */
  function artifactLocation(uri: string): { proxy: string } | { local: string } {
    if (uri.startsWith('mlflow-artifacts:')) {
      const rest = uri.slice('mlflow-artifacts:'.length).replace(/^\/\/[^/]*/, '');
      return { proxy: rest.replace(/^\/+/, '') };
    }
    if (uri.startsWith('file:')) return { local: fileURLToPath(uri) };
    if (uri.startsWith('/')) return { local: uri };
    throw new TasselError(
      'NOT_IMPLEMENTED',
      `artifact URI ${uri}: only mlflow-artifacts: and file: locations are supported by the pipeline`,
    );
  }

  async function download(uri: string, dir: string): Promise<void> {
    const loc = artifactLocation(uri);
    if ('local' in loc) {
      for (const f of walkFiles(loc.local)) {
        const dest = join(dir, relative(loc.local, f));
        mkdirSync(dirname(dest), { recursive: true });
        copyFileSync(f, dest);
      }
      return;
    }
    const listDir = async (rel: string) => {
      const path = [loc.proxy, rel].filter(Boolean).join('/');
      const res = await raw('GET', `/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(path)}`);
      if (!res.ok)
        throw new TasselError(
          'RESOURCE_DOES_NOT_EXIST',
          `cannot list artifacts at ${uri}/${rel}: HTTP ${res.status}`,
        );
      const body = (await res.json()) as { files?: Array<{ path: string; is_dir?: boolean }> };
      for (const f of body.files ?? []) {
        const name = f.path.split('/').pop()!;
        const childRel = rel ? `${rel}/${name}` : name;
        if (f.is_dir) await listDir(childRel);
        else {
          const r = await raw(
            'GET',
            `/api/2.0/mlflow-artifacts/artifacts/${encodePath(`${loc.proxy}/${childRel}`)}`,
          );
          if (!r.ok)
            throw new TasselError(
              'RESOURCE_DOES_NOT_EXIST',
              `cannot download ${uri}/${childRel}: HTTP ${r.status}`,
            );
          const dest = join(dir, ...childRel.split('/'));
          mkdirSync(dirname(dest), { recursive: true });
          writeFileSync(dest, Buffer.from(await r.arrayBuffer()));
        }
      }
    };
    await listDir('');
  }

  const runArtifactUris = new Map<string, string>();

  const tracking: PipelineTracking = {
    uri: base,

    async getOrCreateExperiment(name) {
      try {
        const r = await call<{ experiment: { experiment_id: string } }>('GET', 'experiments/get-by-name', {
          experiment_name: name,
        });
        return String(r.experiment.experiment_id);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      try {
        const r = await call<{ experiment_id: string }>('POST', 'experiments/create', { name });
        return String(r.experiment_id);
      } catch (e) {
        // Created concurrently by someone else: read it back.
        if (e instanceof TasselError && e.code === 'RESOURCE_ALREADY_EXISTS') {
          const r = await call<{ experiment: { experiment_id: string } }>('GET', 'experiments/get-by-name', {
            experiment_name: name,
          });
          return String(r.experiment.experiment_id);
        }
        throw e;
      }
    },

    async createRun(experimentId, runName, tags) {
      const r = await call<{ run: { info: { run_id: string; artifact_uri: string } } }>(
        'POST',
        'runs/create',
        {
          experiment_id: experimentId,
          run_name: runName,
          start_time: Date.now(),
          tags: tagList(tags),
        },
      );
      runArtifactUris.set(r.run.info.run_id, r.run.info.artifact_uri);
      return { runId: r.run.info.run_id, artifactUri: r.run.info.artifact_uri };
    },

    async logBatch(runId, batch) {
      const ts = Date.now();
      const metrics = (batch.metrics ?? []).map((m) => ({
        key: m.key,
        value: m.value,
        step: m.step ?? 0,
        timestamp: m.timestamp ?? ts,
      }));
      const params = tagList(batch.params ?? {}).map((p) => ({ key: p.key, value: p.value.slice(0, 6000) }));
      const tags = tagList(batch.tags ?? {});
      // MLflow's per-call limits: 1000 metrics, 100 params, 100 tags.
      const calls = Math.max(
        Math.ceil(metrics.length / 1000),
        Math.ceil(params.length / 100),
        Math.ceil(tags.length / 100),
      );
      for (let i = 0; i < calls; i++) {
        await call('POST', 'runs/log-batch', {
          run_id: runId,
          metrics: metrics.slice(i * 1000, (i + 1) * 1000),
          params: params.slice(i * 100, (i + 1) * 100),
          tags: tags.slice(i * 100, (i + 1) * 100),
        });
      }
    },

    async logInputs(runId, datasets: DatasetInput[]) {
      await call('POST', 'runs/log-inputs', {
        run_id: runId,
        datasets: datasets.map((d) => ({
          tags: d.context ? [{ key: 'mlflow.data.context', value: d.context }] : [],
          dataset: {
            name: d.name,
            digest: d.digest,
            source_type: d.sourceType,
            source: d.source,
            ...(d.schema ? { schema: d.schema } : {}),
            ...(d.profile ? { profile: d.profile } : {}),
          },
        })),
      });
    },

    async endRun(runId, status) {
      await call('POST', 'runs/update', { run_id: runId, run_uuid: runId, status, end_time: Date.now() });
    },

    async uploadArtifacts(runId, localDir, artifactPath = '') {
      let uri = runArtifactUris.get(runId);
      if (!uri) {
        const r = await call<{ run: { info: { artifact_uri: string } } }>('GET', 'runs/get', {
          run_id: runId,
        });
        uri = r.run.info.artifact_uri;
      }
      const loc = artifactLocation(uri);
      for (const file of walkFiles(localDir)) {
        const rel = [artifactPath, relative(localDir, file).split(sep).join('/')].filter(Boolean).join('/');
        if ('local' in loc) {
          const dest = join(loc.local, ...rel.split('/'));
          mkdirSync(dirname(dest), { recursive: true });
          copyFileSync(file, dest);
          continue;
        }
        const res = await raw(
          'PUT',
          `/api/2.0/mlflow-artifacts/artifacts/${encodePath(`${loc.proxy}/${rel}`)}`,
          readFileSync(file),
          {
            'content-type': 'application/octet-stream',
          },
        );
        if (!res.ok)
          throw new TasselError(
            'INTERNAL_ERROR',
            `artifact upload ${rel} failed: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`,
          );
      }
    },

    async ensureRegisteredModel(name) {
      try {
        await call('POST', 'registered-models/create', { name });
      } catch (e) {
        if (!(e instanceof TasselError && e.code === 'RESOURCE_ALREADY_EXISTS')) throw e;
      }
    },

    async createModelVersion(name, source, runId, tags, description) {
      const r = await call<{ model_version: Record<string, unknown> }>('POST', 'model-versions/create', {
        name,
        source,
        run_id: runId,
        tags: tagList(tags),
        ...(description ? { description } : {}),
      });
      return toVersion(r.model_version);
    },

    async setVersionTag(name, version, key, value) {
      await call('POST', 'model-versions/set-tag', { name, version, key, value });
    },

    async setAlias(name, alias, version, reason) {
      try {
        await call('POST', 'registered-models/alias', {
          name,
          alias,
          version,
          ...(reason ? { reason } : {}),
        });
      } catch (e) {
        // A server that does not take a reason (real MLflow) still gets the alias moved.
        if (reason && e instanceof TasselError && e.status === 400 && /reason/i.test(e.message))
          await call('POST', 'registered-models/alias', { name, alias, version });
        else throw e;
      }
    },

    async getVersionByAlias(name, alias) {
      try {
        const r = await call<{ model_version: Record<string, unknown> }>('GET', 'registered-models/alias', {
          name,
          alias,
        });
        return toVersion(r.model_version);
      } catch (e) {
        if (
          isNotFound(e) ||
          (e instanceof TasselError && e.status === 400 && /alias|not found|does not exist/i.test(e.message))
        )
          return null;
        throw e;
      }
    },

    async getVersion(name, version) {
      const r = await call<{ model_version: Record<string, unknown> }>('GET', 'model-versions/get', {
        name,
        version,
      });
      return toVersion(r.model_version);
    },

    async listVersions(name) {
      const out: VersionInfo[] = [];
      let token: string | undefined;
      do {
        const r = await call<{ model_versions?: Record<string, unknown>[]; next_page_token?: string }>(
          'GET',
          'model-versions/search',
          {
            filter: `name='${name.replace(/'/g, "\\'")}'`,
            max_results: 200,
            ...(token ? { page_token: token } : {}),
          },
        );
        out.push(...(r.model_versions ?? []).map(toVersion));
        token = r.next_page_token || undefined;
      } while (token);
      return out.sort((a, b) => Number(b.version) - Number(a.version));
    },

    async getAliases(name) {
      const r = await call<{ registered_model: { aliases?: Array<{ alias: string; version: string }> } }>(
        'GET',
        'registered-models/get',
        { name },
      );
      const out: Record<string, string> = {};
      for (const a of r.registered_model.aliases ?? []) out[a.alias] = String(a.version);
      return out;
    },

    async listModels() {
      const names: string[] = [];
      let token: string | undefined;
      do {
        const r = await call<{ registered_models?: Array<{ name: string }>; next_page_token?: string }>(
          'GET',
          'registered-models/search',
          { max_results: 200, ...(token ? { page_token: token } : {}) },
        );
        names.push(...(r.registered_models ?? []).map((m) => m.name));
        token = r.next_page_token || undefined;
      } while (token);
      return names;
    },

    async aliasHistory(name, alias) {
      const out: AliasChange[] = [];
      let token: string | undefined;
      do {
        const q = new URLSearchParams({
          name,
          alias,
          max_results: '1000',
          ...(token ? { page_token: token } : {}),
        });
        const res = await raw('GET', `/api/2.0/tassel/registered-models/alias-history?${q}`);
        if (res.status === 404)
          throw new TasselError(
            'NOT_IMPLEMENTED',
            `${base} keeps no alias history (not a Tassel server?); give the version to promote instead`,
          );
        const body = (await res.json()) as Record<string, unknown>;
        if (!res.ok)
          throw new TasselError(toErrorCode(body.error_code), String(body.message ?? `HTTP ${res.status}`));
        const rows = (Object.values(body).find(Array.isArray) ?? []) as Array<Record<string, unknown>>;
        for (const h of rows)
          out.push({
            alias: String(h.alias ?? alias),
            fromVersion:
              h.from_version === undefined || h.from_version === null ? null : String(h.from_version),
            toVersion: h.to_version === undefined || h.to_version === null ? null : String(h.to_version),
            timestamp: Number(h.timestamp ?? 0),
            reason: (h.reason as string | undefined) ?? null,
            actor: (h.principal as string | undefined) ?? null,
          });
        token = (body.next_page_token as string | undefined) || undefined;
      } while (token);
      return out.sort((a, b) => a.timestamp - b.timestamp);
    },

    async downloadVersion(name, version, dir) {
      let uri: string;
      try {
        const r = await call<{ artifact_uri: string }>('GET', 'model-versions/get-download-uri', {
          name,
          version,
        });
        uri = r.artifact_uri;
      } catch {
        uri = (await tracking.getVersion(name, version)).source;
      }
      await download(uri, dir);
    },
  };
  return tracking;
}
