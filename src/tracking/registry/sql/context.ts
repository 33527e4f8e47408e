import { type Expression, type RawBuilder, type SqlBool, sql } from 'kysely';
import type { EventBus, RegistryEventInput } from '../../events/bus.js';
import type { AnyKysely, SqlDialectName } from '../../sql/database.js';
import { type SqlDialect, sqlDialect } from '../../sql/dialect.js';
import { inTransaction, withDbErrors } from '../../sql/transaction.js';
import { createPageToken, type FilterComparison } from '../search-filter.js';
import { type Db, notFoundModel, type Trx } from './tables.js';

/** Whether a model version's files are in place at an artifact URI. */
export type ArtifactProbe = (uri: string) => Promise<'present' | 'missing' | 'unknown'>;

/** The experiment facts a logged model needs (from the tracking store). */
export interface ExperimentInfo {
  artifact_location: string;
  lifecycle_stage: string;
}

/** Options of `createSqlRegistryStore`. */
export interface SqlRegistryStoreOptions {
  db: AnyKysely;
  dialect: SqlDialectName;
  /** Where committed changes are published (SSE, NOTIFY, webhooks). */
  events?: EventBus;
  /**
   * Checks a new version's files (runs:/ and mlflow-artifacts: sources); 'missing' makes the version
   * PENDING_REGISTRATION until a later read finds them. Without a probe, versions are READY at once.
   */
  probeArtifacts?: ArtifactProbe;
  /** Resolves `runs:/RUN_ID/path` sources to the run's artifact URI joined with the path. */
  resolveRunsUri?: (uri: string) => Promise<string>;
  /** Looks up an experiment for logged models (RESOURCE_DOES_NOT_EXIST when unknown). */
  getExperiment?: (experimentId: string) => Promise<ExperimentInfo>;
  /** Looks up a run for runs/outputs (RESOURCE_DOES_NOT_EXIST when unknown); without it runs are not checked. */
  getRun?: (runId: string) => Promise<{ info: { lifecycle_stage: string } }>;
  /** A version still PENDING this long after creation becomes FAILED_REGISTRATION. Default 10 min. */
  pendingTimeoutMs?: number;
  now?: () => number;
}

/** A change's body: runs in the transaction, pushes the events to publish once it commits. */
export type ChangeFn<T> = (trx: Trx, events: RegistryEventInput[]) => Promise<T>;

/** What every aggregate of the SQL registry shares. */
export interface RegistryContext {
  readonly db: Db;
  readonly dialect: SqlDialect;
  readonly options: SqlRegistryStoreOptions;
  now(): number;
  /** Runs a change in one transaction and publishes its events after commit. */
  tx<T>(fn: ChangeFn<T>): Promise<T>;
}

/** The shared context of one registry store. */
export function createRegistryContext(options: SqlRegistryStoreOptions): RegistryContext {
  const dialect = sqlDialect(options.dialect);
  const bus = options.events;
  const channel = dialect.notifyInTransaction ? bus?.notifyChannel : undefined;

  async function tx<T>(fn: ChangeFn<T>): Promise<T> {
    let events: RegistryEventInput[] = [];
    const result = await inTransaction(options.db, async (trx) => {
      events = [];
      const out = await fn(trx as unknown as Trx, events);
      if (channel && bus) {
        // NOTIFY inside the transaction: other replicas hear of the change exactly when it commits.
        for (const e of events) {
          const { uid, payload } = bus.serialize(e);
          e.uid = uid;
          await sql`SELECT pg_notify(${channel}, ${payload})`.execute(trx);
        }
      }
      return out;
    });
    if (events.length > 0 && bus) await bus.publish(events, { alreadySent: channel !== undefined });
    return result;
  }

  return { db: options.db as unknown as Db, dialect, options, now: options.now ?? Date.now, tx };
}

/**
 * Takes the registered model's row lock (an UPDATE of its row; `touch` also sets last_updated_time) and
 * checks it exists: per-model changes serialise on PostgreSQL and SQLite alike.
 */
export async function lockModel(trx: Trx, name: string, touch?: number): Promise<void> {
  const r = await trx
    .updateTable('registered_models')
    .set(touch === undefined ? { last_updated_time: sql`last_updated_time` } : { last_updated_time: touch })
    .where('name', '=', name)
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) throw notFoundModel(name);
}

/** One registry filter comparison on `ref`. */
export function compare(
  dialect: SqlDialect,
  ref: Expression<unknown>,
  c: FilterComparison,
): Expression<SqlBool> {
  const v = c.value;
  switch (c.comparator) {
    case 'ILIKE':
      return dialect.ilike(ref, v);
    case 'IN': {
      const list = v as string[];
      if (list.length === 0) return sql<SqlBool>`1 = 0`;
      return sql<SqlBool>`${ref} IN (${sql.join(list)})`;
    }
    case '!=':
      return sql<SqlBool>`${ref} <> ${v}`;
    default:
      // LIKE, =, <, <=, >, >=: the comparator is one of the parser's fixed tokens.
      return sql<SqlBool>`${ref} ${sql.raw(c.comparator)} ${v}`;
  }
}

/** A tag table and how its rows point at their parent, for {@link tagMatches}. */
export interface TagTable {
  table: string;
  key: string;
  value: string;
  /** Child column = parent column pairs, e.g. [['name', 'rm.name']]. */
  parent: Array<[string, string]>;
}

/**
 * `EXISTS` a tag of the parent row with the comparison's key whose value matches it. With
 * `notEqualMatchesMissing` (MLflow 3's registered-model and model-version search), `tag.k != 'v'` is
 * `NOT EXISTS` a tag `k = 'v'`: parents without the tag match too. That is how MlflowClient's implicit
 * ``tag.`mlflow.prompt.is_prompt` != 'true'`` keeps every ordinary model.
 */
export function tagMatches(
  dialect: SqlDialect,
  tags: TagTable,
  c: FilterComparison,
  options: { notEqualMatchesMissing?: boolean } = {},
): RawBuilder<SqlBool> {
  const links = tags.parent.map(([child, parent]) => sql`t.${sql.ref(child)} = ${sql.ref(parent)}`);
  const where = sql`${sql.join(links, sql` AND `)} AND t.${sql.ref(tags.key)} = ${c.key}`;
  if (c.comparator === '!=' && options.notEqualMatchesMissing) {
    return sql<SqlBool>`NOT EXISTS (SELECT 1 FROM ${sql.table(tags.table)} t WHERE ${where} AND t.${sql.ref(tags.value)} = ${c.value})`;
  }
  const value = compare(dialect, sql.ref(`t.${tags.value}`), c);
  return sql<SqlBool>`EXISTS (SELECT 1 FROM ${sql.table(tags.table)} t WHERE ${where} AND ${value})`;
}

/** A query that can be limited and offset (Kysely's select builders). */
interface Pageable<R> {
  limit(n: number): { offset(n: number): { execute(): Promise<R[]> } };
}

/** One offset-paged page of `query` (registry searches page by offset, as MLflow's do). */
export async function offsetPage<R>(
  query: Pageable<R>,
  max: number,
  offset: number,
): Promise<{ rows: R[]; next: { next_page_token?: string } }> {
  const rows = await withDbErrors(() =>
    query
      .limit(max + 1)
      .offset(offset)
      .execute(),
  );
  return {
    rows: rows.slice(0, max),
    next: rows.length > max ? { next_page_token: createPageToken(offset + max) } : {},
  };
}
