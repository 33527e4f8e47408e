import { TasselError } from '../errors.js';
import type { ReferenceProfile } from '../pipeline/profile.js';
import { createHttpTransport } from '../tracking/client/http.js';
import { createRegistryClient } from '../tracking/client/registry-client.js';
import { createTrackingClient } from '../tracking/client/tracking-client.js';

/**
 * What the monitor needs from the tracking server and registry, as one small port: resolve a model version,
 * read the reference profile its pipeline run logged, and log each window as a run of `monitoring/<model>`.
 */

export interface MonitoredVersion {
  name: string;
  version: string;
  runId: string | null;
  tags: Record<string, string>;
}

/** A logged window run, as the monitor reads its own history back. */
export interface WindowRun {
  runId: string;
  tags: Record<string, string>;
  startTime: number;
}

export interface MonitoringTracking {
  readonly uri: string;
  /** A version by number, or by alias (e.g. production). Null when the alias is unset. */
  resolveVersion(name: string, versionOrAlias: string): Promise<MonitoredVersion | null>;
  /** The reference_profile.json of a version's pipeline run. */
  readProfile(version: MonitoredVersion): Promise<ReferenceProfile>;
  getOrCreateExperiment(name: string): Promise<string>;
  /** The newest window runs of a model (newest first, at most `max`). */
  windowRuns(experimentId: string, model: string, max: number): Promise<WindowRun[]>;
  createRun(experimentId: string, name: string, tags: Record<string, string>): Promise<string>;
  logBatch(
    runId: string,
    batch: {
      metrics?: Array<{ key: string; value: number; step: number }>;
      params?: Record<string, string>;
      tags?: Record<string, string>;
    },
  ): Promise<void>;
  logText(runId: string, path: string, text: string): Promise<void>;
  endRun(runId: string, status: 'FINISHED' | 'FAILED'): Promise<void>;
}

const kv = (o: Record<string, string>) => Object.entries(o).map(([key, value]) => ({ key, value }));
const notFound = (e: unknown) =>
  e instanceof TasselError && (e.code === 'RESOURCE_DOES_NOT_EXIST' || e.code === 'NOT_FOUND');

/** The port over Tassel's REST clients (any Tassel or MLflow tracking server). */
export function createMonitoringTracking(options: {
  uri: string;
  token?: string;
  retries?: number;
}): MonitoringTracking {
  const uri = options.uri.replace(/\/+$/, '');
  const transport = createHttpTransport({
    baseUrl: uri,
    ...(options.token ? { token: options.token } : {}),
    ...(options.retries !== undefined ? { maxRetries: options.retries } : {}),
  });
  const client = createTrackingClient({ trackingUri: uri, transport });
  const registry = createRegistryClient({ trackingUri: uri, transport });
  const toVersion = (mv: {
    name: string;
    version: string | number;
    run_id?: string | null;
    tags?: Array<{ key: string; value: string }>;
  }): MonitoredVersion => ({
    name: mv.name,
    version: String(mv.version),
    runId: mv.run_id ?? null,
    tags: Object.fromEntries((mv.tags ?? []).map((t) => [t.key, t.value])),
  });
  return {
    uri,
    async resolveVersion(name, versionOrAlias) {
      if (/^\d+$/.test(versionOrAlias))
        return toVersion(await registry.getModelVersion(name, versionOrAlias));
      try {
        return toVersion(await registry.getModelVersionByAlias(name, versionOrAlias));
      } catch (e) {
        // MLflow answers a missing alias (or model) with INVALID_PARAMETER_VALUE or RESOURCE_DOES_NOT_EXIST
        if (notFound(e) || (e instanceof TasselError && e.code === 'INVALID_PARAMETER_VALUE')) return null;
        throw e;
      }
    },
    async readProfile(version) {
      if (!version.runId)
        throw new TasselError(
          'INVALID_PARAMETER_VALUE',
          `${version.name} v${version.version} has no run to read a reference profile from`,
        );
      let text = '';
      try {
        const stream = await client.openArtifact(version.runId, 'reference_profile.json');
        for await (const chunk of stream) text += chunk.toString();
      } catch (e) {
        if (notFound(e))
          throw new TasselError(
            'RESOURCE_DOES_NOT_EXIST',
            `${version.name} v${version.version}: its run ${version.runId} logged no reference_profile.json (train it with tassel pipeline run)`,
          );
        throw e;
      }
      return JSON.parse(text) as ReferenceProfile;
    },
    async getOrCreateExperiment(name) {
      try {
        return (await client.getExperimentByName(name)).experiment_id;
      } catch (e) {
        if (!notFound(e)) throw e;
      }
      try {
        return await client.createExperiment({ name });
      } catch (e) {
        if (e instanceof TasselError && e.code === 'RESOURCE_ALREADY_EXISTS')
          return (await client.getExperimentByName(name)).experiment_id;
        throw e;
      }
    },
    async windowRuns(experimentId, model, max) {
      const res = await client.searchRuns({
        experiment_ids: [experimentId],
        filter: `tags.\`tassel.monitoring.model\` = '${model.replace(/'/g, "''")}'`,
        order_by: ['attributes.start_time DESC'],
        max_results: max,
      });
      return (res.runs ?? []).map((r) => ({
        runId: r.info.run_id,
        startTime: Number(r.info.start_time),
        tags: Object.fromEntries((r.data.tags ?? []).map((t) => [t.key, t.value])),
      }));
    },
    async createRun(experimentId, name, tags) {
      const run = await client.createRun({
        experiment_id: experimentId,
        run_name: name,
        start_time: Date.now(),
        tags: kv({ ...tags, 'mlflow.runName': name }),
      });
      return run.info.run_id;
    },
    async logBatch(runId, batch) {
      const now = Date.now();
      await client.logBatch({
        run_id: runId,
        metrics: (batch.metrics ?? []).map((m) => ({ ...m, timestamp: now })),
        params: kv(batch.params ?? {}),
        tags: kv(batch.tags ?? {}),
      });
    },
    async logText(runId, path, text) {
      await client.logArtifactContent(runId, path, Buffer.from(text));
    },
    async endRun(runId, status) {
      await client.updateRun({ run_id: runId, status, end_time: Date.now() });
    },
  };
}
