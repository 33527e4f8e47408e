import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { InputError, TasselError } from '../../../errors.js';
import type { AnyKysely } from '../../sql/database.js';
import { inTransaction, withDbErrors } from '../../sql/transaction.js';
import { randomRunName } from '../run-names.js';
import {
  type CreateRunRequest,
  type KeyValue,
  type LogBatchRequest,
  RUN_STATUSES,
  type SearchRunsRequest,
  type TrackingStore,
  type UpdateRunRequest,
} from '../types.js';
import { LIMITS, validateBatch, validateLength, validateName } from '../validation.js';
import { appendToUri, type SqlStoreContext } from './context.js';
import { activeExperimentRow } from './experiments.js';
import { insertMetrics } from './metrics.js';
import { insertParams } from './params.js';
import { createRunLoader, type RunLoader, type RunLoaderOptions } from './run-loading.js';
import { activeRunForWrite, runRow, toRunInfo } from './run-rows.js';
import { searchRunsPage } from './run-search.js';
import { RUN_NAME_TAG, USER_TAG, upsertRunTags } from './tags.js';

type RunOps = Pick<
  TrackingStore,
  | 'createRun'
  | 'getRun'
  | 'getRunWire'
  | 'searchRunsWire'
  | 'updateRun'
  | 'deleteRun'
  | 'restoreRun'
  | 'searchRuns'
  | 'logBatch'
>;

/** The store context plus its run loader (which caches prepared statements). */
interface RunContext extends SqlStoreContext {
  loader: RunLoader;
}

/** A new run's name: run_name, else its mlflow.runName tag, else a random one; both must agree. */
function runNameOf(req: CreateRunRequest, tags: KeyValue[]): string {
  for (const t of tags) {
    validateName('tag', t.key);
    validateLength('Tag value', LIMITS.maxTagValueLength, t.value);
  }
  const tagName = tags.find((t) => t.key === RUN_NAME_TAG)?.value;
  if (req.run_name && tagName !== undefined && tagName !== req.run_name) {
    throw new InputError(
      `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${req.run_name}', mlflow.runName='${tagName}').`,
    );
  }
  const runName = req.run_name || tagName || randomRunName();
  validateLength('Run name', LIMITS.maxRunNameLength, runName);
  return runName;
}

/**
 * Sets a run's lifecycle stage (delete / restore), recording when it was deleted; one UPDATE that also bumps
 * the run's revision (see writeRunRow).
 */
async function setRunLifecycle(ctx: SqlStoreContext, runId: string, to: 'active' | 'deleted'): Promise<void> {
  const r = await withDbErrors(() =>
    ctx.db
      .updateTable('runs')
      .set({
        lifecycle_stage: to,
        deleted_time: to === 'deleted' ? Date.now() : null,
        revision: sql`revision + 1`,
      })
      .where('run_uuid', '=', runId)
      .executeTakeFirst(),
  );
  if (Number(r.numUpdatedRows) === 0) {
    throw new TasselError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
  }
}

async function createRun(ctx: RunContext, req: CreateRunRequest): ReturnType<TrackingStore['createRun']> {
  const tags = req.tags ?? [];
  const runName = runNameOf(req, tags);
  const runId = randomUUID().replace(/-/g, '');
  const userId = req.user_id ?? tags.find((t) => t.key === USER_TAG)?.value ?? '';
  await inTransaction(ctx.db, async (trx) => {
    const exp = await activeExperimentRow(trx, req.experiment_id);
    await trx
      .insertInto('runs')
      .values({
        run_uuid: runId,
        name: runName,
        experiment_id: Number(req.experiment_id),
        user_id: userId,
        status: 'RUNNING',
        start_time: req.start_time ?? Date.now(),
        end_time: null,
        lifecycle_stage: 'active',
        artifact_uri: appendToUri(appendToUri(exp.artifact_location ?? '', runId), 'artifacts'),
      })
      .execute();
    await upsertRunTags(trx, runId, [
      ...tags.filter((t) => t.key !== RUN_NAME_TAG),
      { key: RUN_NAME_TAG, value: runName },
    ]);
  });
  return getRun(ctx, runId);
}

