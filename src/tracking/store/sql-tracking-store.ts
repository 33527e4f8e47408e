import { randomUUID } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { CompiledQuery, type RawBuilder, type Transaction, sql } from 'kysely';
import { InputError, TasselError } from '../../errors.js';
import type { AnyKysely, SqlDialectName, TrackingDatabase } from '../sql/database.js';
import { migrate } from '../sql/migrate.js';
import { ALL_MIGRATIONS } from '../sql/migrations/index.js';
import { inTransaction, withDbErrors } from '../sql/transaction.js';
import {
  type SortKey,
  afterCursorSql,
  decodePageToken,
  encodePageToken,
  orderBySql,
  queryHash,
} from './keyset.js';
import { randomRunName } from './run-names.js';
import { type Comparison, type OrderClause, parseOrderBy, parseSearchFilter } from './search-filter.js';
import {
  childCondition,
  childKeySet,
  compileFilter,
  type KeySetCompiler,
  childProbe,
  nullCondition,
  numericCondition,
  stringCondition,
} from './sql-filter.js';
import {
  type CreateExperimentRequest,
  type CreateRunRequest,
  type DatasetInput,
  type Experiment,
  type GetMetricHistoryBulkIntervalRequest,
  type GetMetricHistoryRequest,
  type KeyValue,
  type LifecycleStage,
  type LogBatchRequest,
  type Metric,
  type MetricWithRunId,
  RUN_STATUSES,
  type Run,
  type RunInfo,
  type RunStatus,
  type SearchExperimentsRequest,
  type SearchRunsRequest,
  type TrackingStore,
  type UpdateRunRequest,
  VIEW_TYPES,
  type ViewType,
} from './types.js';
import { LIMITS, validateBatch, validateExperimentName, validateLength, validateName } from './validation.js';

/** Options of {@link createSqlTrackingStore}. */
export interface SqlTrackingStoreOptions {
  database: TrackingDatabase;
  /**
   * Root under which experiments get their artifact location `<root>/<experiment_id>` when created
   * without one: `mlflow-artifacts:/` when the server proxies artifacts (as `mlflow server` does by
   * default), or a `file://` / `s3://` URI.
   */
  defaultArtifactRoot: string;
  /** Apply ALL_MIGRATIONS first (default true). */
  migrate?: boolean;
  /** Cap on max_results for searches (default 50,000). */
  maxResultsCap?: number;
}

const RUN_NAME_TAG = 'mlflow.runName';
const USER_TAG = 'mlflow.user';
const CHUNK = 500;
/** Rows per multi-row INSERT: 500 x 6 columns stays far below SQLite's and PostgreSQL's parameter limits. */
const INSERT_CHUNK = 500;

