import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InputError, TasselError } from '../../errors.js';
import { createArtifactRepository } from '../artifacts/registry.js';
import type { ArtifactRepository } from '../artifacts/types.js';
import type {
  AliasHistoryEntry,
  ChangeContext,
  CreateLoggedModelArgs,
  CreateModelVersionArgs,
  KeyValue,
  LoggedModel,
  LoggedModelStatus,
  ModelVersion,
  Page,
  RegisteredModel,
  RegistryStore,
  SearchArgs,
  SearchLoggedModelsArgs,
} from '../registry/store.js';
import { createHttpTransport, type HttpTransport, type HttpTransportOptions } from './http.js';
import { appendToUri, parseModelUri, uriScheme } from './model-uri.js';

/** Where a model URI points. */
export interface ResolvedModelUri {
  /** The concrete artifact location (`mlflow-artifacts:/...`, `s3://...`, a path...). */
  artifactUri: string;
  name?: string;
  version?: string;
  runId?: string;
  modelId?: string;
}

/** A registry event as received from the SSE stream. */
export interface AliasChange {
  name: string;
  alias: string;
  /** The version the alias now names, or undefined when it was deleted. */
  version?: string;
  previousVersion?: string;
  /** 'sse' when pushed by the server, 'poll' when found by polling. */
  via: 'sse' | 'poll';
}

export interface WatchAliasOptions {
  /** Polling interval when the server has no event stream (real MLflow) or it is down. Default 5 s. */
  pollIntervalMs?: number;
  /** Called with errors that do not stop the watcher (network, 5xx). */
  onError?: (error: unknown) => void;
  /** Delay before reconnecting a dropped stream. Default 1 s. */
  reconnectDelayMs?: number;
}

export interface AliasWatcher {
  /** 'sse' while streaming, 'poll' while polling. */
  readonly mode: 'sse' | 'poll' | 'starting';
  /** The version last seen for the alias (undefined if none). */
  readonly current: string | undefined;
  /** Resolves once the watcher knows the current version and has chosen a mode. */
  ready: Promise<void>;
  close(): void;
}

export interface RegistryClientOptions extends Omit<HttpTransportOptions, 'baseUrl'> {
  /** The tracking server, e.g. `http://127.0.0.1:5000` (MLflow's tracking URI). */
  trackingUri?: string;
  /** A transport to share with the tracking client (overrides trackingUri and auth options). */
  transport?: HttpTransport;
}

export interface RegistryClient extends RegistryStore {
  readonly transport: HttpTransport;
  /**
   * Resolves `models:/NAME@ALIAS`, `models:/NAME/VERSION`, `models:/NAME/latest`, `models:/NAME/STAGE`,
   * `models:/MODEL_ID` and `runs:/RUN_ID/PATH` to an artifact location exactly as MLflow's client does
   * (alias -> registered-models/alias -> get-download-uri), so it works against a real MLflow server too.
   */
  resolveModelUri(uri: string): Promise<ResolvedModelUri>;
  /** Resolves `uri` and downloads its files into `dir` (created if needed); returns the files written. */
  downloadModel(uri: string, dir: string): Promise<ResolvedModelUri & { files: string[] }>;
  /** `logged-models/{id}/artifacts/directories`: direct children of a directory of a logged model's files. */
  listLoggedModelArtifacts(
    modelId: string,
    path?: string,
  ): Promise<{ root_uri: string; files: Array<{ path: string; is_dir: boolean; file_size?: number }> }>;
  /** Downloads every file under an artifact URI into `dir`. */
  downloadArtifacts(artifactUri: string, dir: string): Promise<string[]>;
  /**
   * Uploads a local file or directory to an artifact URI (through the server's proxy for
   * `mlflow-artifacts:`, directly for `file:`/`s3:`), as MLflow 3's log_model does for a logged model's
   * artifact location. Returns the relative paths written.
   */
  uploadArtifacts(localPath: string, artifactUri: string): Promise<string[]>;
  /**
   * Calls `onChange` whenever `alias` of model `name` moves or is deleted. Uses the server's event stream
   * (`/api/2.0/tassel/events`) and falls back to polling `registered-models/alias` when there is none.
   */
  watchAlias(
    name: string,
    alias: string,
    onChange: (change: AliasChange) => void,
    options?: WatchAliasOptions,
  ): AliasWatcher;
}

