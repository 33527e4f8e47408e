import type { Statement } from 'better-sqlite3';
import type { JsonSql } from '../../sql/dialect.js';
import type { Run } from '../types.js';
import { chunks, type SqlStoreContext } from './context.js';
import { createKeyBatcher } from './key-batcher.js';
import { createRunCache } from './run-cache.js';

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
 * statement, plus its outputs (`{"model_outputs": [...]}`, NULL when it has none) in a second column and
 * its revision, read in the same snapshot, in a third.
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
  return `SELECT r.run_uuid AS id, ${j.text(run)} AS j, ${outputs} AS o, r.revision AS rev FROM runs r WHERE r.run_uuid IN ({in})`;
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

type WireRow = { id: string; j: string; o: string | null; rev: string | number };
type RevisionRow = { id: string; rev: string | number };

/** Reads whole runs: the run row and its metrics, params, tags, inputs and outputs. */
export interface RunLoader {
  /** The runs with the given ids, in that order (ids that no longer exist are left out). */
  loadRuns(ids: string[], revisions?: Array<string | number>): Promise<Run[]>;
  /**
   * The runs' wire JSON texts, in that order. `revisions` (the runs' `revision` column, read in the same
   * statement as `ids`, as a search page does) saves looking them up before the cache is asked.
   */
  loadRunsWire(ids: string[], revisions?: Array<string | number>): Promise<string[]>;
}

/** Options of {@link createRunLoader}. */
export interface RunLoaderOptions {
  /** Characters of run JSON to keep cached under their revisions (0: no cache, every read builds). */
  cacheChars: number;
}

/**
 * A statement over a list of run ids (`{in}` in `text`). On SQLite it runs synchronously on a cached
 * prepared statement, skipping the query builder, unless a transaction holds the shared connection (then
 * through Kysely, which waits, so no read sees a write that is not committed). On PostgreSQL it is a named
 * prepared statement, one run (runs/get) or any number as one array parameter.
 */
function createIdQuery<R>(ctx: SqlStoreContext, text: string): (ids: string[]) => Promise<R[]> {
  const raw = ctx.database.sqlite;
  const statements = new Map<number, Statement>();
  const pgOne = text.replace('IN ({in})', '= $1');
  const pgMany = text.replace('IN ({in})', '= ANY($1::text[])');
  return async (ids) => {
    if (raw && !raw.inTransaction) {
      let stmt = statements.get(ids.length);
      if (!stmt) {
        stmt = raw.prepare(text.replace('{in}', ids.map(() => '?').join(', ')));
        statements.set(ids.length, stmt);
      }
      return stmt.all(...ids) as R[];
    }
    if (ctx.database.pgPool) {
      return ctx.preparedSelect<R>(ids.length === 1 ? pgOne : pgMany, ids.length === 1 ? ids : [ids]);
    }
    return ctx.rawSelect<R>(ctx.db, text, ids, ids.length);
  };
}

/**
 * The run loader of a store: one statement builds the runs' JSON (see {@link runsWireSql}); with a
 * cache, a run whose revision has not moved since its text was built is not built again (a search page
 * on PostgreSQL spent ~60 % of its database time building its 100 runs' JSON).
 */
export function createRunLoader(ctx: SqlStoreContext, options: RunLoaderOptions): RunLoader {
  const wireRows = createIdQuery<WireRow>(ctx, runsWireSql(ctx.dialect.json));
  const revisionRows = createIdQuery<RevisionRow>(
    ctx,
    'SELECT run_uuid AS id, revision AS rev FROM runs WHERE run_uuid IN ({in})',
  );
  const cache = options.cacheChars > 0 ? createRunCache({ maxChars: options.cacheChars }) : undefined;

  async function build(ids: string[], into: Map<string, string>): Promise<void> {
    for (const part of chunks(ids)) {
      for (const r of await wireRows(part)) {
        const text = wireOf(r.j, r.o);
        into.set(r.id, text);
        cache?.set(r.id, String(r.rev), text);
      }
    }
  }

  async function revisionsOf(ids: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const part of chunks(ids)) for (const r of await revisionRows(part)) out.set(r.id, String(r.rev));
    return out;
  }

  /** The texts of the runs of `ids` that exist, from the cache where the revision matches. */
  async function wireById(ids: string[], revisions?: Array<string | number>): Promise<Map<string, string>> {
    const byId = new Map<string, string>();
    if (!cache) {
      await build(ids, byId);
      return byId;
    }
    const known = revisions
      ? new Map(ids.map((id, i) => [id, String(revisions[i])]))
      : await revisionsOf(ids);
    const misses: string[] = [];
    for (const [id, rev] of known) {
      const text = cache.get(id, rev);
      if (text === undefined) misses.push(id);
      else byId.set(id, text);
    }
    if (misses.length) await build(misses, byId);
    return byId;
  }

  // PostgreSQL: concurrent single-run reads (runs/get) share a statement; one round trip and one
  // statement's overhead per batch instead of per run. SQLite's reads are synchronous: nothing to share.
  const batcher = ctx.database.pgPool ? createKeyBatcher({ loadMany: (ids) => wireById(ids) }) : undefined;

  async function loadRunsWire(ids: string[], revisions?: Array<string | number>): Promise<string[]> {
    if (batcher && ids.length === 1 && !revisions) {
      const wire = await batcher.load(ids[0]);
      return wire === undefined ? [] : [wire];
    }
    return inOrder(ids, await wireById(ids, revisions));
  }

  return {
    loadRunsWire,
    loadRuns: async (ids, revisions) => (await loadRunsWire(ids, revisions)).map(runFromWire),
  };
}
