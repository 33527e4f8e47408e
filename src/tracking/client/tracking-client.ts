import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InputError } from '../../errors.js';
import { joinArtifactPath, normalizeArtifactPath } from '../artifacts/paths.js';
import { createArtifactRepository } from '../artifacts/registry.js';
import type { FileInfo } from '../artifacts/types.js';
import type {
  CreateExperimentRequest,
  CreateRunRequest,
  DatasetInput,
  Experiment,
  GetMetricHistoryBulkIntervalRequest,
  GetMetricHistoryRequest,
  KeyValue,
  LogBatchRequest,
  Metric,
  MetricWithRunId,
  Run,
  RunInfo,
  SearchExperimentsRequest,
  SearchRunsRequest,
  TrackingStore,
  UpdateRunRequest,
} from '../store/types.js';
import { createHttpTransport, type HttpTransport, type HttpTransportOptions } from './http.js';

/** Options of {@link createTrackingClient}. */
export interface TrackingClientOptions extends Omit<HttpTransportOptions, 'baseUrl'> {
  /** `http(s)://host:port` of a Tassel or MLflow tracking server; default MLFLOW_TRACKING_URI. */
  trackingUri?: string;
  /** A transport to share (the registry client reuses the tracking client's). */
  transport?: HttpTransport;
}

/** The REST client: every TrackingStore operation plus the single-value helpers and artifact transfer. */
export interface TrackingClient extends TrackingStore {
  readonly transport: HttpTransport;
  logMetric(
    runId: string,
    key: string,
    value: number,
    options?: { timestamp?: number; step?: number },
  ): Promise<void>;
  logParam(runId: string, key: string, value: string): Promise<void>;
  setTag(runId: string, key: string, value: string): Promise<void>;
  /** artifacts/list: direct children of `path` under the run's artifact root. */
  listArtifacts(runId: string, path?: string): Promise<{ root_uri: string; files: FileInfo[] }>;
  /** Uploads a file or a whole directory under `artifactPath` of the run's artifacts. */
  logArtifacts(runId: string, localPath: string, artifactPath?: string): Promise<void>;
  /** Uploads bytes or a stream as one artifact of the run. */
  logArtifactContent(runId: string, artifactPath: string, body: Uint8Array | Readable): Promise<void>;
  /** Downloads a file or directory (recursively) of the run's artifacts to `destination`; returns the local path. */
  downloadArtifacts(runId: string, path: string, destination: string): Promise<string>;
  /** Opens one artifact of the run as a stream. */
  openArtifact(runId: string, path: string): Promise<Readable>;
}

const API = '/api/2.0/mlflow';
const PROXY = '/api/2.0/mlflow-artifacts/artifacts';

const num = (v: unknown): number => (typeof v === 'string' ? Number(v) : (v as number));

function metricIn(m: Record<string, unknown>): Metric {
  const v = m.value;
  return {
    key: String(m.key),
    value:
      typeof v === 'string'
        ? Number(v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v)
        : v === null
          ? Number.NaN
          : (v as number),
    timestamp: num(m.timestamp ?? 0),
    step: num(m.step ?? 0),
  };
}

