import { sql } from 'kysely';
import { InputError } from '../../../errors.js';
import type { AnyKysely } from '../../sql/database.js';
import { withDbErrors } from '../../sql/transaction.js';
import { decodePageToken, encodePageToken, queryHash } from '../keyset.js';
import { bulkIntervalSteps } from '../step-sampling.js';
import type {
  GetMetricHistoryBulkIntervalRequest,
  GetMetricHistoryRequest,
  Metric,
  MetricWithRunId,
  TrackingStore,
} from '../types.js';
import { chunks, type SqlStoreContext } from './context.js';
import { runRow } from './run-rows.js';

/** A row of `metrics` or `latest_metrics` as read (SQLite stores is_nan as 0/1, numbers may come as text). */
interface MetricRow {
  key: string;
  value: number;
  timestamp: number | string;
  step: number | string;
  is_nan: unknown;
}

const METRIC_COLUMNS = ['run_uuid', 'key', 'value', 'timestamp', 'step', 'is_nan'];
const MODEL_METRIC_COLUMNS = [
  'model_id',
  'key',
  'timestamp',
  'step',
  'run_id',
  'value',
  'is_nan',
  'dataset_name',
  'dataset_digest',
];

/**
 * Keeps `latest_metrics` at MLflow's "latest" value per key: highest step, then highest timestamp, then
 * highest value. A multi-row upsert that only overwrites when the new row is later.
 */
const LATEST_UPSERT =
  'ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, ' +
  'step = excluded.step, is_nan = excluded.is_nan WHERE excluded.step > latest_metrics.step OR ' +
  '(excluded.step = latest_metrics.step AND (excluded.timestamp > latest_metrics.timestamp OR ' +
  '(excluded.timestamp = latest_metrics.timestamp AND excluded.value > latest_metrics.value)))';

/** A stored metric row as MLflow's Metric (NaN is stored as value 0 with is_nan set). */
export function metricOut(row: MetricRow): Metric {
  return {
    key: row.key,
    value: row.is_nan === true || row.is_nan === 1 ? Number.NaN : Number(row.value),
    timestamp: Number(row.timestamp),
    step: Number(row.step),
  };
}

interface MetricInsert {
  key: string;
  value: number;
  timestamp: number;
  step: number;
  isNan: boolean | number;
}