async function getRun(ctx: RunContext, runId: string): ReturnType<TrackingStore['getRun']> {
  const [run] = await withDbErrors(() => ctx.loader.loadRuns([runId]));
  if (!run) throw new TasselError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
  return run;
}

async function updateRun(
  ctx: SqlStoreContext,
  req: UpdateRunRequest,
): ReturnType<TrackingStore['updateRun']> {
  if (req.status !== undefined && !RUN_STATUSES.includes(req.status)) {
    throw new InputError(`Invalid run status '${req.status}'`);
  }
  if (req.run_name !== undefined) validateLength('Run name', LIMITS.maxRunNameLength, req.run_name);
  await inTransaction(ctx.db, async (trx) => {
    await activeRunForWrite(ctx, trx, req.run_id);
    const set: Record<string, unknown> = {};
    if (req.status !== undefined) set.status = req.status;
    if (req.end_time !== undefined) set.end_time = req.end_time;
    if (req.run_name) set.name = req.run_name;
    if (Object.keys(set).length)
      await trx.updateTable('runs').set(set).where('run_uuid', '=', req.run_id).execute();
    if (req.run_name) await upsertRunTags(trx, req.run_id, [{ key: RUN_NAME_TAG, value: req.run_name }]);
  });
  return toRunInfo(await runRow(ctx, ctx.db, req.run_id));
}

async function searchRuns(ctx: RunContext, req: SearchRunsRequest): ReturnType<TrackingStore['searchRuns']> {
  const page = await searchRunsPage(ctx, req);
  const runs = await withDbErrors(() => ctx.loader.loadRuns(page.ids, page.revisions));
  return page.next ? { runs, next_page_token: page.next } : { runs };
}

async function logBatch(ctx: SqlStoreContext, req: LogBatchRequest): ReturnType<TrackingStore['logBatch']> {
  const metrics = req.metrics ?? [];
  const params = req.params ?? [];
  const tags = req.tags ?? [];
  validateBatch(metrics, params, tags);
  await inTransaction(ctx.db, async (trx: AnyKysely) => {
    await activeRunForWrite(ctx, trx, req.run_id);
    await insertParams(trx, req.run_id, params);
    await insertMetrics(ctx, trx, req.run_id, metrics);
    await upsertRunTags(trx, req.run_id, tags);
  });
}

async function getRunWire(ctx: RunContext, runId: string): Promise<string> {
  const [wire] = await withDbErrors(() => ctx.loader.loadRunsWire([runId]));
  if (wire === undefined) throw new TasselError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
  return wire;
}

async function searchRunsWire(
  ctx: RunContext,
  req: SearchRunsRequest,
): Promise<{ runs: string[]; next_page_token?: string }> {
  const page = await searchRunsPage(ctx, req);
  const runs = await withDbErrors(() => ctx.loader.loadRunsWire(page.ids, page.revisions));
  return page.next ? { runs, next_page_token: page.next } : { runs };
}

/**
 * The run aggregate: `runs`, and logBatch, which writes a run's params, metrics and tags in one
 * transaction through their aggregates (log-metric, log-parameter and set-tag go through it). Runs are
 * also offered as the wire JSON the database builds (getRunWire, searchRunsWire).
 */
export function runOps(store: SqlStoreContext, options: RunLoaderOptions): RunOps {
  const ctx: RunContext = { ...store, loader: createRunLoader(store, options) };
  return {
    createRun: (req) => createRun(ctx, req),
    getRun: (runId) => getRun(ctx, runId),
    getRunWire: (runId) => getRunWire(ctx, runId),
    searchRunsWire: (req) => searchRunsWire(ctx, req),
    updateRun: (req) => updateRun(ctx, req),
    deleteRun: (runId) => setRunLifecycle(ctx, runId, 'deleted'),
    restoreRun: (runId) => setRunLifecycle(ctx, runId, 'active'),
    searchRuns: (req) => searchRuns(ctx, req),
    logBatch: (req) => logBatch(ctx, req),
  };
}