const API = '/api/2.0/mlflow';

function page<T>(items: T[] | undefined, token: string | undefined): Page<T> {
  return { items: items ?? [], ...(token ? { next_page_token: token } : {}) };
}

/** Keeps a relative artifact path inside `dir`. */
function safeJoin(dir: string, rel: string): string {
  const out = resolve(dir, rel);
  const root = resolve(dir);
  if (out !== root && !out.startsWith(root + sep))
    throw new InputError(`Refusing to write outside ${dir}: ${rel}`);
  return out;
}

/**
 * The registry over HTTP: every RegistryStore method is one MLflow REST call (so the store contract
 * suite runs through it), plus model-URI resolution, downloads and alias watching.
 */
export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  const transport =
    options.transport ??
    createHttpTransport({
      ...options,
      baseUrl: options.trackingUri ?? process.env.MLFLOW_TRACKING_URI ?? 'http://127.0.0.1:5000',
    });
  const get = <T>(path: string, query: Record<string, string | number | undefined | string[]>) =>
    transport.json<T>({ method: 'GET', path: `${API}${path}`, query });
  const send = <T>(
    method: 'POST' | 'PATCH' | 'DELETE',
    path: string,
    body: Record<string, unknown>,
    idempotent = false,
  ) => transport.json<T>({ method, path: `${API}${path}`, body, idempotent });
  const withReason = (body: Record<string, unknown>, ctx?: ChangeContext) =>
    ctx?.reason ? { ...body, reason: ctx.reason } : body;

  const client: RegistryClient = {
    transport,

    async createRegisteredModel(args, ctx) {
      const r = await send<{ registered_model: RegisteredModel }>(
        'POST',
        '/registered-models/create',
        withReason({ name: args.name, tags: args.tags, description: args.description }, ctx),
      );
      return r.registered_model;
    },
    async getRegisteredModel(name) {
      return (await get<{ registered_model: RegisteredModel }>('/registered-models/get', { name }))
        .registered_model;
    },
    async renameRegisteredModel(name, newName) {
      return (
        await send<{ registered_model: RegisteredModel }>('POST', '/registered-models/rename', {
          name,
          new_name: newName,
        })
      ).registered_model;
    },
    async updateRegisteredModel(name, description) {
      return (
        await send<{ registered_model: RegisteredModel }>(
          'PATCH',
          '/registered-models/update',
          { name, description },
          true,
        )
      ).registered_model;
    },
    async deleteRegisteredModel(name, ctx) {
      await send('DELETE', '/registered-models/delete', withReason({ name }, ctx));
    },
    async searchRegisteredModels(args: SearchArgs = {}) {
      const r = await get<{ registered_models?: RegisteredModel[]; next_page_token?: string }>(
        '/registered-models/search',
        {
          filter: args.filter,
          max_results: args.max_results,
          order_by: args.order_by,
          page_token: args.page_token,
        },
      );
      return page(r.registered_models, r.next_page_token);
    },
    async getLatestVersions(name, stages) {
      const r = await send<{ model_versions?: ModelVersion[] }>(
        'POST',
        '/registered-models/get-latest-versions',
        { name, stages },
        true,
      );
      return r.model_versions ?? [];
    },
    async setRegisteredModelTag(name, key, value) {
      await send('POST', '/registered-models/set-tag', { name, key, value }, true);
    },
    async deleteRegisteredModelTag(name, key) {
      await send('DELETE', '/registered-models/delete-tag', { name, key }, true);
    },

    async createModelVersion(args: CreateModelVersionArgs, ctx) {
      const r = await send<{ model_version: ModelVersion }>(
        'POST',
        '/model-versions/create',
        withReason({ ...args }, ctx),
      );
      return r.model_version;
    },
    async getModelVersion(name, version) {
      return (await get<{ model_version: ModelVersion }>('/model-versions/get', { name, version }))
        .model_version;
    },
    async updateModelVersion(name, version, description) {
      return (
        await send<{ model_version: ModelVersion }>(
          'PATCH',
          '/model-versions/update',
          { name, version, description },
          true,
        )
      ).model_version;
    },
    async deleteModelVersion(name, version, opts, ctx) {
      await send(
        'DELETE',
        '/model-versions/delete',
        withReason({ name, version, ...(opts?.force ? { force: true } : {}) }, ctx),
      );
    },
    async transitionModelVersionStage(name, version, stage, archiveExistingVersions, ctx) {
      const r = await send<{ model_version: ModelVersion }>(
        'POST',
        '/model-versions/transition-stage',
        withReason({ name, version, stage, archive_existing_versions: archiveExistingVersions }, ctx),
      );
      return r.model_version;
    },
    async searchModelVersions(args: SearchArgs = {}) {
      const r = await get<{ model_versions?: ModelVersion[]; next_page_token?: string }>(
        '/model-versions/search',
        {
          filter: args.filter,
          max_results: args.max_results,
          order_by: args.order_by,
          page_token: args.page_token,
        },
      );
      return page(r.model_versions, r.next_page_token);
    },
    async getModelVersionDownloadUri(name, version) {
      return (await get<{ artifact_uri: string }>('/model-versions/get-download-uri', { name, version }))
        .artifact_uri;
    },
    async setModelVersionTag(name, version, key, value) {
      await send('POST', '/model-versions/set-tag', { name, version, key, value }, true);
    },
    async deleteModelVersionTag(name, version, key) {
      await send('DELETE', '/model-versions/delete-tag', { name, version, key }, true);
    },

    async setRegisteredModelAlias(name, alias, version, ctx) {
      await send('POST', '/registered-models/alias', withReason({ name, alias, version }, ctx), true);
    },
    async deleteRegisteredModelAlias(name, alias, ctx) {
      await send('DELETE', '/registered-models/alias', withReason({ name, alias }, ctx), true);
    },
    async getModelVersionByAlias(name, alias) {
      return (await get<{ model_version: ModelVersion }>('/registered-models/alias', { name, alias }))
        .model_version;
    },
    async getAliasHistory(args) {
      const r = await transport.json<{ history?: AliasHistoryEntry[]; next_page_token?: string }>({
        method: 'GET',
        path: '/api/2.0/tassel/registered-models/alias-history',
        query: {
          name: args.name,
          alias: args.alias,
          max_results: args.max_results,
          page_token: args.page_token,
        },
      });
      return page(r.history, r.next_page_token);
    },

    async createLoggedModel(args: CreateLoggedModelArgs) {
      return (await send<{ model: LoggedModel }>('POST', '/logged-models', { ...args })).model;
    },
    async getLoggedModel(modelId, options) {
      const query = options?.allowDeleted ? { allow_deleted: 'true' } : {};
      return (await get<{ model: LoggedModel }>(`/logged-models/${encodeURIComponent(modelId)}`, query))
        .model;
    },
    async finalizeLoggedModel(modelId, status: LoggedModelStatus) {
      return (
        await send<{ model: LoggedModel }>(
          'PATCH',
          `/logged-models/${encodeURIComponent(modelId)}`,
          { model_id: modelId, status },
          true,
        )
      ).model;
    },
    async deleteLoggedModel(modelId) {
      await send('DELETE', `/logged-models/${encodeURIComponent(modelId)}`, {});
    },
    async setLoggedModelTags(modelId, tags: KeyValue[]) {
      await send(
        'PATCH',
        `/logged-models/${encodeURIComponent(modelId)}/tags`,
        { model_id: modelId, tags },
        true,
      );
    },
    async deleteLoggedModelTag(modelId, key) {
      await send(
        'DELETE',
        `/logged-models/${encodeURIComponent(modelId)}/tags/${encodeURIComponent(key)}`,
        {},
      );
    },
    async logLoggedModelParams(modelId, params: KeyValue[]) {
      await send(
        'POST',
        `/logged-models/${encodeURIComponent(modelId)}/params`,
        { model_id: modelId, params },
        true,
      );
    },
    async searchLoggedModels(args: SearchLoggedModelsArgs) {
      const r = await send<{ models?: LoggedModel[]; next_page_token?: string }>(
        'POST',
        '/logged-models/search',
        { ...args },
        true,
      );
      return page(r.models, r.next_page_token);
    },
    async listLoggedModelArtifacts(modelId, path) {
      const r = await get<{
        root_uri: string;
        files?: Array<{ path: string; is_dir: boolean; file_size?: number }>;
      }>(`/logged-models/${encodeURIComponent(modelId)}/artifacts/directories`, {
        artifact_directory_path: path,
      });
      return { root_uri: r.root_uri, files: r.files ?? [] };
    },
    async logOutputs(runId, models) {
      await send('POST', '/runs/outputs', { run_id: runId, models }, true);
    },

    async resolveModelUri(uri) {
      const parsed = parseModelUri(uri);
      if (parsed.kind === 'run') {
        const run = await get<{ run: { info: { artifact_uri: string; experiment_id: string } } }>(
          '/runs/get',
          {
            run_id: parsed.runId,
          },
        );
        return { artifactUri: appendToUri(run.run.info.artifact_uri, parsed.path), runId: parsed.runId };
      }
      let resolved: ResolvedModelUri;
      if (parsed.kind === 'model_id') {
        const m = await client.getLoggedModel(parsed.modelId);
        resolved = { artifactUri: m.info.artifact_uri, modelId: parsed.modelId, runId: m.info.source_run_id };
      } else {
        let version: string;
        if (parsed.kind === 'version') version = parsed.version;
        else if (parsed.kind === 'alias')
          version = (await client.getModelVersionByAlias(parsed.name, parsed.alias)).version;
        else {
          // latest or a legacy stage: MLflow takes the highest version among get-latest-versions.
          const stage = parsed.kind === 'stage' ? parsed.stage : undefined;
          const latest = await client.getLatestVersions(parsed.name, stage ? [stage] : undefined);
          if (latest.length === 0) {
            throw new TasselError(
              'RESOURCE_DOES_NOT_EXIST',
              `No versions of model with name '${parsed.name}'${stage ? ` and stage '${stage}'` : ''} found`,
            );
          }
          version = String(Math.max(...latest.map((v) => Number(v.version))));
        }
        const artifactUri = await client.getModelVersionDownloadUri(parsed.name, version);
        resolved = { artifactUri, name: parsed.name, version };
      }
      if (parsed.path) resolved.artifactUri = appendToUri(resolved.artifactUri, parsed.path);
      return resolved;
    },

    async downloadArtifacts(artifactUri, dir) {
      await mkdir(dir, { recursive: true });
      if (uriScheme(artifactUri) === 'mlflow-artifacts') return downloadProxied(transport, artifactUri, dir);
      if (uriScheme(artifactUri) === 'runs' || uriScheme(artifactUri) === 'models') {
        return client.downloadArtifacts((await client.resolveModelUri(artifactUri)).artifactUri, dir);
      }
      return downloadFromRepository(createArtifactRepository(artifactUri), '', dir);
    },

    async uploadArtifacts(localPath, artifactUri) {
      const files = await listLocalFiles(localPath);
      const single = files.length === 1 && files[0] === '';
      const written: string[] = [];
      if (uriScheme(artifactUri) === 'mlflow-artifacts') {
        let root = artifactUri.slice('mlflow-artifacts:'.length);
        if (root.startsWith('//')) root = root.slice(2).replace(/^[^/]*/, '');
        root = root.replace(/^\/+/, '').replace(/\/+$/, '');
        for (const rel of files) {
          const name = single ? basename(localPath) : rel;
          const remote = root ? `${root}/${name}` : name;
          await transport.json({
            method: 'PUT',
            path: `/api/2.0/mlflow-artifacts/artifacts/${remote.split('/').map(encodeURIComponent).join('/')}`,
            raw: createReadStream(single ? localPath : join(localPath, rel)),
          });
          written.push(name);
        }
        return written;
      }
      const repo = createArtifactRepository(artifactUri);
      for (const rel of files) {
        const name = single ? basename(localPath) : rel;
        await repo.put(name, createReadStream(single ? localPath : join(localPath, rel)));
        written.push(name);
      }
      return written;
    },

    async downloadModel(uri, dir) {
      const resolved = await client.resolveModelUri(uri);
      let files = await client.downloadArtifacts(resolved.artifactUri, dir);
      const parsed = parseModelUri(uri);
      if (files.length === 0 && parsed.kind === 'run' && parsed.path) {
        // MLflow 3: runs:/RUN/NAME also names the logged model NAME produced by the run.
        const run = await get<{ run: { info: { experiment_id: string } } }>('/runs/get', {
          run_id: parsed.runId,
        });
        const [modelName, ...rest] = parsed.path.split('/');
        const found = await client.searchLoggedModels({
          experiment_ids: [run.run.info.experiment_id],
          filter: `name = '${modelName.replace(/'/g, "\\'")}'`,
        });
        const match = found.items.find((m) => m.info.source_run_id === parsed.runId);
        if (match) {
          resolved.artifactUri = appendToUri(match.info.artifact_uri, rest.join('/'));
          resolved.modelId = match.info.model_id;
          files = await client.downloadArtifacts(resolved.artifactUri, dir);
        }
      }
      if (files.length === 0) {
        throw new TasselError(
          'RESOURCE_DOES_NOT_EXIST',
          `No model files found at ${resolved.artifactUri} (from ${uri})`,
        );
      }
      return { ...resolved, files };
    },

    watchAlias(name, alias, onChange, opts = {}) {
      return startAliasWatcher(client, transport, name, alias, onChange, opts);
    },
  };
  return client;
}

