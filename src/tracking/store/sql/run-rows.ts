import { InputError, TasselError } from '../../../errors.js';
import type { AnyKysely } from '../../sql/database.js';
import type { LifecycleStage, RunInfo, RunStatus } from '../types.js';
import type { SqlStoreContext } from './context.js';

/** A row of `runs`. */
export interface RunRow {
  run_uuid: string;
  name: string | null;
  experiment_id: string | number;
  user_id: string | null;
  status: string;
  start_time: string | number;
  end_time: string | number | null;
  lifecycle_stage: string;
  artifact_uri: string | null;
}

/** The columns of {@link RunRow}, in table order. */
export const RUN_COLUMN_NAMES = [
  'run_uuid',
  'name',
  'experiment_id',
  'user_id',
  'status',
  'start_time',
  'end_time',
  'lifecycle_stage',
  'artifact_uri',
] as const;

/** {@link RUN_COLUMN_NAMES} for hand-written SELECTs. */
export const RUN_COLUMNS = RUN_COLUMN_NAMES.join(', ');

/** A run row as MLflow's RunInfo. */
export function toRunInfo(r: RunRow): RunInfo {
  const info: RunInfo = {
    run_id: r.run_uuid,
    run_uuid: r.run_uuid,
    run_name: r.name ?? '',
    experiment_id: String(r.experiment_id),
    user_id: r.user_id ?? '',
    status: r.status as RunStatus,
    start_time: Number(r.start_time),
    artifact_uri: r.artifact_uri ?? '',
    lifecycle_stage: r.lifecycle_stage as LifecycleStage,
  };
  if (r.end_time !== null && r.end_time !== undefined) info.end_time = Number(r.end_time);
  return info;
}

/** The run's row; RESOURCE_DOES_NOT_EXIST when there is none. */
export async function runRow(ctx: SqlStoreContext, q: AnyKysely, runId: string): Promise<RunRow> {
  const rows = await ctx.rawSelect<RunRow>(q, `SELECT ${RUN_COLUMNS} FROM runs WHERE run_uuid = ?`, [runId]);
  if (!rows.length) throw new TasselError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
  return rows[0];
}

/**
 * Inside a write transaction: the run's row, after bumping its revision (the key cached run JSON is
 * checked against, run-cache.ts). Every write that changes what a run's JSON says starts here (or bumps
 * the revision in its own UPDATE of the row), so the run's row is also the first lock such a transaction
 * takes, and writers of one run queue on it rather than deadlock on each other's child rows.
 */
async function writeRunRow(ctx: SqlStoreContext, trx: AnyKysely, runId: string): Promise<RunRow> {
  const rows = await ctx.rawSelect<RunRow>(
    trx,
    `UPDATE runs SET revision = revision + 1 WHERE run_uuid = ? RETURNING ${RUN_COLUMNS}`,
    [runId],
  );
  if (!rows.length) throw new TasselError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
  return rows[0];
}

/**
 * Inside a write transaction: the run's row (revision bumped, {@link writeRunRow}), which must be active:
 * only active runs take metrics, params, tags and inputs.
 */
export async function activeRunForWrite(
  ctx: SqlStoreContext,
  trx: AnyKysely,
  runId: string,
): Promise<RunRow> {
  const row = await writeRunRow(ctx, trx, runId);
  if (row.lifecycle_stage !== 'active') {
    throw new InputError(
      `The run ${runId} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`,
    );
  }
  return row;
}