interface RunRow {
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

interface ExperimentRow {
  experiment_id: string | number;
  name: string;
  artifact_location: string | null;
  lifecycle_stage: string;
  creation_time: string | number;
  last_update_time: string | number;
}

const RUN_COLUMNS = [
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

const isId = (id: string) => /^\d{1,18}$/.test(id);

function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Appends `/child` to an artifact URI without doubling slashes (`mlflow-artifacts:/` + `0`). */
export function appendToUri(uri: string, child: string): string {
  return uri.endsWith('/') ? `${uri}${child}` : `${uri}/${child}`;
}

function toRunInfo(r: RunRow): RunInfo {
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

/** MLflow's wire JSON for a metric value: numbers, or "NaN" / "Infinity" / "-Infinity" (JSON has none). */
const WIRE_METRIC_VALUE =
  "CASE WHEN m.is_nan THEN 'NaN' WHEN m.value > 1.7976931348623157e308 THEN 'Infinity' " +
  "WHEN m.value < -1.7976931348623157e308 THEN '-Infinity' ELSE m.value END";
const wireInfo = (endTime: boolean) =>
  "json_object('run_id', r.run_uuid, 'run_uuid', r.run_uuid, 'run_name', IFNULL(r.name, ''), " +
  "'experiment_id', CAST(r.experiment_id AS TEXT), 'user_id', IFNULL(r.user_id, ''), 'status', r.status, " +
  `'start_time', r.start_time, ${endTime ? "'end_time', r.end_time, " : ''}'artifact_uri', IFNULL(r.artifact_uri, ''), ` +
  "'lifecycle_stage', r.lifecycle_stage)";

/**
 * SQLite: each run of `{in}` as MLflow's wire JSON (`{"info", "data", "inputs"}`), built by the database
 * in one statement, plus its outputs (`{"model_outputs": [...]}`, NULL when it has none) in a second
 * column. runs/get and runs/search send these texts as they are; in-process callers get JSON.parse of
 * them. One statement and one string per run cost a fraction of reading ~30 rows as JavaScript objects
 * and serialising them again. SQLite's JSON renders doubles exactly (round-trip). params, tags and
 * latest_metrics are clustered on (run_uuid, key), so their rows come in key order without a sort (an
 * ORDER BY inside the aggregate would sort per run, tripling the cost); inputs and outputs, usually few
 * or none, are sorted.
 */
const SQLITE_RUNS_WIRE =
  `SELECT r.run_uuid AS id, json_object('info', CASE WHEN r.end_time IS NULL THEN ${wireInfo(false)} ELSE ${wireInfo(true)} END, ` +
  "'data', json_object('metrics', (SELECT json_group_array(json_object('key', m.key, " +
  `'value', ${WIRE_METRIC_VALUE}, 'timestamp', m.timestamp, 'step', m.step)) FROM latest_metrics m WHERE m.run_uuid = r.run_uuid), ` +
  "'params', (SELECT json_group_array(json_object('key', p.key, 'value', p.value)) FROM params p WHERE p.run_uuid = r.run_uuid), " +
  "'tags', (SELECT json_group_array(json_object('key', t.key, 'value', IFNULL(t.value, ''))) FROM tags t WHERE t.run_uuid = r.run_uuid)), " +
  "'inputs', json_object('dataset_inputs', (SELECT json_group_array(json_object(" +
  "'tags', (SELECT json_group_array(json_object('key', it.name, 'value', it.value) ORDER BY it.name) FROM input_tags it " +
  "WHERE it.input_uuid = i.input_uuid), 'dataset', json_patch(json_object('name', d.name, 'digest', d.digest, " +
  "'source_type', d.dataset_source_type, 'source', d.dataset_source), " +
  "json_object('schema', d.dataset_schema, 'profile', d.dataset_profile))) ORDER BY d.name) " +
  "FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id WHERE i.destination_type = 'RUN' AND i.destination_id = r.run_uuid))) AS j, " +
  "(SELECT json_object('model_outputs', json_group_array(json_object('model_id', o.model_id, 'step', o.step) ORDER BY o.model_id)) " +
  'FROM run_model_outputs o WHERE o.run_id = r.run_uuid HAVING count(*) > 0) AS o FROM runs r WHERE r.run_uuid IN ({in})';

/** One run's wire JSON from the two columns of {@link SQLITE_RUNS_WIRE}. */
function wireOf(j: string, outputs: string | null): string {
  return outputs === null ? j : `${j.slice(0, -1)},"outputs":${outputs}}`;
}

/** A run from its wire JSON: metric values spelled "NaN" / "Infinity" / "-Infinity" become numbers. */
function runFromWire(text: string): Run {
  const run = JSON.parse(text) as Run;
  for (const m of run.data.metrics) {
    const v = m.value as number | string;
    if (typeof v === 'string') m.value = v === 'NaN' ? Number.NaN : v === 'Infinity' ? Infinity : -Infinity;
  }
  return run;
}

function metricOut(row: {
  key: string;
  value: number;
  timestamp: number | string;
  step: number | string;
  is_nan: unknown;
}): Metric {
  return {
    key: row.key,
    value: row.is_nan === true || row.is_nan === 1 ? Number.NaN : Number(row.value),
    timestamp: Number(row.timestamp),
    step: Number(row.step),
  };
}

function viewTypeOf(v: string | undefined): ViewType {
  if (v === undefined) return 'ACTIVE_ONLY';
  if (!VIEW_TYPES.includes(v as ViewType)) throw new InputError(`Invalid view type '${v}'`);
  return v as ViewType;
}

function lifecycleCondition(col: RawBuilder<unknown>, view: ViewType): RawBuilder<unknown> {
  if (view === 'ACTIVE_ONLY') return sql`${col} = 'active'`;
  if (view === 'DELETED_ONLY') return sql`${col} = 'deleted'`;
  return sql`1 = 1`;
}

/** The run attributes a filter or order_by can name, and their columns. */
const RUN_ATTRIBUTES: Record<string, { col: string; numeric: boolean }> = {
  run_id: { col: 'run_uuid', numeric: false },
  run_uuid: { col: 'run_uuid', numeric: false },
  id: { col: 'run_uuid', numeric: false },
  run_name: { col: 'name', numeric: false },
  status: { col: 'status', numeric: false },
  user_id: { col: 'user_id', numeric: false },
  artifact_uri: { col: 'artifact_uri', numeric: false },
  lifecycle_stage: { col: 'lifecycle_stage', numeric: false },
  start_time: { col: 'start_time', numeric: true },
  end_time: { col: 'end_time', numeric: true },
  created: { col: 'start_time', numeric: true },
  Created: { col: 'start_time', numeric: true },
};

const EXPERIMENT_ATTRIBUTES: Record<string, { col: string; numeric: boolean }> = {
  name: { col: 'name', numeric: false },
  experiment_id: { col: 'experiment_id', numeric: true },
  creation_time: { col: 'creation_time', numeric: true },
  last_update_time: { col: 'last_update_time', numeric: true },
};

/**
 * The tracking store over SQL, one implementation for SQLite and PostgreSQL through Kysely. Every write
 * is one transaction; log-batch inserts metrics in one multi-row statement and keeps `latest_metrics` in
 * step with an upsert, so search reads one row per (run, metric).
 */
export async function createSqlTrackingStore(options: SqlTrackingStoreOptions): Promise<TrackingStore> {
  const { database } = options;
  const db = database.db;
  const dialect: SqlDialectName = database.dialect;
  const cap = options.maxResultsCap ?? 50_000;
  const bool = (b: boolean) => (dialect === 'sqlite' ? (b ? 1 : 0) : b);
  if (options.migrate !== false) await migrate(database, ALL_MIGRATIONS);

  // The Default experiment (id 0), created once, as MLflow's SQL store does on start.
  await withDbErrors(async () => {
    const has = await db
      .selectFrom('experiments')
      .select('experiment_id')
      .where('experiment_id', '=', 0)
      .executeTakeFirst();
    if (!has) {
      const now = Date.now();
      await db
        .insertInto('experiments')
        .values({
          experiment_id: 0,
          name: 'Default',
          artifact_location: appendToUri(options.defaultArtifactRoot, '0'),
          lifecycle_stage: 'active',
          creation_time: now,
          last_update_time: now,
        })
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
  });

  const queryTexts = new Map<string, string>();
  /**
   * Runs a fixed-shape SELECT on the hot read paths without the query builder: `{in}` expands to `n`
   * placeholders; texts are cached per (template, n) so SQLite reuses the prepared statement.
   */
  async function rawSelect<R>(q: AnyKysely, template: string, params: unknown[], inCount = 0): Promise<R[]> {
    const cacheKey = `${template}|${inCount}`;
    let text = queryTexts.get(cacheKey);
    if (!text) {
      let n = 0;
      const ph = () => (dialect === 'sqlite' ? '?' : `$${++n}`);
      text = template.replace(/\{in\}|\?/g, (m) =>
        m === '?' ? ph() : Array.from({ length: inCount }, ph).join(', '),
      );
      queryTexts.set(cacheKey, text);
    }
    return (await q.executeQuery(CompiledQuery.raw(text, params))).rows as R[];
  }

  const insertTexts = new Map<string, string>();
  const insertStatements = new Map<string, Statement>();
  /**
   * Multi-row INSERT with hand-built placeholders, in chunks of at most INSERT_CHUNK rows: the hot log-batch path
   * skips the query builder, and equal chunk sizes reuse one prepared statement.
   */
  async function insertRows(
    q: AnyKysely,
    table: string,
    columns: string[],
    rows: unknown[][],
    suffix = '',
  ): Promise<void> {
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      const part = rows.slice(i, i + INSERT_CHUNK);
      const cacheKey = `${table}|${columns.join(',')}|${part.length}|${suffix}`;
      let text = insertTexts.get(cacheKey);
      if (!text) {
        let n = 0;
        const tuple = () => `(${columns.map(() => (dialect === 'sqlite' ? '?' : `$${++n}`)).join(', ')})`;
        text = `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${part.map(tuple).join(', ')}${suffix ? ` ${suffix}` : ''}`;
        insertTexts.set(cacheKey, text);
      }
      const sqlite = database.sqlite;
      if (sqlite && q.isTransaction) {
        // Inside a transaction this code owns the one SQLite connection, so it can run a cached prepared
        // statement on it directly: preparing a 500-row INSERT costs ~0.7 ms, a tenth of a log-batch call.
        let stmt = insertStatements.get(text);
        if (!stmt) {
          stmt = sqlite.prepare(text);
          insertStatements.set(text, stmt);
        }
        stmt.run(...part.flat());
      } else await q.executeQuery(CompiledQuery.raw(text, part.flat()));
    }
  }

  async function experimentRow(q: AnyKysely | Transaction<never>, id: string): Promise<ExperimentRow> {
    const row = isId(id)
      ? ((await (q as AnyKysely)
          .selectFrom('experiments')
          .selectAll()
          .where('experiment_id', '=', Number(id))
          .executeTakeFirst()) as ExperimentRow | undefined)
      : undefined;
    if (!row) throw new TasselError('RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${id} exists`);
    return row;
  }

  async function experimentsOut(rows: ExperimentRow[]): Promise<Experiment[]> {
    const tags = new Map<string, KeyValue[]>();
    for (const part of chunks(rows.map((r) => Number(r.experiment_id)))) {
      if (!part.length) continue;
      const trows = await db
        .selectFrom('experiment_tags')
        .select(['experiment_id', 'key', 'value'])
        .where('experiment_id', 'in', part)
        .orderBy('key')
        .execute();
      for (const t of trows) {
        const k = String(t.experiment_id);
        if (!tags.has(k)) tags.set(k, []);
        tags.get(k)!.push({ key: t.key, value: t.value ?? '' });
      }
    }
    return rows.map((r) => ({
      experiment_id: String(r.experiment_id),
      name: r.name,
      artifact_location: r.artifact_location ?? '',
      lifecycle_stage: r.lifecycle_stage as LifecycleStage,
      last_update_time: Number(r.last_update_time),
      creation_time: Number(r.creation_time),
      tags: tags.get(String(r.experiment_id)) ?? [],
    }));
  }

  async function runRow(q: AnyKysely, runId: string): Promise<RunRow> {
    const rows = await rawSelect<RunRow>(q, `SELECT ${RUN_COLUMNS.join(', ')} FROM runs WHERE run_uuid = ?`, [
      runId,
    ]);
    if (!rows.length) throw new TasselError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
    return rows[0];
  }

  async function activeRunRow(q: AnyKysely, runId: string): Promise<RunRow> {
    const row = await runRow(q, runId);
    if (row.lifecycle_stage !== 'active') {
      throw new InputError(
        `The run ${runId} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`,
      );
    }
    return row;
  }

  /** Loads params, tags, latest metrics and inputs of the given runs, in a handful of IN queries. */
  async function runsOut(rows: RunRow[]): Promise<Run[]> {
    const byId = new Map<string, Run>();
    const runs = rows.map((r) => {
      const run: Run = {
        info: toRunInfo(r),
        data: { metrics: [], params: [], tags: [] },
        inputs: { dataset_inputs: [] },
      };
      byId.set(r.run_uuid, run);
      return run;
    });
    if (!rows.length) return runs;
    for (const part of chunks(rows.map((r) => r.run_uuid))) {
      // Fixed-shape queries (no query builder) on the hottest path: runs/get and every search page.
      // ORDER BY (run_uuid, key) is the primary key order (no sort step) and keeps each run's keys sorted.
      const params = await rawSelect<{ run_uuid: string; key: string; value: string }>(
        db,
        'SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({in}) ORDER BY run_uuid, key',
        part,
        part.length,
      );
      const tags = await rawSelect<{ run_uuid: string; key: string; value: string | null }>(
        db,
        'SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({in}) ORDER BY run_uuid, key',
        part,
        part.length,
      );
      const metrics = await rawSelect<{
        run_uuid: string;
        key: string;
        value: number;
        timestamp: number | string;
        step: number | string;
        is_nan: unknown;
      }>(
        db,
        'SELECT run_uuid, key, value, timestamp, step, is_nan FROM latest_metrics WHERE run_uuid IN ({in}) ORDER BY run_uuid, key',
        part,
        part.length,
      );
      const inputs = await rawSelect<{
        input_uuid: string;
        destination_id: string;
        name: string;
        digest: string;
        dataset_source_type: string;
        dataset_source: string;
        dataset_schema: string | null;
        dataset_profile: string | null;
      }>(
        db,
        'SELECT i.input_uuid, i.destination_id, d.name, d.digest, d.dataset_source_type, d.dataset_source, ' +
          'd.dataset_schema, d.dataset_profile FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id ' +
          "WHERE i.destination_type = 'RUN' AND i.destination_id IN ({in}) ORDER BY d.name",
        part,
        part.length,
      );
      const outputs = await rawSelect<{ run_id: string; model_id: string; step: number | string }>(
        db,
        'SELECT run_id, model_id, step FROM run_model_outputs WHERE run_id IN ({in}) ORDER BY run_id, model_id',
        part,
        part.length,
      );
      for (const o of outputs) {
        const run = byId.get(o.run_id)!;
        run.outputs ??= { model_outputs: [] };
        run.outputs.model_outputs.push({ model_id: o.model_id, step: Number(o.step) });
      }
      for (const p of params) byId.get(p.run_uuid)!.data.params.push({ key: p.key, value: p.value });
      for (const t of tags) byId.get(t.run_uuid)!.data.tags.push({ key: t.key, value: t.value ?? '' });
      for (const m of metrics) byId.get(m.run_uuid)!.data.metrics.push(metricOut(m));
      if (inputs.length) {
        const itags = await db
          .selectFrom('input_tags')
          .select(['input_uuid', 'name', 'value'])
          .where(
            'input_uuid',
            'in',
            inputs.map((i) => i.input_uuid),
          )
          .orderBy('name')
          .execute();
        const tagsByInput = new Map<string, KeyValue[]>();
        for (const t of itags) {
          if (!tagsByInput.has(t.input_uuid)) tagsByInput.set(t.input_uuid, []);
          tagsByInput.get(t.input_uuid)!.push({ key: t.name, value: t.value });
        }
        for (const i of inputs) {
          const dataset: DatasetInput['dataset'] = {
            name: i.name,
            digest: i.digest,
            source_type: i.dataset_source_type,
            source: i.dataset_source,
          };
          if (i.dataset_schema !== null && i.dataset_schema !== undefined) dataset.schema = i.dataset_schema;
          if (i.dataset_profile !== null && i.dataset_profile !== undefined)
            dataset.profile = i.dataset_profile;
          byId
            .get(i.destination_id)!
            .inputs.dataset_inputs.push({ tags: tagsByInput.get(i.input_uuid) ?? [], dataset });
        }
      }
    }
    return runs;
  }

  const raw = database.sqlite;
  const wireStatements = new Map<number, Statement>();
  /**
   * The wire JSON of the runs with the given ids (SQLite), in that order; ids that no longer exist are
   * left out. {@link SQLITE_RUNS_WIRE} runs synchronously on a cached prepared statement, skipping the
   * query builder, unless a transaction holds the shared connection (then through Kysely, which waits).
   */
  async function loadRunsWire(ids: string[]): Promise<string[]> {
    const byId = new Map<string, string>();
    for (const part of chunks(ids)) {
      let rows: Array<[string, string, string | null]>;
      if (raw && !raw.inTransaction) {
        let stmt = wireStatements.get(part.length);
        if (!stmt) {
          stmt = raw.prepare(SQLITE_RUNS_WIRE.replace('{in}', part.map(() => '?').join(', '))).raw(true);
          wireStatements.set(part.length, stmt);
        }
        rows = stmt.all(...part) as typeof rows;
      } else {
        const objects = await rawSelect<{ id: string; j: string; o: string | null }>(
          db,
          SQLITE_RUNS_WIRE,
          part,
          part.length,
        );
        rows = objects.map((r) => [r.id, r.j, r.o]);
      }
      for (const [id, j, o] of rows) byId.set(id, wireOf(j, o));
    }
    const out: string[] = [];
    for (const id of ids) {
      const wire = byId.get(id);
      if (wire !== undefined) out.push(wire);
    }
    return out;
  }

  /** The runs with the given ids, in that order (ids that no longer exist are left out). */
  async function loadRuns(ids: string[]): Promise<Run[]> {
    if (dialect === 'sqlite') return (await loadRunsWire(ids)).map(runFromWire);
    const byId = new Map<string, Run>();
    for (const part of chunks(ids)) {
      const rows = await rawSelect<RunRow>(
        db,
        `SELECT ${RUN_COLUMNS.join(', ')} FROM runs WHERE run_uuid IN ({in})`,
        part,
        part.length,
      );
      for (const run of await runsOut(rows)) byId.set(run.info.run_id, run);
    }
    const out: Run[] = [];
    for (const id of ids) {
      const run = byId.get(id);
      if (run) out.push(run);
    }
    return out;
  }

  /** Writes tags inside a transaction: upsert, and keep runs.name in step with mlflow.runName. */
  async function upsertRunTags(trx: AnyKysely, runId: string, tags: KeyValue[]): Promise<void> {
    if (!tags.length) return;
    const last = new Map(tags.map((t) => [t.key, t.value]));
    await trx
      .insertInto('tags')
      .values([...last].map(([key, value]) => ({ run_uuid: runId, key, value })))
      .onConflict((oc) => oc.columns(['run_uuid', 'key']).doUpdateSet({ value: sql.ref('excluded.value') }))
      .execute();
    const runName = last.get(RUN_NAME_TAG);
    if (runName !== undefined)
      await trx.updateTable('runs').set({ name: runName }).where('run_uuid', '=', runId).execute();
  }

  /** Metric, param and tag comparisons of an AND as one intersection of indexed run-id sets. */
  const runKeySets: KeySetCompiler = {
    parentCol: sql`r.run_uuid`,
    subquery(c) {
      if (c.comparator === 'IS NULL') return undefined;
      if (c.type === 'metric') return childKeySet('latest_metrics', 'run_uuid', c, true, 'metric');
      if (c.type === 'param') return childKeySet('params', 'run_uuid', c, false, 'param');
      if (c.type === 'tag') return childKeySet('tags', 'run_uuid', c, false, 'tag');
      return undefined;
    },
  };

  /** A comparison as a correlated probe of the run `runId` (metric, param and tag keys), else runCondition. */
  function probeCondition(c: Comparison, runId: RawBuilder<unknown>): RawBuilder<unknown> {
    if (c.type === 'metric') return childProbe('latest_metrics', 'run_uuid', runId, c, true, 'metric');
    if (c.type === 'param') return childProbe('params', 'run_uuid', runId, c, false, 'param');
    if (c.type === 'tag') return childProbe('tags', 'run_uuid', runId, c, false, 'tag');
    return runCondition(c);
  }

  function runCondition(c: Comparison): RawBuilder<unknown> {
    const parent = sql`r.run_uuid`;
    switch (c.type) {
      case 'metric':
        return childCondition('latest_metrics', 'run_uuid', parent, c, true, 'metric');
      case 'param':
        return childCondition('params', 'run_uuid', parent, c, false, 'param');
      case 'tag':
        return childCondition('tags', 'run_uuid', parent, c, false, 'tag');
      case 'attribute': {
        const attr = RUN_ATTRIBUTES[c.key];
        if (!attr) {
          throw new InputError(
            `Invalid attribute key '${c.key}' specified. Valid keys are '${JSON.stringify(Object.keys(RUN_ATTRIBUTES).filter((k) => k !== 'Created'))}'`,
          );
        }
        const col = sql`r.${sql.ref(attr.col)}`;
        return (
          nullCondition(col, c) ??
          (attr.numeric ? numericCondition(col, c, 'attribute') : stringCondition(col, c, 'attribute'))
        );
      }
      case 'dataset': {
        const cols: Record<string, string> = { name: 'd.name', digest: 'd.digest' };
        const base = sql`SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id`;
        const where = sql`i.destination_type = 'RUN' AND i.destination_id = r.run_uuid`;
        if (c.key === 'context') {
          const cond = stringCondition(sql`it.value`, c, 'dataset');
          return sql`EXISTS (${base} JOIN input_tags it ON it.input_uuid = i.input_uuid AND it.name = 'mlflow.data.context' WHERE ${where} AND ${cond})`;
        }
        const col = cols[c.key];
        if (!col)
          throw new InputError(
            `Invalid dataset key '${c.key}' specified. Valid keys are '['name', 'digest', 'context']'`,
          );
        return sql`EXISTS (${base} WHERE ${where} AND ${stringCondition(sql.raw(col), c, 'dataset')})`;
      }
    }
  }

  /**
   * The sort expression of one order_by clause. Metric, param and tag keys come through a LEFT JOIN
   * (one lookup per row) rather than a correlated subquery, which SQLite would evaluate once per use.
   */
  function runOrderExpr(
    o: OrderClause,
    i: number,
  ): { expr: RawBuilder<unknown>; numeric: boolean; join?: RawBuilder<unknown> } {
    const alias = sql.raw(`o${i}`);
    const tables = { metric: 'latest_metrics', param: 'params', tag: 'tags' } as const;
    if (o.type === 'metric' || o.type === 'param' || o.type === 'tag') {
      return {
        expr: sql`${alias}.value`,
        numeric: o.type === 'metric',
        join: sql`LEFT JOIN ${sql.table(tables[o.type])} ${alias} ON ${alias}.run_uuid = r.run_uuid AND ${alias}.key = ${o.key}`,
      };
    }
    if (o.type === 'attribute') {
      const attr = RUN_ATTRIBUTES[o.key];
      if (!attr) throw new InputError(`Invalid order_by key '${o.key}'.`);
      return { expr: sql`r.${sql.ref(attr.col)}`, numeric: attr.numeric };
    }
    throw new InputError(`Invalid order_by entity type '${o.type}'.`);
  }

  /** Runs a keyset-paged query: `inner` selects rows plus sort columns sk0..skN; returns rows and next token. */
  /** Rows of `inner` strictly after the cursor `after` in the order of `keys`, at most `limit`. */
  async function keysetRows<R>(
    inner: RawBuilder<unknown>,
    keys: SortKey[],
    after: Array<string | number | null> | undefined,
    limit: number,
    extraWhere?: RawBuilder<unknown>,
  ): Promise<R[]> {
    const conds = [...(after ? [afterCursorSql(keys, after)] : []), ...(extraWhere ? [extraWhere] : [])];
    const where = conds.length ? sql`WHERE ${sql.join(conds, sql` AND `)}` : sql``;
    const q = sql<R>`SELECT * FROM (${inner}) q ${where} ORDER BY ${orderBySql(keys)} LIMIT ${limit}`;
    return (await withDbErrors(() => q.execute(db))).rows;
  }

  /** The next-page token for `last`, the last row of a full page. */
  function tokenOf(last: Record<string, unknown>, keys: Array<SortKey & { numeric: boolean }>, hash: string) {
    return encodePageToken(
      keys.map((k) => {
        const v = last[k.alias] as string | number | null;
        if (v === null || v === undefined) return null;
        return k.numeric ? Number(v) : String(v);
      }),
      hash,
    );
  }

  /** Runs a keyset-paged query: `inner` selects rows plus sort columns sk0..skN; returns rows and next token. */
  async function keysetPage<R extends Record<string, unknown>>(
    inner: RawBuilder<unknown>,
    keys: Array<SortKey & { numeric: boolean }>,
    hash: string,
    maxResults: number,
    pageToken: string | undefined,
  ): Promise<{ rows: R[]; next?: string }> {
    const after = pageToken ? decodePageToken(pageToken, hash, keys.length) : undefined;
    const rows = await keysetRows<R>(inner, keys, after, maxResults + 1);
    if (rows.length <= maxResults) return { rows };
    rows.length = maxResults;
    return { rows, next: tokenOf(rows[rows.length - 1], keys, hash) };
  }

  /**
   * SQLite, when the first order_by is a metric, param or tag: the page comes from walking that key's
   * (key, value) index in order and stopping after `max` matches, instead of looking up and sorting
   * every matching run (a 10,000-run search went from ~11 to ~4 ms). SQLite's planner does not pick
   * this plan itself, hence INDEXED BY and CROSS JOIN. Runs without the key sort last (NULLs last):
   * they are a second query, read once the runs having it are exhausted; a page token whose first
   * value is NULL resumes there.
   */
  async function indexOrderedPage(
    first: OrderClause,
    cols: RawBuilder<unknown>[],
    joins: RawBuilder<unknown>[],
    keys: Array<SortKey & { numeric: boolean }>,
    whereWithKey: RawBuilder<unknown>,
    where: RawBuilder<unknown>,
    hash: string,
    max: number,
    pageToken: string | undefined,
  ): Promise<{ rows: Array<{ sk_id: string }>; next?: string }> {
    const table = ({ metric: 'latest_metrics', param: 'params', tag: 'tags' } as const)[
      first.type as 'metric' | 'param' | 'tag'
    ];
    const after = pageToken ? decodePageToken(pageToken, hash, keys.length) : undefined;
    const rows: Array<Record<string, unknown> & { sk_id: string }> = [];
    if (!after || after[0] !== null) {
      const withKey = sql`SELECT ${sql.join(cols)}
        FROM ${sql.table(table)} o0 INDEXED BY ${sql.raw(`${table}_key_value`)} CROSS JOIN runs r ${sql.join(joins.slice(1), sql` `)}
        WHERE r.run_uuid = o0.run_uuid AND o0.key = ${first.key} AND ${whereWithKey}`;
      const nonNull = keys.map((k, i) => (i === 0 ? { ...k, nullable: false } : k));
      // A plain bound beside the cursor's OR lets SQLite start the index walk at the cursor.
      const bound =
        after && after[0] !== null
          ? sql`sk0 ${sql.raw(first.ascending ? '>=' : '<=')} ${after[0]}`
          : undefined;
      rows.push(...(await keysetRows<(typeof rows)[number]>(withKey, nonNull, after, max + 1, bound)));
    }
    if (rows.length <= max) {
      const withoutKey = sql`SELECT ${sql.join(cols)} FROM runs r ${sql.join(joins, sql` `)}
        WHERE o0.run_uuid IS NULL AND ${where}`;
      const resume = after && after[0] === null ? after : undefined;
      rows.push(
        ...(await keysetRows<(typeof rows)[number]>(withoutKey, keys, resume, max + 1 - rows.length)),
      );
    }
    if (rows.length <= max) return { rows };
    rows.length = max;
    return { rows, next: tokenOf(rows[rows.length - 1], keys, hash) };
  }

  /** The ids of one page of runs/search and the next page's token. */
  async function searchRunsPage(req: SearchRunsRequest): Promise<{ ids: string[]; next?: string }> {
    const view = viewTypeOf(req.run_view_type);
    const max = checkMaxResults(req.max_results, 1000);
    const expIds = [...new Set(req.experiment_ids.map(String))];
    const numericIds = expIds.filter(isId).map(Number);
    const filter = parseSearchFilter(req.filter);
    const cond = filter ? compileFilter(filter, runCondition, runKeySets) : sql`1 = 1`;
    const keys: Array<SortKey & { numeric: boolean }> = [];
    const cols: RawBuilder<unknown>[] = [];
    const joins: RawBuilder<unknown>[] = [];
    const orders = (req.order_by ?? []).map(parseOrderBy);
    orders.forEach((p, i) => {
      const { expr, numeric, join } = runOrderExpr(p, i);
      if (join) joins.push(join);
      keys.push({ alias: `sk${i}`, ascending: p.ascending, nullable: true, numeric });
      cols.push(sql`${expr} AS ${sql.ref(`sk${i}`)}`);
    });
    keys.push({ alias: 'sk_start', ascending: false, nullable: false, numeric: true });
    keys.push({ alias: 'sk_id', ascending: true, nullable: false, numeric: false });
    cols.push(sql`r.start_time AS sk_start`, sql`r.run_uuid AS sk_id`);
    if (!numericIds.length) return { ids: [] };
    const where = sql`r.experiment_id IN (${sql.join(numericIds)}) AND ${lifecycleCondition(sql`r.lifecycle_stage`, view)} AND ${cond}`;
    const hash = queryHash(['runs', numericIds, view, req.filter ?? '', req.order_by ?? []]);
    const first = orders[0];
    let page: { rows: Array<{ sk_id: string }>; next?: string };
    if (dialect === 'sqlite' && first && first.type !== 'attribute') {
      // The index walk stops after one page, so each entry is probed (one primary-key seek per key
      // compared, on o0's run id, before the run is looked up) rather than building the filter's whole
      // key sets first: a page then costs what it reads, not what the filter matches over all runs.
      const condOnIndex = filter ? compileFilter(filter, (c) => probeCondition(c, sql`o0.run_uuid`)) : cond;
      const whereOnIndex = sql`r.experiment_id IN (${sql.join(numericIds)}) AND ${lifecycleCondition(sql`r.lifecycle_stage`, view)} AND ${condOnIndex}`;
      page = await indexOrderedPage(first, cols, joins, keys, whereOnIndex, where, hash, max, req.page_token);
    } else {
      // Only the sort keys go through the filter and the sort; the page's runs are loaded afterwards.
      const inner = sql`SELECT ${sql.join(cols)} FROM runs r ${sql.join(joins, sql` `)} WHERE ${where}`;
      page = await keysetPage<{ sk_id: string }>(inner, keys, hash, max, req.page_token);
    }
    return { ids: page.rows.map((r) => r.sk_id), next: page.next };
  }

  function checkMaxResults(n: number | undefined, fallback: number): number {
    const v = n ?? fallback;
    if (!Number.isInteger(v) || v < 1 || v > cap) {
      throw new InputError(
        `Invalid value ${v} for parameter 'max_results' supplied. It must be at most ${cap}, and at least 1`,
      );
    }
    return v;
  }

  const store: TrackingStore = {
    async createExperiment(req: CreateExperimentRequest) {
      validateExperimentName(req.name);
      for (const t of req.tags ?? []) {
        validateName('tag', t.key);
        validateLength('Tag value', LIMITS.maxExperimentTagValueLength, t.value);
      }
      if (req.artifact_location !== undefined)
        validateLength('Artifact location', 2048, req.artifact_location);
      const now = Date.now();
      return inTransaction(
        db,
        async (trx) => {
          const inserted = await trx
            .insertInto('experiments')
            .values({
              name: req.name,
              artifact_location: req.artifact_location ?? null,
              lifecycle_stage: 'active',
              creation_time: now,
              last_update_time: now,
            })
            .returning('experiment_id')
            .executeTakeFirstOrThrow();
          const id = String(inserted.experiment_id);
          if (!req.artifact_location) {
            await trx
              .updateTable('experiments')
              .set({ artifact_location: appendToUri(options.defaultArtifactRoot, id) })
              .where('experiment_id', '=', Number(id))
              .execute();
          }
          const tags = new Map((req.tags ?? []).map((t) => [t.key, t.value]));
          if (tags.size) {
            await trx
              .insertInto('experiment_tags')
              .values([...tags].map(([key, value]) => ({ experiment_id: Number(id), key, value })))
              .execute();
          }
          return id;
        },
        { alreadyExists: `Experiment(name=${req.name}) already exists.` },
      );
    },

    async getExperiment(id) {
      return (await experimentsOut([await experimentRow(db, id)]))[0];
    },

    async getExperimentByName(name) {
      const row = (await withDbErrors(() =>
        db.selectFrom('experiments').selectAll().where('name', '=', name).executeTakeFirst(),
      )) as ExperimentRow | undefined;
      if (!row)
        throw new TasselError('RESOURCE_DOES_NOT_EXIST', `Could not find experiment with name '${name}'`);
      return (await experimentsOut([row]))[0];
    },

    async searchExperiments(req: SearchExperimentsRequest) {
      const view = viewTypeOf(req.view_type);
      const max = checkMaxResults(req.max_results, 1000);
      const filter = parseSearchFilter(req.filter);
      const cond = filter
        ? compileFilter(filter, (c) => {
            if (c.type === 'tag')
              return childCondition(
                'experiment_tags',
                'experiment_id',
                sql`e.experiment_id`,
                c,
                false,
                'tag',
              );
            if (c.type !== 'attribute') {
              throw new InputError(
                `Invalid entity type '${c.type}'. Valid values are ['attribute', 'tag'] for experiments.`,
              );
            }
            const attr = EXPERIMENT_ATTRIBUTES[c.key];
            if (!attr) {
              throw new InputError(
                `Invalid attribute key '${c.key}' specified. Valid keys are '${JSON.stringify(Object.keys(EXPERIMENT_ATTRIBUTES))}'`,
              );
            }
            const col = sql`e.${sql.ref(attr.col)}`;
            return (
              nullCondition(col, c) ??
              (attr.numeric ? numericCondition(col, c, 'attribute') : stringCondition(col, c, 'attribute'))
            );
          })
        : sql`1 = 1`;
      const orders = (req.order_by ?? []).map((o) => {
        const p = parseOrderBy(o);
        const attr = p.type === 'attribute' ? EXPERIMENT_ATTRIBUTES[p.key] : undefined;
        if (!attr)
          throw new InputError(
            `Invalid order_by clause '${o}'. Experiments can be ordered by ${Object.keys(EXPERIMENT_ATTRIBUTES).join(', ')}.`,
          );
        return { attr, ascending: p.ascending };
      });
      const keys: Array<SortKey & { numeric: boolean }> = [];
      const cols: RawBuilder<unknown>[] = [];
      orders.forEach((o, i) => {
        keys.push({ alias: `sk${i}`, ascending: o.ascending, nullable: false, numeric: o.attr.numeric });
        cols.push(sql`e.${sql.ref(o.attr.col)} AS ${sql.ref(`sk${i}`)}`);
      });
      if (!orders.some((o) => o.attr.col === 'creation_time') && !orders.length) {
        keys.push({ alias: 'sk_ct', ascending: false, nullable: false, numeric: true });
        cols.push(sql`e.creation_time AS sk_ct`);
      }
      keys.push({ alias: 'sk_id', ascending: true, nullable: false, numeric: true });
      cols.push(sql`e.experiment_id AS sk_id`);
      const inner = sql`SELECT e.*, ${sql.join(cols)} FROM experiments e WHERE ${lifecycleCondition(sql`e.lifecycle_stage`, view)} AND ${cond}`;
      const hash = queryHash(['exp', view, req.filter ?? '', req.order_by ?? []]);
      const page = await keysetPage<ExperimentRow & Record<string, unknown>>(
        inner,
        keys,
        hash,
        max,
        req.page_token,
      );
      const experiments = await experimentsOut(page.rows);
      return page.next ? { experiments, next_page_token: page.next } : { experiments };
    },

    async renameExperiment(id, newName) {
      validateExperimentName(newName);
      await inTransaction(
        db,
        async (trx) => {
          const row = await experimentRow(trx, id);
          if (row.lifecycle_stage !== 'active')
            throw new InputError('Cannot rename a non-active experiment.');
          await trx
            .updateTable('experiments')
            .set({ name: newName, last_update_time: Date.now() })
            .where('experiment_id', '=', Number(id))
            .execute();
        },
        { alreadyExists: `Experiment(name=${newName}) already exists.` },
      );
    },

    async deleteExperiment(id) {
      await inTransaction(db, async (trx) => {
        await experimentRow(trx, id);
        const now = Date.now();
        await trx
          .updateTable('experiments')
          .set({ lifecycle_stage: 'deleted', last_update_time: now })
          .where('experiment_id', '=', Number(id))
          .execute();
        await trx
          .updateTable('runs')
          .set({ lifecycle_stage: 'deleted', deleted_time: now })
          .where('experiment_id', '=', Number(id))
          .where('lifecycle_stage', '=', 'active')
          .execute();
      });
    },

    async restoreExperiment(id) {
      await inTransaction(db, async (trx) => {
        const row = await experimentRow(trx, id);
        if (row.lifecycle_stage !== 'deleted') {
          throw new InputError(`Cannot restore an active experiment. Experiment ${id} is already active.`);
        }
        await trx
          .updateTable('experiments')
          .set({ lifecycle_stage: 'active', last_update_time: Date.now() })
          .where('experiment_id', '=', Number(id))
          .execute();
        await trx
          .updateTable('runs')
          .set({ lifecycle_stage: 'active', deleted_time: null })
          .where('experiment_id', '=', Number(id))
          .where('lifecycle_stage', '=', 'deleted')
          .execute();
      });
    },

    async setExperimentTag(id, key, value) {
      validateName('tag', key);
      validateLength('Tag value', LIMITS.maxExperimentTagValueLength, value);
      await inTransaction(db, async (trx) => {
        const row = await experimentRow(trx, id);
        if (row.lifecycle_stage !== 'active') {
          throw new InputError(
            `The experiment ${id} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`,
          );
        }
        await trx
          .insertInto('experiment_tags')
          .values({ experiment_id: Number(id), key, value })
          .onConflict((oc) => oc.columns(['experiment_id', 'key']).doUpdateSet({ value }))
          .execute();
      });
    },

    async deleteExperimentTag(id, key) {
      await inTransaction(db, async (trx) => {
        await experimentRow(trx, id);
        const r = await trx
          .deleteFrom('experiment_tags')
          .where('experiment_id', '=', Number(id))
          .where('key', '=', key)
          .executeTakeFirst();
        if (Number(r.numDeletedRows) === 0) {
          throw new TasselError(
            'RESOURCE_DOES_NOT_EXIST',
            `No tag with name: ${key} in experiment with id ${id}`,
          );
        }
      });
    },

    async createRun(req: CreateRunRequest) {
      const tags = req.tags ?? [];
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
      const runId = randomUUID().replace(/-/g, '');
      const userId = req.user_id ?? tags.find((t) => t.key === USER_TAG)?.value ?? '';
      await inTransaction(db, async (trx) => {
        const exp = await experimentRow(trx, req.experiment_id);
        if (exp.lifecycle_stage !== 'active') {
          throw new InputError(
            `The experiment ${req.experiment_id} must be in the 'active' state. Current state is ${exp.lifecycle_stage}.`,
          );
        }
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
        await upsertRunTags(trx as AnyKysely, runId, [
          ...tags.filter((t) => t.key !== RUN_NAME_TAG),
          { key: RUN_NAME_TAG, value: runName },
        ]);
      });
      return store.getRun(runId);
    },

    async getRun(runId) {
      const [run] = await withDbErrors(() => loadRuns([runId]));
      if (!run) throw new TasselError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
      return run;
    },

    ...(dialect === 'sqlite'
      ? {
          async getRunWire(runId: string) {
            const [wire] = await withDbErrors(() => loadRunsWire([runId]));
            if (wire === undefined)
              throw new TasselError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
            return wire;
          },
          async searchRunsWire(req: SearchRunsRequest) {
            const page = await searchRunsPage(req);
            const runs = await withDbErrors(() => loadRunsWire(page.ids));
            return page.next ? { runs, next_page_token: page.next } : { runs };
          },
        }
      : {}),

    async updateRun(req: UpdateRunRequest) {
      if (req.status !== undefined && !RUN_STATUSES.includes(req.status)) {
        throw new InputError(`Invalid run status '${req.status}'`);
      }
      if (req.run_name !== undefined) validateLength('Run name', LIMITS.maxRunNameLength, req.run_name);
      await inTransaction(db, async (trx) => {
        await activeRunRow(trx as AnyKysely, req.run_id);
        const set: Record<string, unknown> = {};
        if (req.status !== undefined) set.status = req.status;
        if (req.end_time !== undefined) set.end_time = req.end_time;
        if (req.run_name) set.name = req.run_name;
        if (Object.keys(set).length)
          await trx.updateTable('runs').set(set).where('run_uuid', '=', req.run_id).execute();
        if (req.run_name)
          await upsertRunTags(trx as AnyKysely, req.run_id, [{ key: RUN_NAME_TAG, value: req.run_name }]);
      });
      return toRunInfo(await runRow(db, req.run_id));
    },

    async deleteRun(runId) {
      await inTransaction(db, async (trx) => {
        await runRow(trx as AnyKysely, runId);
        await trx
          .updateTable('runs')
          .set({ lifecycle_stage: 'deleted', deleted_time: Date.now() })
          .where('run_uuid', '=', runId)
          .execute();
      });
    },

    async restoreRun(runId) {
      await inTransaction(db, async (trx) => {
        await runRow(trx as AnyKysely, runId);
        await trx
          .updateTable('runs')
          .set({ lifecycle_stage: 'active', deleted_time: null })
          .where('run_uuid', '=', runId)
          .execute();
      });
    },

    async searchRuns(req: SearchRunsRequest) {
      const page = await searchRunsPage(req);
      const runs = await withDbErrors(() => loadRuns(page.ids));
      return page.next ? { runs, next_page_token: page.next } : { runs };
    },

    async logBatch(req: LogBatchRequest) {
      const metrics = req.metrics ?? [];
      const params = req.params ?? [];
      const tags = req.tags ?? [];
      validateBatch(metrics, params, tags);
      const runId = req.run_id;
      await inTransaction(db, async (trx) => {
        await activeRunRow(trx as AnyKysely, runId);
        if (params.length) {
          const unique = new Map(params.map((p) => [p.key, p.value]));
          await trx
            .insertInto('params')
            .values([...unique].map(([key, value]) => ({ run_uuid: runId, key, value })))
            .onConflict((oc) => oc.columns(['run_uuid', 'key']).doNothing())
            .execute();
          // Params are immutable: any key now holding a different value was logged before with it.
          const stored = await trx
            .selectFrom('params')
            .select(['key', 'value'])
            .where('run_uuid', '=', runId)
            .where('key', 'in', [...unique.keys()])
            .execute();
          for (const s of stored) {
            const wanted = unique.get(s.key)!;
            if (s.value !== wanted) {
              throw new InputError(
                `Changing param values is not allowed. Param with key='${s.key}' was already logged with value='${s.value}' ` +
                  `for run ID='${runId}'. Attempted logging new value '${wanted}'.`,
              );
            }
          }
        }
        if (metrics.length) {
          const rows = metrics.map((m) => {
            const nan = Number.isNaN(m.value);
            return {
              run_uuid: runId,
              key: m.key,
              value: nan ? 0 : m.value,
              timestamp: m.timestamp,
              step: m.step,
              is_nan: bool(nan),
            };
          });
          await insertRows(
            trx as AnyKysely,
            'metrics',
            ['run_uuid', 'key', 'value', 'timestamp', 'step', 'is_nan'],
            rows.map((r) => [r.run_uuid, r.key, r.value, r.timestamp, r.step, r.is_nan]),
          );
          // MLflow's "latest": highest step, then highest timestamp, then highest value.
          const latest = new Map<string, (typeof rows)[number]>();
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
          const sorted = [...latest.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
          await insertRows(
            trx as AnyKysely,
            'latest_metrics',
            ['run_uuid', 'key', 'value', 'timestamp', 'step', 'is_nan'],
            sorted.map((r) => [r.run_uuid, r.key, r.value, r.timestamp, r.step, r.is_nan]),
            'ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, ' +
              'step = excluded.step, is_nan = excluded.is_nan WHERE excluded.step > latest_metrics.step OR ' +
              '(excluded.step = latest_metrics.step AND (excluded.timestamp > latest_metrics.timestamp OR ' +
              '(excluded.timestamp = latest_metrics.timestamp AND excluded.value > latest_metrics.value)))',
          );
        }
        await upsertRunTags(trx as AnyKysely, runId, tags);
      });
    },

    async deleteTag(runId, key) {
      await inTransaction(db, async (trx) => {
        await activeRunRow(trx as AnyKysely, runId);
        const r = await trx
          .deleteFrom('tags')
          .where('run_uuid', '=', runId)
          .where('key', '=', key)
          .executeTakeFirst();
        if (Number(r.numDeletedRows) === 0) {
          throw new TasselError(
            'RESOURCE_DOES_NOT_EXIST',
            `No tag with name: ${key} in run with id ${runId}`,
          );
        }
      });
    },

    async logInputs(runId, datasets) {
      if (datasets.length > LIMITS.maxDatasetsPerCall) {
        throw new InputError(
          `A log_inputs request can contain at most ${LIMITS.maxDatasetsPerCall} datasets.`,
        );
      }
      for (const d of datasets) {
        validateLength('Dataset name', 500, d.dataset.name);
        validateLength('Dataset digest', 36, d.dataset.digest);
        validateLength('Dataset source type', 36, d.dataset.source_type);
        for (const t of d.tags) validateLength('Input tag key', 255, t.key);
      }
      await inTransaction(db, async (trx) => {
        const run = await activeRunRow(trx as AnyKysely, runId);
        for (const d of datasets) {
          const expId = Number(run.experiment_id);
          await trx
            .insertInto('datasets')
            .values({
              dataset_uuid: randomUUID().replace(/-/g, ''),
              experiment_id: expId,
              name: d.dataset.name,
              digest: d.dataset.digest,
              dataset_source_type: d.dataset.source_type,
              dataset_source: d.dataset.source,
              dataset_schema: d.dataset.schema ?? null,
              dataset_profile: d.dataset.profile ?? null,
            })
            .onConflict((oc) => oc.columns(['experiment_id', 'name', 'digest']).doNothing())
            .execute();
          const ds = await trx
            .selectFrom('datasets')
            .select('dataset_uuid')
            .where('experiment_id', '=', expId)
            .where('name', '=', d.dataset.name)
            .where('digest', '=', d.dataset.digest)
            .executeTakeFirstOrThrow();
          await trx
            .insertInto('inputs')
            .values({
              input_uuid: randomUUID().replace(/-/g, ''),
              source_type: 'DATASET',
              source_id: ds.dataset_uuid,
              destination_type: 'RUN',
              destination_id: runId,
            })
            .onConflict((oc) =>
              oc.columns(['source_type', 'source_id', 'destination_type', 'destination_id']).doNothing(),
            )
            .execute();
          const input = await trx
            .selectFrom('inputs')
            .select('input_uuid')
            .where('source_type', '=', 'DATASET')
            .where('source_id', '=', ds.dataset_uuid)
            .where('destination_type', '=', 'RUN')
            .where('destination_id', '=', runId)
            .executeTakeFirstOrThrow();
          if (d.tags.length) {
            await trx
              .insertInto('input_tags')
              .values(d.tags.map((t) => ({ input_uuid: input.input_uuid, name: t.key, value: t.value })))
              .onConflict((oc) =>
                oc.columns(['input_uuid', 'name']).doUpdateSet({ value: sql.ref('excluded.value') }),
              )
              .execute();
          }
        }
      });
    },

    async getMetricHistory(req: GetMetricHistoryRequest) {
      await withDbErrors(() => runRow(db, req.run_id));
      const max = req.max_results ?? 25_000;
      if (!Number.isInteger(max) || max < 1)
        throw new InputError(`Invalid value ${max} for parameter 'max_results' supplied.`);
      const hash = queryHash(['hist', req.run_id, req.metric_key]);
      let q = db
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
    },

    async getMetricHistoryBulkInterval(req: GetMetricHistoryBulkIntervalRequest) {
      const max = req.max_results ?? 2500;
      if (req.start_step !== undefined && req.end_step !== undefined && req.start_step > req.end_step) {
        throw new InputError('end_step must be greater than start_step. ');
      }
      const out: MetricWithRunId[] = [];
      for (const runId of req.run_ids) {
        await withDbErrors(() => runRow(db, runId));
        let stepsQ = db
          .selectFrom('metrics')
          .select('step')
          .distinct()
          .where('run_uuid', '=', runId)
          .where('key', '=', req.metric_key);
        if (req.start_step !== undefined) stepsQ = stepsQ.where('step', '>=', req.start_step);
        if (req.end_step !== undefined) stepsQ = stepsQ.where('step', '<=', req.end_step);
        const steps = (await stepsQ.orderBy('step').execute()).map((r) => Number(r.step));
        if (!steps.length) continue;
        let chosen = steps;
        if (steps.length > max) {
          // Evenly spaced steps, always keeping the first and the last, as MLflow samples.
          const picked = new Set<number>();
          for (let i = 0; i < max; i++)
            picked.add(steps[Math.round((i * (steps.length - 1)) / Math.max(1, max - 1))]);
          chosen = [...picked].sort((a, b) => a - b);
        }
        for (const part of chunks(chosen)) {
          const rows = await db
            .selectFrom('metrics')
            .select(['key', 'value', 'timestamp', 'step', 'is_nan'])
            .where('run_uuid', '=', runId)
            .where('key', '=', req.metric_key)
            .where('step', 'in', part)
            .orderBy('step')
            .orderBy('timestamp')
            .orderBy('id')
            .execute();
          for (const r of rows) out.push({ ...metricOut(r), run_id: runId });
        }
      }
      return { metrics: out };
    },
  };
  return store;
}