interface ProxyListing {
  files?: Array<{ path: string; is_dir: boolean; file_size?: number }>;
}

async function downloadProxied(transport: HttpTransport, uri: string, dir: string): Promise<string[]> {
  let root = uri.slice('mlflow-artifacts:'.length);
  if (root.startsWith('//')) root = root.slice(2).replace(/^[^/]*/, '');
  root = root.replace(/^\/+/, '').replace(/\/+$/, '');
  const written: string[] = [];
  const encode = (p: string) => p.split('/').map(encodeURIComponent).join('/');
  async function fetchFile(rel: string): Promise<void> {
    const remote = rel ? `${root}/${rel}` : root;
    const res = await transport.raw({
      method: 'GET',
      path: `/api/2.0/mlflow-artifacts/artifacts/${encode(remote)}`,
    });
    const target = rel ? safeJoin(dir, rel) : safeJoin(dir, remote.split('/').pop() ?? 'artifact');
    await mkdir(dirname(target), { recursive: true });
    await pipeline(Readable.fromWeb(res.body as never), createWriteStream(target));
    written.push(rel || (remote.split('/').pop() ?? 'artifact'));
  }
  async function walk(rel: string): Promise<void> {
    const remote = rel ? `${root}/${rel}` : root;
    const listing = await transport.json<ProxyListing>({
      method: 'GET',
      path: '/api/2.0/mlflow-artifacts/artifacts',
      query: { path: remote },
    });
    for (const f of listing.files ?? []) {
      const childRel = rel ? `${rel}/${f.path}` : f.path;
      if (f.is_dir) await walk(childRel);
      else await fetchFile(childRel);
    }
  }
  await walk('');
  if (written.length === 0 && root) {
    // Not a directory: maybe a single file.
    try {
      await fetchFile('');
    } catch (e) {
      if (
        !(
          e instanceof TasselError &&
          (e.code === 'RESOURCE_DOES_NOT_EXIST' || e.code === 'ENDPOINT_NOT_FOUND')
        )
      )
        throw e;
    }
  }
  return written.sort();
}

