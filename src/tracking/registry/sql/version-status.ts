import { InputError } from '../../../errors.js';
import { parseModelUri, uriScheme } from '../../client/model-uri.js';
import type { LoggedModel, ModelVersion, ModelVersionStatus } from '../store.js';
import type { RegistryContext } from './context.js';
import { num } from './tables.js';

/** Where a new version's files are and what it came from. */
export interface ResolvedSource {
  storage: string;
  runId?: string;
  modelId?: string;
}

/** Reads the registry needs to resolve `models:/` sources (the store's own getters). */
export interface SourceReaders {
  getLoggedModel(modelId: string): Promise<LoggedModel>;
  getModelVersionDownloadUri(name: string, version: string): Promise<string>;
}

/**
 * A model version's registration status: whether its files are in place (through the artifact probe),
 * PENDING_REGISTRATION until they appear, FAILED_REGISTRATION after the timeout.
 */
export interface VersionStatus {
  /** The status of a new version whose files are at `storage`. */
  probe(storage: string, source?: string): Promise<{ status: ModelVersionStatus; message?: string }>;
  /** Re-checks a PENDING version on read: READY once the files appear, FAILED after the timeout. */
  refresh(mv: ModelVersion): Promise<ModelVersion>;
  /** Resolves a version's source (`models:/`, `runs:/`, any URI) to its storage location. */
  resolve(source: string, runId: string | undefined): Promise<ResolvedSource>;
}

/** Only locations the server itself serves are checked; others are READY at once. */
const CHECKED = new Set(['mlflow-artifacts', 'runs', 'models']);

async function probe(
  ctx: RegistryContext,
  storage: string,
  source: string = storage,
): Promise<{ status: ModelVersionStatus; message?: string }> {
  const { options } = ctx;
  if (!options.probeArtifacts) return { status: 'READY' as const };
  if (!CHECKED.has(uriScheme(storage)) && !CHECKED.has(uriScheme(source)))
    return { status: 'READY' as const };
  let found: 'present' | 'missing' | 'unknown';
  try {
    found = await options.probeArtifacts(storage);
  } catch {
    found = 'unknown';
  }
  if (found === 'missing') {
    return {
      status: 'PENDING_REGISTRATION' as const,
      message: `Waiting for the model files at ${storage}`,
    };
  }
  return { status: 'READY' as const };
}

async function refresh(ctx: RegistryContext, mv: ModelVersion): Promise<ModelVersion> {
  const pendingTimeoutMs = ctx.options.pendingTimeoutMs ?? 10 * 60_000;
  if (mv.status !== 'PENDING_REGISTRATION') return mv;
  const row = await ctx.db
    .selectFrom('model_versions')
    .select(['storage_location', 'source', 'creation_time'])
    .where('name', '=', mv.name)
    .where('version', '=', Number(mv.version))
    .executeTakeFirst();
  if (!row) return mv;
  const location = row.storage_location ?? row.source;
  const checked = await probe(ctx, location, row.source);
  let status: ModelVersionStatus = checked.status;
  let message: string | null = checked.message ?? null;
  if (status === 'PENDING_REGISTRATION' && ctx.now() - num(row.creation_time) > pendingTimeoutMs) {
    status = 'FAILED_REGISTRATION';
    message = `The model files did not appear at ${location} within ${Math.round(pendingTimeoutMs / 1000)} s`;
  }
  if (status === 'PENDING_REGISTRATION') return mv;
  const ts = ctx.now();
  await ctx.db
    .updateTable('model_versions')
    .set({ status, status_message: message, last_updated_time: ts })
    .where('name', '=', mv.name)
    .where('version', '=', Number(mv.version))
    .where('status', '=', 'PENDING_REGISTRATION')
    .execute();
  const next: ModelVersion = { ...mv, status, last_updated_timestamp: ts };
  if (message) next.status_message = message;
  else delete next.status_message;
  return next;
}

async function resolveModelsUri(
  readers: SourceReaders,
  source: string,
  runId: string | undefined,
): Promise<ResolvedSource> {
  const parsed = parseModelUri(source);
  const fail = (why: string) =>
    new InputError(`Unable to fetch model from model URI source artifact location '${source}'.Error: ${why}`);
  try {
    if (parsed.kind === 'model_id') {
      const lm = await readers.getLoggedModel(parsed.modelId);
      return {
        storage: lm.info.artifact_uri,
        runId: runId || lm.info.source_run_id,
        modelId: parsed.modelId,
      };
    }
    if (parsed.kind === 'version') {
      return { storage: await readers.getModelVersionDownloadUri(parsed.name, parsed.version), runId };
    }
  } catch (e) {
    throw fail((e as Error).message);
  }
  throw fail('only models:/<model_id> and models:/<name>/<version> sources are supported');
}

async function resolve(
  ctx: RegistryContext,
  readers: SourceReaders,
  source: string,
  runId: string | undefined,
): Promise<ResolvedSource> {
  if (uriScheme(source) === 'models') return resolveModelsUri(readers, source, runId);
  if (uriScheme(source) === 'runs' && ctx.options.resolveRunsUri) {
    try {
      return { storage: await ctx.options.resolveRunsUri(source), runId };
    } catch {
      return { storage: source, runId };
    }
  }
  return { storage: source, runId };
}

/** The version-status logic of a registry store. */
export function createVersionStatus(ctx: RegistryContext, readers: SourceReaders): VersionStatus {
  return {
    probe: (storage, source) => probe(ctx, storage, source),
    refresh: (mv) => refresh(ctx, mv),
    resolve: (source, runId) => resolve(ctx, readers, source, runId),
  };
}