/** JSON spelling of a metric value: NaN and infinities as protobuf's strings. */
function metricValueOut(v: number): number | string {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

const kv = (items: unknown): KeyValue[] =>
  ((items as Array<{ key: string; value?: string }>) ?? []).map((t) => ({
    key: t.key,
    value: t.value ?? '',
  }));

/** Normalises a run from any MLflow-compatible server (which omits empty lists) to the store shape. */
export function normalizeRun(raw: Record<string, unknown>): Run {
  const info = (raw.info ?? {}) as Record<string, unknown>;
  const data = (raw.data ?? {}) as Record<string, unknown>;
  const inputs = (raw.inputs ?? {}) as Record<string, unknown>;
  const outputs = (raw.outputs as { model_outputs?: Array<Record<string, unknown>> } | undefined)
    ?.model_outputs;
  const run: Run = {
    info: normalizeRunInfo(info),
    data: {
      metrics: ((data.metrics as Record<string, unknown>[]) ?? []).map(metricIn),
      params: kv(data.params),
      tags: kv(data.tags),
    },
    inputs: {
      dataset_inputs: ((inputs.dataset_inputs as Array<Record<string, unknown>>) ?? []).map((d) => ({
        tags: kv(d.tags),
        dataset: d.dataset as DatasetInput['dataset'],
      })),
    },
  };
  // MLflow 3 servers list the logged models a run used (runs/log-inputs `models`); older ones send none.
  const modelInputs = inputs.model_inputs as Array<Record<string, unknown>> | undefined;
  if (modelInputs) run.inputs.model_inputs = modelInputs.map((m) => ({ model_id: String(m.model_id) }));
  // MLflow 3 servers send outputs only for runs that recorded logged models (runs/outputs).
  if (outputs?.length)
    run.outputs = {
      model_outputs: outputs.map((o) => ({ model_id: String(o.model_id), step: num(o.step ?? 0) })),
    };
  return run;
}

function normalizeRunInfo(info: Record<string, unknown>): RunInfo {
  const id = String(info.run_id ?? info.run_uuid);
  const out: RunInfo = {
    run_id: id,
    run_uuid: id,
    run_name: String(info.run_name ?? ''),
    experiment_id: String(info.experiment_id),
    user_id: String(info.user_id ?? ''),
    status: (info.status ?? 'RUNNING') as RunInfo['status'],
    start_time: num(info.start_time ?? 0),
    artifact_uri: String(info.artifact_uri ?? ''),
    lifecycle_stage: (info.lifecycle_stage ?? 'active') as RunInfo['lifecycle_stage'],
  };
  if (info.end_time !== undefined && info.end_time !== null) out.end_time = num(info.end_time);
  return out;
}

function normalizeExperiment(e: Record<string, unknown>): Experiment {
  return {
    experiment_id: String(e.experiment_id),
    name: String(e.name),
    artifact_location: String(e.artifact_location ?? ''),
    lifecycle_stage: (e.lifecycle_stage ?? 'active') as Experiment['lifecycle_stage'],
    last_update_time: num(e.last_update_time ?? 0),
    creation_time: num(e.creation_time ?? 0),
    tags: kv(e.tags),
  };
}

/** Path of an artifact inside the proxy for an `mlflow-artifacts:` URI, or undefined for other URIs. */
function proxyPathOf(artifactUri: string): string | undefined {
  if (!artifactUri.startsWith('mlflow-artifacts:')) return undefined;
  let rest = artifactUri.slice('mlflow-artifacts:'.length);
  if (rest.startsWith('//')) rest = rest.slice(2).replace(/^[^/]*/, '');
  return rest.replace(/^\/+/, '');
}

const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

/**
 * A typed client for MLflow's tracking REST API that works against Tassel's server and a real MLflow
 * server. Idempotent calls are retried with backoff; errors carry MLflow's error codes. Artifacts of
 * `mlflow-artifacts:` runs go through the server's proxy, `file:` and `s3:` ones directly.
 */
export function createTrackingClient(options: TrackingClientOptions = {}): TrackingClient {
  const env = options.env ?? process.env;
  const trackingUri = options.trackingUri ?? env.MLFLOW_TRACKING_URI;
  if (!trackingUri || !/^https?:\/\//.test(trackingUri)) {
    throw new InputError(`A tracking URI must be http(s)://host:port; got '${trackingUri ?? ''}'`);
  }
  const http = options.transport ?? createHttpTransport({ ...options, baseUrl: trackingUri });
  const get = <T>(
    path: string,
    query: Record<string, string | number | undefined | Array<string | number>>,
  ) => http.json<T>({ method: 'GET', path: `${API}${path}`, query });
  const post = <T>(path: string, body: unknown, idempotent = false) =>
    http.json<T>({ method: 'POST', path: `${API}${path}`, body, idempotent });

  const runArtifactUri = async (runId: string) => (await client.getRun(runId)).info.artifact_uri;

  async function listUnder(artifactUri: string, path: string): Promise<FileInfo[]> {
    const proxied = proxyPathOf(artifactUri);
    if (proxied !== undefined) {
      const base = joinArtifactPath(proxied, path);
      const r = await http.json<{ files?: FileInfo[] }>({
        method: 'GET',
        path: PROXY,
        query: { path: base },
      });
      return (r.files ?? []).map((f) => ({ ...f, path: joinArtifactPath(path, f.path.split('/').pop()!) }));
    }
    const repo = createArtifactRepository(artifactUri);
    return repo.list(path);
  }

  async function openUnder(artifactUri: string, path: string): Promise<Readable> {
    const proxied = proxyPathOf(artifactUri);
    if (proxied !== undefined) {
      const res = await http.raw({
        method: 'GET',
        path: `${PROXY}/${encodePath(joinArtifactPath(proxied, path))}`,
      });
      return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
    }
    return (await createArtifactRepository(artifactUri).get(path)).stream;
  }

  async function putUnder(artifactUri: string, path: string, body: Uint8Array | Readable): Promise<void> {
    const proxied = proxyPathOf(artifactUri);
    if (proxied !== undefined) {
      await http.json({
        method: 'PUT',
        path: `${PROXY}/${encodePath(joinArtifactPath(proxied, path))}`,
        raw: body,
      });
      return;
    }
    await createArtifactRepository(artifactUri).put(path, body);
  }

  const client: TrackingClient = {
    transport: http,
    async createExperiment(req: CreateExperimentRequest) {
      return (await post<{ experiment_id: string }>('/experiments/create', req)).experiment_id;
    },
    async getExperiment(id) {
      return normalizeExperiment(
        (await get<{ experiment: Record<string, unknown> }>('/experiments/get', { experiment_id: id }))
          .experiment,
      );
    },
    async getExperimentByName(name) {
      const r = await get<{ experiment: Record<string, unknown> }>('/experiments/get-by-name', {
        experiment_name: name,
      });
      return normalizeExperiment(r.experiment);
    },
    async searchExperiments(req: SearchExperimentsRequest) {
      const r = await post<{ experiments?: Record<string, unknown>[]; next_page_token?: string }>(
        '/experiments/search',
        req,
        true,
      );
      const experiments = (r.experiments ?? []).map(normalizeExperiment);
      return r.next_page_token ? { experiments, next_page_token: r.next_page_token } : { experiments };
    },
    async renameExperiment(id, newName) {
      await post('/experiments/update', { experiment_id: id, new_name: newName }, true);
    },
    async deleteExperiment(id) {
      await post('/experiments/delete', { experiment_id: id });
    },
    async restoreExperiment(id) {
      await post('/experiments/restore', { experiment_id: id });
    },
    async setExperimentTag(id, key, value) {
      await post('/experiments/set-experiment-tag', { experiment_id: id, key, value }, true);
    },
    async deleteExperimentTag(id, key) {
      await post('/experiments/delete-experiment-tag', { experiment_id: id, key });
    },
    async createRun(req: CreateRunRequest) {
      return normalizeRun((await post<{ run: Record<string, unknown> }>('/runs/create', req)).run);
    },
    async getRun(runId) {
      return normalizeRun((await get<{ run: Record<string, unknown> }>('/runs/get', { run_id: runId })).run);
    },
    async updateRun(req: UpdateRunRequest) {
      const r = await post<{ run_info: Record<string, unknown> }>('/runs/update', req, true);
      return normalizeRunInfo(r.run_info);
    },
    async deleteRun(runId) {
      await post('/runs/delete', { run_id: runId });
    },
    async restoreRun(runId) {
      await post('/runs/restore', { run_id: runId });
    },
    async searchRuns(req: SearchRunsRequest) {
      const r = await post<{ runs?: Record<string, unknown>[]; next_page_token?: string }>(
        '/runs/search',
        req,
        true,
      );
      const runs = (r.runs ?? []).map(normalizeRun);
      return r.next_page_token ? { runs, next_page_token: r.next_page_token } : { runs };
    },
    async logBatch(req: LogBatchRequest) {
      const body = {
        run_id: req.run_id,
        metrics: (req.metrics ?? []).map((m) => ({ ...m, value: metricValueOut(m.value) })),
        params: req.params ?? [],
        tags: req.tags ?? [],
      };
      // Re-sending params and tags is harmless; re-sending metrics would duplicate history rows.
      await post('/runs/log-batch', body, body.metrics.length === 0);
    },
    async deleteTag(runId, key) {
      await post('/runs/delete-tag', { run_id: runId, key });
    },
    async logInputs(runId, datasets, models) {
      await post(
        '/runs/log-inputs',
        { run_id: runId, datasets, ...(models?.length ? { models } : {}) },
        true,
      );
    },
    async getMetricHistory(req: GetMetricHistoryRequest) {
      const r = await get<{ metrics?: Record<string, unknown>[]; next_page_token?: string }>(
        '/metrics/get-history',
        {
          run_id: req.run_id,
          metric_key: req.metric_key,
          max_results: req.max_results,
          page_token: req.page_token,
        },
      );
      const metrics = (r.metrics ?? []).map(metricIn);
      return r.next_page_token ? { metrics, next_page_token: r.next_page_token } : { metrics };
    },
    async getMetricHistoryBulkInterval(req: GetMetricHistoryBulkIntervalRequest) {
      const r = await get<{ metrics?: Record<string, unknown>[] }>('/metrics/get-history-bulk-interval', {
        run_ids: req.run_ids,
        metric_key: req.metric_key,
        start_step: req.start_step,
        end_step: req.end_step,
        max_results: req.max_results,
      });
      return {
        metrics: (r.metrics ?? []).map(
          (m): MetricWithRunId => ({ ...metricIn(m), run_id: String(m.run_id) }),
        ),
      };
    },
    async logMetric(runId, key, value, opts = {}) {
      await post('/runs/log-metric', {
        run_id: runId,
        key,
        value: metricValueOut(value),
        timestamp: opts.timestamp ?? Date.now(),
        step: opts.step ?? 0,
      });
    },
    async logParam(runId, key, value) {
      await post('/runs/log-parameter', { run_id: runId, key, value }, true);
    },
    async setTag(runId, key, value) {
      await post('/runs/set-tag', { run_id: runId, key, value }, true);
    },
    async listArtifacts(runId, path) {
      const r = await get<{ root_uri?: string; files?: FileInfo[] }>('/artifacts/list', {
        run_id: runId,
        path,
      });
      return { root_uri: r.root_uri ?? '', files: r.files ?? [] };
    },
    async logArtifactContent(runId, artifactPath, body) {
      const rel = normalizeArtifactPath(artifactPath);
      await putUnder(await runArtifactUri(runId), rel, body);
    },
    async logArtifacts(runId, localPath, artifactPath = '') {
      const base = normalizeArtifactPath(artifactPath);
      const uri = await runArtifactUri(runId);
      const st = await stat(localPath);
      if (st.isFile()) {
        const name = localPath.split(sep).pop()!;
        await putUnder(uri, joinArtifactPath(base, name), createReadStream(localPath));
        return;
      }
      const walk = async (dir: string): Promise<string[]> => {
        const out: string[] = [];
        for (const e of await readdir(dir, { withFileTypes: true })) {
          const p = join(dir, e.name);
          if (e.isDirectory()) out.push(...(await walk(p)));
          else if (e.isFile()) out.push(p);
        }
        return out;
      };
      for (const file of await walk(localPath)) {
        const rel = relative(localPath, file).split(sep).join('/');
        await putUnder(uri, joinArtifactPath(base, rel), createReadStream(file));
      }
    },
    async openArtifact(runId, path) {
      return openUnder(await runArtifactUri(runId), normalizeArtifactPath(path));
    },
    async downloadArtifacts(runId, path, destination) {
      const uri = await runArtifactUri(runId);
      const rel = normalizeArtifactPath(path);
      const fetchFile = async (p: string, target: string) => {
        await mkdir(dirname(target), { recursive: true });
        const temp = `${target}.tassel-download-${process.pid}`;
        try {
          await pipeline(await openUnder(uri, p), createWriteStream(temp));
          await rename(temp, target);
        } catch (e) {
          await unlink(temp).catch(() => {});
          throw e;
        }
      };
      const children = rel === '' ? await listUnder(uri, '') : await listUnder(uri, rel);
      const isDir = rel === '' || children.length > 0;
      if (!isDir) {
        const target = join(destination, ...rel.split('/'));
        await fetchFile(rel, target);
        return target;
      }
      const walk = async (entries: FileInfo[]) => {
        for (const f of entries) {
          if (f.is_dir) await walk(await listUnder(uri, f.path));
          else await fetchFile(f.path, join(destination, ...f.path.split('/')));
        }
      };
      await walk(children);
      return join(destination, ...rel.split('/').filter(Boolean));
    },
  };
  return client;
}
