import { type RawBuilder, sql } from 'kysely';
import { InputError, TasselError } from '../../../errors.js';
import type { AnyKysely } from '../../sql/database.js';
import { inTransaction, withDbErrors } from '../../sql/transaction.js';
import { queryHash } from '../keyset.js';
import { type Comparison, parseOrderBy, parseSearchFilter } from '../search-filter.js';
import {
  childCondition,
  compileFilter,
  nullCondition,
  numericCondition,
  stringCondition,
} from '../sql-filter.js';
import type {
  CreateExperimentRequest,
  Experiment,
  LifecycleStage,
  SearchExperimentsRequest,
  TrackingStore,
} from '../types.js';
import { LIMITS, validateExperimentName, validateLength, validateName } from '../validation.js';
import {
  appendToUri,
  chunks,
  groupBy,
  isId,
  lifecycleCondition,
  type SqlStoreContext,
  viewTypeOf,
} from './context.js';
import { keysetPage, type PageKey } from './paging.js';

/** A row of `experiments`. */
export interface ExperimentRow {
  experiment_id: string | number;
  name: string;
  artifact_location: string | null;
  lifecycle_stage: string;
  creation_time: string | number;
  last_update_time: string | number;
}

const EXPERIMENT_ATTRIBUTES: Record<string, { col: string; numeric: boolean }> = {
  name: { col: 'name', numeric: false },
  experiment_id: { col: 'experiment_id', numeric: true },
  creation_time: { col: 'creation_time', numeric: true },
  last_update_time: { col: 'last_update_time', numeric: true },
};

