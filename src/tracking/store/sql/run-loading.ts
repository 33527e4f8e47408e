import type { Statement } from 'better-sqlite3';
import type { JsonSql } from '../../sql/dialect.js';
import type { Run } from '../types.js';
import { chunks, type SqlStoreContext } from './context.js';
import { createKeyBatcher } from './key-batcher.js';

/** The run's info object (`end_time` only when set). */
function wireInfo(j: JsonSql, endTime: boolean): string {
  return (
    `${j.object}('run_id', r.run_uuid, 'run_uuid', r.run_uuid, 'run_name', COALESCE(r.name, ''), ` +
    "'experiment_id', CAST(r.experiment_id AS TEXT), 'user_id', COALESCE(r.user_id, ''), 'status', r.status, " +
    `'start_time', r.start_time, ${endTime ? "'end_time', r.end_time, " : ''}'artifact_uri', COALESCE(r.artifact_uri, ''), ` +
    "'lifecycle_stage', r.lifecycle_stage)"
  );
}

/**
 * Each run of `{in}` as MLflow's wire JSON (`{"info", "data", "inputs"}`, inputs with `dataset_inputs` and
 * MLflow 3's `model_inputs`), built by the database in one
 * statement, plus its outputs (`{"model_outputs": [...]}`, NULL when it has none) in a second column.
 * runs/get and runs/search send these texts as they are; in-process callers get JSON.parse of them. One
 * statement and one string per run cost a fraction of reading ~30 rows as JavaScript objects and
 * serialising them again (on PostgreSQL it is also one round trip instead of six). Both databases render
 * doubles exactly (round-trip). On SQLite params, tags and latest_metrics are clustered on (run_uuid,
 * key), so their rows come in key order without a sort (an ORDER BY inside the aggregate would sort per
 * run, tripling the cost); inputs and outputs, usually few or none, are sorted.
 */
function runsWireSql(j: JsonSql): string {
  const o = j.object;
  const kv = (table: string, alias: string, value: string) =>
    `(SELECT ${j.array(`${o}('key', ${alias}.key, 'value', ${value})`, `${alias}.key`, true)} FROM ${table} ${alias} WHERE ${alias}.run_uuid = r.run_uuid)`;
  const metric = `${o}('key', m.key, 'value', ${j.metricValue}, 'timestamp', m.timestamp, 'step', m.step)`;
  const metrics = `(SELECT ${j.array(metric, 'm.key', true)} FROM latest_metrics m WHERE m.run_uuid = r.run_uuid)`;
  const inputTags = `(SELECT ${j.array(`${o}('key', it.name, 'value', it.value)`, 'it.name')} FROM input_tags it WHERE it.input_uuid = i.input_uuid)`;
  const dataset = j.merge(
    `${o}('name', d.name, 'digest', d.digest, 'source_type', d.dataset_source_type, 'source', d.dataset_source)`,
    `${o}('schema', d.dataset_schema, 'profile', d.dataset_profile)`,
  );
  const inputs =
    `(SELECT ${j.array(`${o}('tags', ${inputTags}, 'dataset', ${dataset})`, 'd.name')} ` +
    "FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id WHERE i.destination_type = 'RUN' AND i.destination_id = r.run_uuid)";
  const modelInputs =
    `(SELECT ${j.array(`${o}('model_id', mi.destination_id)`, 'mi.destination_id')} FROM inputs mi ` +
    "WHERE mi.source_type = 'RUN_INPUT' AND mi.source_id = r.run_uuid AND mi.destination_type = 'MODEL_INPUT')";
  const run =
    `${o}('info', CASE WHEN r.end_time IS NULL THEN ${wireInfo(j, false)} ELSE ${wireInfo(j, true)} END, ` +
    `'data', ${o}('metrics', ${metrics}, 'params', ${kv('params', 'p', 'p.value')}, 'tags', ${kv('tags', 't', "COALESCE(t.value, '')")}), ` +
    `'inputs', ${o}('dataset_inputs', ${inputs}, 'model_inputs', ${modelInputs}))`;
  const outputs =
    `(SELECT ${j.text(`${o}('model_outputs', ${j.array(`${o}('model_id', o.model_id, 'step', o.step)`, 'o.model_id')})`)} ` +
    'FROM run_model_outputs o WHERE o.run_id = r.run_uuid HAVING count(*) > 0)';
  return `SELECT r.run_uuid AS id, ${j.text(run)} AS j, ${outputs} AS o FROM runs r WHERE r.run_uuid IN ({in})`;
}

/** One run's wire JSON from the two columns of {@link runsWireSql}. */
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

type WireRow = { id: string; j: string; o: string | null };

/** Reads whole runs: the run row and its metrics, params, tags, inputs and outputs. */
export interface RunLoader {
  /** The runs with the given ids, in that order (ids that no longer exist are left out). */
  loadRuns(ids: string[]): Promise<Run[]>;
  /** The runs' wire JSON texts, in that order. */
  loadRunsWire(ids: string[]): Promise<string[]>;
}

/** The run loader of a store: one statement builds the runs' JSON (see {@link runsWireSql}). */
export function createRunLoader(ctx: SqlStoreContext): RunLoader {
  const raw = ctx.database.sqlite;
  const text = runsWireSql(ctx.dialect.json);
  const wireStatements = new Map<number, Statement>();
  // PostgreSQL: two prepared statements, one run (runs/get) and any number as one array parameter.
  const pgOne = text.replace('IN ({in})', '= $1');
  const pgMany = text.replace('IN ({in})', '= ANY($1::text[])');

  /**
   * On SQLite the statement runs synchronously on a cached prepared statement, skipping the query builder,
   * unless a transaction holds the shared connection (then through Kysely, which waits).
   */
  async function wireRows(part: string[]): Promise<Array<[string, string, string | null]>> {
    if (raw && !raw.inTransaction) {
      let stmt = wireStatements.get(part.length);
      if (!stmt) {
        stmt = raw.prepare(text.replace('{in}', part.map(() => '?').join(', '))).raw(true);
        wireStatements.set(part.length, stmt);
      }
      return stmt.all(...part) as Array<[string, string, string | null]>;
    }
    const rows = ctx.database.pgPool
      ? await ctx.preparedSelect<WireRow>(
          part.length === 1 ? pgOne : pgMany,
          part.length === 1 ? part : [part],
        )
      : await ctx.rawSelect<WireRow>(ctx.db, text, part, part.length);
    return rows.map((r) => [r.id, r.j, r.o]);
  }

  async function wireById(ids: string[]): Promise<Map<string, string>> {
    const byId = new Map<string, string>();
    for (const part of chunks(ids)) {
      for (const [id, j, o] of await wireRows(part)) byId.set(id, wireOf(j, o));
    }
    return byId;
  }

  // PostgreSQL: concurrent single-run reads (runs/get) share a statement; one round trip and one
  // statement's overhead per batch instead of per run. SQLite's reads are synchronous: nothing to share.
  const batcher = ctx.database.pgPool ? createKeyBatcher({ loadMany: wireById }) : undefined;

  async function loadRunsWire(ids: string[]): Promise<string[]> {
    if (batcher && ids.length === 1) {
      const wire = await batcher.load(ids[0]);
      return wire === undefined ? [] : [wire];
    }
    return inOrder(ids, await wireById(ids));
  }

  return {
    loadRunsWire,
    loadRuns: async (ids) => (await loadRunsWire(ids)).map(runFromWire),
  };
}