/** Relative paths of every file under a directory ('' for a single file), sorted. */
async function listLocalFiles(localPath: string): Promise<string[]> {
  const st = await stat(localPath);
  if (!st.isDirectory()) return [''];
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const entry of await readdir(join(localPath, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(child);
      else if (entry.isFile()) out.push(child);
    }
  }
  await walk('');
  return out.sort();
}

async function downloadFromRepository(repo: ArtifactRepository, rel: string, dir: string): Promise<string[]> {
  const written: string[] = [];
  for (const f of await repo.list(rel)) {
    if (f.is_dir) written.push(...(await downloadFromRepository(repo, f.path, dir)));
    else {
      const target = safeJoin(dir, f.path);
      await mkdir(dirname(target), { recursive: true });
      const { stream } = await repo.get(f.path);
      await pipeline(stream, createWriteStream(target));
      written.push(f.path);
    }
  }
  return written.sort();
}

function startAliasWatcher(
  client: RegistryClient,
  transport: HttpTransport,
  name: string,
  alias: string,
  onChange: (change: AliasChange) => void,
  opts: WatchAliasOptions,
): AliasWatcher {
  const pollMs = opts.pollIntervalMs ?? 5000;
  const reconnectMs = opts.reconnectDelayMs ?? 1000;
  let closed = false;
  let mode: AliasWatcher['mode'] = 'starting';
  let current: string | undefined;
  let known = false;
  let timer: NodeJS.Timeout | undefined;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const report = (e: unknown) => opts.onError?.(e);

  async function readAlias(): Promise<string | undefined> {
    try {
      return (await client.getModelVersionByAlias(name, alias)).version;
    } catch (e) {
      // MLflow answers a missing alias with INVALID_PARAMETER_VALUE (and a missing model with 404).
      if (
        e instanceof TasselError &&
        (e.code === 'INVALID_PARAMETER_VALUE' || e.code === 'RESOURCE_DOES_NOT_EXIST')
      ) {
        return undefined;
      }
      throw e;
    }
  }

  function update(version: string | undefined, via: 'sse' | 'poll'): void {
    if (!known) {
      known = true;
      current = version;
      return;
    }
    if (version === current) return;
    const previous = current;
    current = version;
    onChange({ name, alias, version, ...(previous !== undefined ? { previousVersion: previous } : {}), via });
  }

  async function poll(): Promise<void> {
    if (closed) return;
    try {
      update(await readAlias(), 'poll');
    } catch (e) {
      report(e);
    }
    if (!closed && mode === 'poll') {
      timer = setTimeout(poll, pollMs);
      timer.unref?.();
    }
  }

  /** 'unsupported': the server has no stream (404, not SSE); 'failed': unreachable or refused; 'ended'. */
  async function stream(): Promise<'unsupported' | 'failed' | 'ended'> {
    let res: Response;
    try {
      res = await transport.raw({
        method: 'GET',
        path: '/api/2.0/tassel/events',
        query: { name, alias },
        headers: { accept: 'text/event-stream' },
        idempotent: false,
      });
    } catch (e) {
      if (e instanceof TasselError && (e.code === 'ENDPOINT_NOT_FOUND' || e.status === 404))
        return 'unsupported';
      report(e);
      return 'failed';
    }
    if (!(res.headers.get('content-type') ?? '').includes('text/event-stream') || !res.body) {
      await res.body?.cancel().catch(() => {});
      return 'unsupported';
    }
    mode = 'sse';
    // Catch up on anything that changed between the last read and the stream opening.
    try {
      update(await readAlias(), 'poll');
    } catch (e) {
      report(e);
    }
    resolveReady();
    reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let sep: number;
        while ((sep = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, sep);
          buffer = buffer.slice(sep + 2);
          const data = frame
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trimStart())
            .join('\n');
          if (!data) continue;
          try {
            const ev = JSON.parse(data) as { type?: string; name?: string; alias?: string; version?: string };
            if (ev.name !== name || ev.alias !== alias) continue;
            if (ev.type === 'alias_deleted') update(undefined, 'sse');
            else if (ev.type === 'alias_set' || ev.type === 'alias_moved') update(ev.version, 'sse');
          } catch (e) {
            report(e);
          }
        }
      }
    } catch (e) {
      if (!closed) report(e);
    }
    return 'ended';
  }

  async function run(): Promise<void> {
    try {
      update(await readAlias(), 'poll');
    } catch (e) {
      report(e);
    }
    let backoff = reconnectMs;
    while (!closed) {
      const outcome = await stream();
      if (closed) return;
      if (outcome === 'unsupported') {
        // No event stream (a real MLflow server): poll from now on.
        mode = 'poll';
        resolveReady();
        await poll();
        return;
      }
      if (outcome === 'failed') {
        // Unreachable for now: keep up by polling while retrying the stream with backoff.
        mode = 'poll';
        resolveReady();
        try {
          update(await readAlias(), 'poll');
        } catch (e) {
          report(e);
        }
        await new Promise((r) => {
          timer = setTimeout(r, Math.min(backoff, pollMs));
        });
        backoff = Math.min(backoff * 2, 30_000);
        continue;
      }
      // The stream ended (server restart): reconnect after a pause; stream() catches up on reconnect.
      backoff = reconnectMs;
      await new Promise((r) => {
        timer = setTimeout(r, reconnectMs);
      });
    }
  }

  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => {
    resolveReady = r;
  });
  run()
    .catch(report)
    .finally(() => resolveReady());

  return {
    get mode() {
      return mode;
    },
    get current() {
      return current;
    },
    ready,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      resolveReady();
      reader?.cancel().catch(() => {});
    },
  };
}