/** The experiment's row; RESOURCE_DOES_NOT_EXIST when there is none. */
export async function experimentRow(q: AnyKysely, id: string): Promise<ExperimentRow> {
  const row = isId(id)
    ? ((await q
        .selectFrom('experiments')
        .selectAll()
        .where('experiment_id', '=', Number(id))
        .executeTakeFirst()) as ExperimentRow | undefined)
    : undefined;
  if (!row) throw new TasselError('RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${id} exists`);
  return row;
}

/** The experiment's row, which must be active (as MLflow requires before adding to it). */
export async function activeExperimentRow(q: AnyKysely, id: string): Promise<ExperimentRow> {
  const row = await experimentRow(q, id);
  if (row.lifecycle_stage !== 'active') {
    throw new InputError(
      `The experiment ${id} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`,
    );
  }
  return row;
}

/** Creates the Default experiment (id 0) once, as MLflow's SQL store does on start. */
export async function ensureDefaultExperiment(ctx: SqlStoreContext): Promise<void> {
  const { db } = ctx;
  await withDbErrors(async () => {
    const has = await db
      .selectFrom('experiments')
      .select('experiment_id')
      .where('experiment_id', '=', 0)
      .executeTakeFirst();
    if (has) return;
    const now = Date.now();
    await db
      .insertInto('experiments')
      .values({
        experiment_id: 0,
        name: 'Default',
        artifact_location: appendToUri(ctx.defaultArtifactRoot, '0'),
        lifecycle_stage: 'active',
        creation_time: now,
        last_update_time: now,
      })
      .onConflict((oc) => oc.doNothing())
      .execute();
  });
}

async function experimentsOut(db: AnyKysely, rows: ExperimentRow[]): Promise<Experiment[]> {
  const trows: Array<{ experiment_id: number | string; key: string; value: string | null }> = [];
  for (const part of chunks(rows.map((r) => Number(r.experiment_id)))) {
    trows.push(
      ...(await db
        .selectFrom('experiment_tags')
        .select(['experiment_id', 'key', 'value'])
        .where('experiment_id', 'in', part)
        .orderBy('key')
        .execute()),
    );
  }
  const tags = groupBy(
    trows,
    (t) => String(t.experiment_id),
    (t) => ({ key: t.key, value: t.value ?? '' }),
  );
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

/** One comparison of an experiment filter: a tag or an attribute. */
function experimentCondition(c: Comparison): RawBuilder<unknown> {
  if (c.type === 'tag')
    return childCondition('experiment_tags', 'experiment_id', sql`e.experiment_id`, c, false, 'tag');
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
}

/** The sort keys and columns of an experiment search's order_by (then creation time and id). */
function experimentOrder(orderBy: string[]): { keys: PageKey[]; cols: RawBuilder<unknown>[] } {
  const keys: PageKey[] = [];
  const cols: RawBuilder<unknown>[] = [];
  orderBy.forEach((o, i) => {
    const p = parseOrderBy(o);
    const attr = p.type === 'attribute' ? EXPERIMENT_ATTRIBUTES[p.key] : undefined;
    if (!attr)
      throw new InputError(
        `Invalid order_by clause '${o}'. Experiments can be ordered by ${Object.keys(EXPERIMENT_ATTRIBUTES).join(', ')}.`,
      );
    keys.push({ alias: `sk${i}`, ascending: p.ascending, nullable: false, numeric: attr.numeric });
    cols.push(sql`e.${sql.ref(attr.col)} AS ${sql.ref(`sk${i}`)}`);
  });
  if (!orderBy.length) {
    keys.push({ alias: 'sk_ct', ascending: false, nullable: false, numeric: true });
    cols.push(sql`e.creation_time AS sk_ct`);
  }
  keys.push({ alias: 'sk_id', ascending: true, nullable: false, numeric: true });
  cols.push(sql`e.experiment_id AS sk_id`);
  return { keys, cols };
}

/** Sets the lifecycle stage of an experiment and of its runs that are in `from`. */
async function setExperimentLifecycle(
  trx: AnyKysely,
  id: string,
  to: 'active' | 'deleted',
  from: 'active' | 'deleted',
): Promise<void> {
  const now = Date.now();
  await trx
    .updateTable('experiments')
    .set({ lifecycle_stage: to, last_update_time: now })
    .where('experiment_id', '=', Number(id))
    .execute();
  await trx
    .updateTable('runs')
    .set({ lifecycle_stage: to, deleted_time: to === 'deleted' ? now : null, revision: sql`revision + 1` })
    .where('experiment_id', '=', Number(id))
    .where('lifecycle_stage', '=', from)
    .execute();
}

type ExperimentOps = Pick<
  TrackingStore,
  | 'createExperiment'
  | 'getExperiment'
  | 'getExperimentByName'
  | 'searchExperiments'
  | 'renameExperiment'
  | 'deleteExperiment'
  | 'restoreExperiment'
  | 'setExperimentTag'
  | 'deleteExperimentTag'
>;

async function createExperiment(
  ctx: SqlStoreContext,
  req: CreateExperimentRequest,
): ReturnType<TrackingStore['createExperiment']> {
  validateExperimentName(req.name);
  for (const t of req.tags ?? []) {
    validateName('tag', t.key);
    validateLength('Tag value', LIMITS.maxExperimentTagValueLength, t.value);
  }
  if (req.artifact_location !== undefined) validateLength('Artifact location', 2048, req.artifact_location);
  const now = Date.now();
  return inTransaction(
    ctx.db,
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
          .set({ artifact_location: appendToUri(ctx.defaultArtifactRoot, id) })
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
}

async function getExperiment(ctx: SqlStoreContext, id: string): ReturnType<TrackingStore['getExperiment']> {
  return (await experimentsOut(ctx.db, [await experimentRow(ctx.db, id)]))[0];
}

async function getExperimentByName(
  ctx: SqlStoreContext,
  name: string,
): ReturnType<TrackingStore['getExperimentByName']> {
  const row = (await withDbErrors(() =>
    ctx.db.selectFrom('experiments').selectAll().where('name', '=', name).executeTakeFirst(),
  )) as ExperimentRow | undefined;
  if (!row) throw new TasselError('RESOURCE_DOES_NOT_EXIST', `Could not find experiment with name '${name}'`);
  return (await experimentsOut(ctx.db, [row]))[0];
}

async function searchExperiments(
  ctx: SqlStoreContext,
  req: SearchExperimentsRequest,
): ReturnType<TrackingStore['searchExperiments']> {
  const view = viewTypeOf(req.view_type);
  const max = ctx.checkMaxResults(req.max_results, 1000);
  const filter = parseSearchFilter(req.filter);
  const cond = filter ? compileFilter(filter, experimentCondition) : sql`1 = 1`;
  const { keys, cols } = experimentOrder(req.order_by ?? []);
  const inner = sql`SELECT e.*, ${sql.join(cols)} FROM experiments e WHERE ${lifecycleCondition(sql`e.lifecycle_stage`, view)} AND ${cond}`;
  const hash = queryHash(['exp', view, req.filter ?? '', req.order_by ?? []]);
  const page = await keysetPage<ExperimentRow & Record<string, unknown>>(
    ctx.db,
    inner,
    keys,
    hash,
    max,
    req.page_token,
  );
  const experiments = await experimentsOut(ctx.db, page.rows);
  return page.next ? { experiments, next_page_token: page.next } : { experiments };
}

async function renameExperiment(
  ctx: SqlStoreContext,
  id: string,
  newName: string,
): ReturnType<TrackingStore['renameExperiment']> {
  validateExperimentName(newName);
  await inTransaction(
    ctx.db,
    async (trx) => {
      const row = await experimentRow(trx, id);
      if (row.lifecycle_stage !== 'active') throw new InputError('Cannot rename a non-active experiment.');
      await trx
        .updateTable('experiments')
        .set({ name: newName, last_update_time: Date.now() })
        .where('experiment_id', '=', Number(id))
        .execute();
    },
    { alreadyExists: `Experiment(name=${newName}) already exists.` },
  );
}

async function deleteExperiment(
  ctx: SqlStoreContext,
  id: string,
): ReturnType<TrackingStore['deleteExperiment']> {
  await inTransaction(ctx.db, async (trx) => {
    await experimentRow(trx, id);
    await setExperimentLifecycle(trx, id, 'deleted', 'active');
  });
}

async function restoreExperiment(
  ctx: SqlStoreContext,
  id: string,
): ReturnType<TrackingStore['restoreExperiment']> {
  await inTransaction(ctx.db, async (trx) => {
    const row = await experimentRow(trx, id);
    if (row.lifecycle_stage !== 'deleted') {
      throw new InputError(`Cannot restore an active experiment. Experiment ${id} is already active.`);
    }
    await setExperimentLifecycle(trx, id, 'active', 'deleted');
  });
}

async function setExperimentTag(
  ctx: SqlStoreContext,
  id: string,
  key: string,
  value: string,
): ReturnType<TrackingStore['setExperimentTag']> {
  validateName('tag', key);
  validateLength('Tag value', LIMITS.maxExperimentTagValueLength, value);
  await inTransaction(ctx.db, async (trx) => {
    await activeExperimentRow(trx, id);
    await trx
      .insertInto('experiment_tags')
      .values({ experiment_id: Number(id), key, value })
      .onConflict((oc) => oc.columns(['experiment_id', 'key']).doUpdateSet({ value }))
      .execute();
  });
}

async function deleteExperimentTag(
  ctx: SqlStoreContext,
  id: string,
  key: string,
): ReturnType<TrackingStore['deleteExperimentTag']> {
  await inTransaction(ctx.db, async (trx) => {
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
}

/** The experiment aggregate: `experiments` and `experiment_tags`. */
export function experimentOps(ctx: SqlStoreContext): ExperimentOps {
  return {
    createExperiment: (req) => createExperiment(ctx, req),
    getExperiment: (id) => getExperiment(ctx, id),
    getExperimentByName: (name) => getExperimentByName(ctx, name),
    searchExperiments: (req) => searchExperiments(ctx, req),
    renameExperiment: (id, newName) => renameExperiment(ctx, id, newName),
    deleteExperiment: (id) => deleteExperiment(ctx, id),
    restoreExperiment: (id) => restoreExperiment(ctx, id),
    setExperimentTag: (id, key, value) => setExperimentTag(ctx, id, key, value),
    deleteExperimentTag: (id, key) => deleteExperimentTag(ctx, id, key),
  };
}