/** The latest of each key among `rows`, in key order (MLflow's "latest": step, then timestamp, then value). */
function latestByKey(rows: MetricInsert[]): MetricInsert[] {
  const latest = new Map<string, MetricInsert>();
  for (const r of rows) {
    const cur = latest.get(r.key);
    if (
      !cur ||
      r.step > cur.step ||
      (r.step === cur.step &&
        (r.timestamp > cur.timestamp || (r.timestamp === cur.timestamp && r.value > cur.value)))
    ) {
      latest.set(r.key, r);
    }
  }
  // Sorted keys: concurrent upserts on PostgreSQL take row locks in one order (no deadlocks).
  return [...latest.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
}

/**
 * Logs metrics inside a transaction: every new point into `metrics` (the history) in one multi-row INSERT,
 * and the latest per key into `latest_metrics`, which searches and runs/get read (one row per run and key).
 */
export async function insertMetrics(
  ctx: SqlStoreContext,
  trx: AnyKysely,
  runId: string,
  metrics: Metric[],
): Promise<void> {
  if (!metrics.length) return;
  const rows = metrics.map((m): MetricInsert => {
    const nan = Number.isNaN(m.value);
    const value = nan ? 0 : m.value;
    return { key: m.key, value, timestamp: m.timestamp, step: m.step, isNan: ctx.dialect.bool(nan) };
  });
  const values = (list: MetricInsert[]) =>
    list.map((r) => [runId, r.key, r.value, r.timestamp, r.step, r.isNan]);
  // An identical point (key, value, timestamp, step) already logged is skipped, as in MLflow.
  await ctx.insertRows(trx, 'metrics', METRIC_COLUMNS, values(rows), 'ON CONFLICT DO NOTHING');
  await ctx.insertRows(trx, 'latest_metrics', METRIC_COLUMNS, values(latestByKey(rows)), LATEST_UPSERT);
  const forModels = metrics.filter((m) => m.model_id);
  if (forModels.length) {
    const modelRows = forModels.map((m) => {
      const nan = Number.isNaN(m.value);
      return [
        m.model_id,
        m.key,
        m.timestamp,
        m.step,
        runId,
        nan ? 0 : m.value,
        ctx.dialect.bool(nan),
        m.dataset_name ?? null,
        m.dataset_digest ?? null,
      ];
    });
    await ctx.insertRows(
      trx,
      'logged_model_metrics',
      MODEL_METRIC_COLUMNS,
      modelRows,
      'ON CONFLICT DO NOTHING',
    );
  }
}

/** One run's values of `key` at `steps`, in (step, timestamp, id) order. */
async function valuesAtSteps(
  ctx: SqlStoreContext,
  runId: string,
  key: string,
  steps: number[],
): Promise<MetricWithRunId[]> {
  const out: MetricWithRunId[] = [];
  for (const part of chunks(steps)) {
    const rows = await ctx.db
      .selectFrom('metrics')
      .select(['key', 'value', 'timestamp', 'step', 'is_nan'])
      .where('run_uuid', '=', runId)
      .where('key', '=', key)
      .where('step', 'in', part)
      .orderBy('step')
      .orderBy('timestamp')
      .orderBy('id')
      .execute();
    for (const r of rows) out.push({ ...metricOut(r), run_id: runId });
  }
  return out;
}

type MetricOps = Pick<TrackingStore, 'getMetricHistory' | 'getMetricHistoryBulkInterval'>;

async function getMetricHistory(
  ctx: SqlStoreContext,
  req: GetMetricHistoryRequest,
): ReturnType<TrackingStore['getMetricHistory']> {
  await withDbErrors(() => runRow(ctx, ctx.db, req.run_id));
  const max = req.max_results ?? 25_000;
  if (!Number.isInteger(max) || max < 1)
    throw new InputError(`Invalid value ${max} for parameter 'max_results' supplied.`);
  const hash = queryHash(['hist', req.run_id, req.metric_key]);
  let q = ctx.db
    .selectFrom('metrics')
    .select(['id', 'key', 'value', 'timestamp', 'step', 'is_nan'])
    .where('run_uuid', '=', req.run_id)
    .where('key', '=', req.metric_key);
  if (req.page_token) {
    const [step, ts, id] = decodePageToken(req.page_token, hash, 3) as number[];
    q = q.where(
      sql<boolean>`(step > ${step} OR (step = ${step} AND (timestamp > ${ts} OR (timestamp = ${ts} AND id > ${id}))))`,
    );
  }
  const rows = await withDbErrors(() =>
    q
      .orderBy('step')
      .orderBy('timestamp')
      .orderBy('id')
      .limit(max + 1)
      .execute(),
  );
  let next: string | undefined;
  if (rows.length > max) {
    rows.length = max;
    const last = rows[rows.length - 1];
    next = encodePageToken([Number(last.step), Number(last.timestamp), Number(last.id)], hash);
  }
  const metrics = rows.map(metricOut);
  return next ? { metrics, next_page_token: next } : { metrics };
}

/**
 * MLflow's get-history-bulk-interval: every run's values at one set of steps, sampled over the union of the
 * runs' steps (plus each run's first and last), see {@link bulkIntervalSteps}.
 */
async function getMetricHistoryBulkInterval(
  ctx: SqlStoreContext,
  req: GetMetricHistoryBulkIntervalRequest,
): ReturnType<TrackingStore['getMetricHistoryBulkInterval']> {
  const max = req.max_results ?? 2500;
  const { start_step: start, end_step: end } = req;
  if (start !== undefined && end !== undefined && start > end) {
    throw new InputError(
      `end_step must be greater than start_step. Found start_step=${start} and end_step=${end}.`,
    );
  }
  const stepsPerRun: number[][] = [];
  for (const runId of req.run_ids) {
    await withDbErrors(() => runRow(ctx, ctx.db, runId));
    const rows = await ctx.db
      .selectFrom('metrics')
      .select('step')
      .distinct()
      .where('run_uuid', '=', runId)
      .where('key', '=', req.metric_key)
      .execute();
    stepsPerRun.push(rows.map((r) => Number(r.step)));
  }
  const range = start !== undefined && end !== undefined ? { start, end } : undefined;
  const steps = bulkIntervalSteps(stepsPerRun, max, range);
  const out: MetricWithRunId[] = [];
  if (!steps.length) return { metrics: out };
  for (const runId of req.run_ids) out.push(...(await valuesAtSteps(ctx, runId, req.metric_key, steps)));
  return { metrics: out };
}

/** The metric aggregate's reads: `metrics` (every logged value). Writes go through logBatch. */
export function metricOps(ctx: SqlStoreContext): MetricOps {
  return {
    getMetricHistory: (req) => getMetricHistory(ctx, req),
    getMetricHistoryBulkInterval: (req) => getMetricHistoryBulkInterval(ctx, req),
  };
}
