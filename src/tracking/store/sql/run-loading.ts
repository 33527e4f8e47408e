import type { Statement } from 'better-sqlite3';
import type { Run } from '../types.js';
import { chunks, type SqlStoreContext } from './context.js';
import { runInputsOf } from './inputs.js';
import { latestMetricsOf } from './metrics.js';
import { runOutputsOf } from './outputs.js';
import { runParamsOf } from './params.js';
import { RUN_COLUMNS, type RunRow, toRunInfo } from './run-rows.js';
import { runTagsOf } from './tags.js';

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

/** `ids` mapped through `byId`, in order, leaving out ids it does not hold (runs deleted meanwhile). */
function inOrder<T>(ids: string[], byId: Map<string, T>): T[] {
  const out: T[] = [];
  for (const id of ids) {
    const v = byId.get(id);
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** Reads whole runs: the run row and its metrics, params, tags, inputs and outputs. */
export interface RunLoader {
  /** The runs with the given ids, in that order (ids that no longer exist are left out). */
  loadRuns(ids: string[]): Promise<Run[]>;
  /** SQLite: the runs' wire JSON texts, in that order. */
  loadRunsWire(ids: string[]): Promise<string[]>;
}

/** The run loader of a store: one JSON statement on SQLite, one IN query per child table on PostgreSQL. */
export function createRunLoader(ctx: SqlStoreContext): RunLoader {
  const raw = ctx.database.sqlite;
  const wireStatements = new Map<number, Statement>();

  /**
   * {@link SQLITE_RUNS_WIRE} runs synchronously on a cached prepared statement, skipping the query
   * builder, unless a transaction holds the shared connection (then through Kysely, which waits).
   */
  async function wireRows(part: string[]): Promise<Array<[string, string, string | null]>> {
    if (raw && !raw.inTransaction) {
      let stmt = wireStatements.get(part.length);
      if (!stmt) {
        stmt = raw.prepare(SQLITE_RUNS_WIRE.replace('{in}', part.map(() => '?').join(', '))).raw(true);
        wireStatements.set(part.length, stmt);
      }
      return stmt.all(...part) as Array<[string, string, string | null]>;
    }
    const rows = await ctx.rawSelect<{ id: string; j: string; o: string | null }>(
      ctx.db,
      SQLITE_RUNS_WIRE,
      part,
      part.length,
    );
    return rows.map((r) => [r.id, r.j, r.o]);
  }

  async function loadRunsWire(ids: string[]): Promise<string[]> {
    const byId = new Map<string, string>();
    for (const part of chunks(ids)) {
      for (const [id, j, o] of await wireRows(part)) byId.set(id, wireOf(j, o));
    }
    return inOrder(ids, byId);
  }

  /** Runs from their rows plus a handful of IN queries, one per child aggregate. */
  async function runsOut(rows: RunRow[]): Promise<Run[]> {
    const ids = rows.map((r) => r.run_uuid);
    const [params, tags, metrics, inputs, outputs] = [
      await runParamsOf(ctx, ids),
      await runTagsOf(ctx, ids),
      await latestMetricsOf(ctx, ids),
      await runInputsOf(ctx, ids),
      await runOutputsOf(ctx, ids),
    ];
    return rows.map((r) => {
      const id = r.run_uuid;
      const run: Run = {
        info: toRunInfo(r),
        data: { metrics: metrics.get(id) ?? [], params: params.get(id) ?? [], tags: tags.get(id) ?? [] },
        inputs: { dataset_inputs: inputs.get(id) ?? [] },
      };
      const out = outputs.get(id);
      if (out) run.outputs = { model_outputs: out };
      return run;
    });
  }

  async function loadRuns(ids: string[]): Promise<Run[]> {
    if (ctx.dialect.jsonRunsAndIndexedBy) return (await loadRunsWire(ids)).map(runFromWire);
    const byId = new Map<string, Run>();
    for (const part of chunks(ids)) {
      const rows = await ctx.rawSelect<RunRow>(
        ctx.db,
        `SELECT ${RUN_COLUMNS} FROM runs WHERE run_uuid IN ({in})`,
        part,
        part.length,
      );
      if (!rows.length) continue;
      for (const run of await runsOut(rows)) byId.set(run.info.run_id, run);
    }
    return inOrder(ids, byId);
  }

  return { loadRuns, loadRunsWire };
}
