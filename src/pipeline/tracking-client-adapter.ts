import { TasselError } from '../errors.js';
import { createHttpTransport } from '../tracking/client/http.js';
import { createRegistryClient } from '../tracking/client/registry-client.js';
import { createTrackingClient } from '../tracking/client/tracking-client.js';
import type { ModelVersion } from '../tracking/registry/store.js';
import type { PipelineTracking, VersionInfo } from './tracking-port.js';

/**
 * The pipeline's tracking port on Tassel's TypeScript clients (src/tracking/client): the tracking client
 * for experiments, runs, metrics, inputs and artifacts, the registry client for versions, aliases and the
 * alias audit trail. Both speak MLflow's REST API, so a real MLflow server works too (minus the audit trail).
 */
export interface ClientTrackingOptions {
  /** http(s)://host:port of the tracking server. */
  uri: string;
  /** Bearer token; default MLFLOW_TRACKING_TOKEN, then TASSEL_AUTH_TOKEN (the client's rule). */
  token?: string;
  /** Retries of idempotent calls on 429, 5xx and connection errors (default 5). */
  retries?: number;
  /** First backoff in ms (default 100, doubled with jitter). */
  backoffMs?: number;
  /** Per-attempt timeout in ms (default 30 s). */
  timeoutMs?: number;
}

const kv = (tags: Record<string, string>) => Object.entries(tags).map(([key, value]) => ({ key, value }));
const fromKv = (list: Array<{ key: string; value: string }> | undefined): Record<string, string> =>
  Object.fromEntries((list ?? []).map((t) => [t.key, t.value]));

const toVersion = (mv: ModelVersion): VersionInfo => ({
  name: mv.name,
  version: String(mv.version),
  source: mv.source,
  runId: mv.run_id ?? null,
  tags: fromKv(mv.tags),
});

const notFound = (e: unknown) =>
  e instanceof TasselError && (e.code === 'RESOURCE_DOES_NOT_EXIST' || e.code === 'NOT_FOUND');

/** Connection failures (after the client's retries) as one clear, catalogued error. */
function unreachable(uri: string, e: unknown): unknown {
  if (e instanceof TasselError) return e;
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const why = err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e);
  return new TasselError(
    'TEMPORARILY_UNAVAILABLE',
    `tracking server ${uri} unreachable after retries (${why})`,
    { cause: e },
  );
}

/** A PipelineTracking over createTrackingClient + createRegistryClient sharing one HTTP transport. */
export function createClientTracking(options: ClientTrackingOptions): PipelineTracking {
  const uri = options.uri.replace(/\/+$/, '');
  const transport = createHttpTransport({
    baseUrl: uri,
    ...(options.token ? { token: options.token } : {}),
    ...(options.retries !== undefined ? { maxRetries: options.retries } : {}),
    ...(options.backoffMs !== undefined ? { backoffMs: options.backoffMs } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
  const client = createTrackingClient({ trackingUri: uri, transport });
  const registry = createRegistryClient({ trackingUri: uri, transport });
  const wrap =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (e) {
        throw unreachable(uri, e);
      }
    };

  const getVersion = wrap(async (name: string, version: string) =>
    toVersion(await registry.getModelVersion(name, version)),
  );

  return {
    uri,
    getOrCreateExperiment: wrap(async (name: string) => {
      try {
        return (await client.getExperimentByName(name)).experiment_id;
      } catch (e) {
        if (!notFound(e)) throw e;
      }
      try {
        return await client.createExperiment({ name });
      } catch (e) {
        // Created concurrently by another run: read it back.
        if (e instanceof TasselError && e.code === 'RESOURCE_ALREADY_EXISTS')
          return (await client.getExperimentByName(name)).experiment_id;
        throw e;
      }
    }),
    createRun: wrap(async (experimentId: string, runName: string, tags: Record<string, string>) => {
      const run = await client.createRun({
        experiment_id: experimentId,
        run_name: runName,
        start_time: Date.now(),
        tags: kv(tags),
      });
      return { runId: run.info.run_id, artifactUri: run.info.artifact_uri };
    }),
    logBatch: wrap(async (runId, batch) => {
      const ts = Date.now();
      const metrics = (batch.metrics ?? []).map((m) => ({
        key: m.key,
        value: m.value,
        step: m.step ?? 0,
        timestamp: m.timestamp ?? ts,
      }));
      const params = kv(batch.params ?? {}).map((p) => ({ key: p.key, value: p.value.slice(0, 6000) }));
      const tags = kv(batch.tags ?? {});
      // MLflow's per-call limits: 1,000 metrics, 100 params, 100 tags.
      const calls = Math.max(
        Math.ceil(metrics.length / 1000),
        Math.ceil(params.length / 100),
        Math.ceil(tags.length / 100),
      );
      for (let i = 0; i < calls; i++)
        await client.logBatch({
          run_id: runId,
          metrics: metrics.slice(i * 1000, (i + 1) * 1000),
          params: params.slice(i * 100, (i + 1) * 100),
          tags: tags.slice(i * 100, (i + 1) * 100),
        });
    }),
    logInputs: wrap(async (runId, datasets) => {
      await client.logInputs(
        runId,
        datasets.map((d) => ({
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
      );
    }),
    endRun: wrap(async (runId, status) => {
      await client.updateRun({ run_id: runId, status, end_time: Date.now() });
    }),
    uploadArtifacts: wrap(async (runId, localDir, artifactPath = '') => {
      await client.logArtifacts(runId, localDir, artifactPath || undefined);
    }),
    ensureRegisteredModel: wrap(async (name: string) => {
      try {
        await registry.createRegisteredModel({ name });
      } catch (e) {
        if (!(e instanceof TasselError && e.code === 'RESOURCE_ALREADY_EXISTS')) throw e;
      }
    }),
    createModelVersion: wrap(async (name, source, runId, tags, description) =>
      toVersion(
        await registry.createModelVersion({
          name,
          source,
          run_id: runId,
          tags: kv(tags),
          ...(description ? { description } : {}),
        }),
      ),
    ),
    setVersionTag: wrap(async (name, version, key, value) => {
      await registry.setModelVersionTag(name, version, key, value);
    }),
    setAlias: wrap(async (name, alias, version, reason) => {
      await registry.setRegisteredModelAlias(name, alias, version, reason ? { reason } : undefined);
    }),
    getVersionByAlias: wrap(async (name: string, alias: string) => {
      try {
        return toVersion(await registry.getModelVersionByAlias(name, alias));
      } catch (e) {
        if (
          notFound(e) ||
          (e instanceof TasselError && e.status === 400 && /alias|not found|does not exist/i.test(e.message))
        )
          return null;
        throw e;
      }
    }),
    getVersion,
    listVersions: wrap(async (name: string) => {
      const out: VersionInfo[] = [];
      let token: string | undefined;
      do {
        const page = await registry.searchModelVersions({
          filter: `name='${name.replace(/'/g, "\\'")}'`,
          max_results: 200,
          ...(token ? { page_token: token } : {}),
        });
        out.push(...page.items.map(toVersion));
        token = page.next_page_token || undefined;
      } while (token);
      return out.sort((a, b) => Number(b.version) - Number(a.version));
    }),
    getAliases: wrap(async (name: string) => {
      const m = await registry.getRegisteredModel(name);
      return Object.fromEntries((m.aliases ?? []).map((a) => [a.alias, String(a.version)]));
    }),
    listModels: wrap(async () => {
      const names: string[] = [];
      let token: string | undefined;
      do {
        const page = await registry.searchRegisteredModels({
          max_results: 200,
          ...(token ? { page_token: token } : {}),
        });
        names.push(...page.items.map((m) => m.name));
        token = page.next_page_token || undefined;
      } while (token);
      return names;
    }),
    aliasHistory: wrap(async (name: string, alias: string) => {
      const out: Awaited<ReturnType<PipelineTracking['aliasHistory']>> = [];
      let token: string | undefined;
      do {
        let page: Awaited<ReturnType<typeof registry.getAliasHistory>>;
        try {
          page = await registry.getAliasHistory({
            name,
            alias,
            max_results: 1000,
            ...(token ? { page_token: token } : {}),
          });
        } catch (e) {
          if (e instanceof TasselError && e.code === 'ENDPOINT_NOT_FOUND')
            throw new TasselError(
              'NOT_IMPLEMENTED',
              `${uri} keeps no alias history (not a Tassel server?); promote a version instead`,
            );
          throw e;
        }
        for (const h of page.items)
          out.push({
            id: h.id,
            alias: h.alias,
            fromVersion: h.from_version ?? null,
            toVersion: h.to_version ?? null,
            timestamp: h.timestamp,
            reason: h.reason ?? null,
            actor: h.principal ?? null,
          });
        token = page.next_page_token || undefined;
      } while (token);
      return out.sort((a, b) => a.timestamp - b.timestamp || (a.id ?? 0) - (b.id ?? 0));
    }),
    downloadVersion: wrap(async (name: string, version: string, dir: string) => {
      const artifactUri = await registry.getModelVersionDownloadUri(name, version);
      await registry.downloadArtifacts(artifactUri, dir);
    }),
  };
}
