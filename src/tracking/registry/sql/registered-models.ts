import { sql } from 'kysely';
import { InputError, TasselError } from '../../../errors.js';
import { withDbErrors } from '../../sql/transaction.js';
import {
  parseOrderBy,
  parsePageToken,
  parseRegistryFilter,
  REGISTERED_MODEL_FILTER,
} from '../search-filter.js';
import {
  ALL_STAGES,
  type ChangeContext,
  type KeyValue,
  type ModelVersion,
  type RegisteredModel,
  type RegistryStore,
  SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
  SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
  type SearchArgs,
} from '../store.js';
import {
  canonicalStage,
  missingValue,
  validateMaxResults,
  validateModelName,
  validateTag,
  validateTagKey,
  validateTags,
} from '../validation.js';
import { aliasesOf, dropAliases, renameAliasHistory } from './aliases.js';
import { compare, lockModel, offsetPage, type RegistryContext, tagMatches } from './context.js';
import { loadVersions } from './model-versions.js';
import {
  keyValuesOrNone,
  modelExists,
  notFoundModel,
  num,
  principalOf,
  type Reader,
  type RegisteredModelsTable,
  versionKey,
} from './tables.js';

/** The registered_models column an order_by key names. */
const ORDER_COLUMNS: Record<string, string> = {
  name: 'rm.name',
  creation_timestamp: 'rm.creation_time',
  last_updated_timestamp: 'rm.last_updated_time',
  timestamp: 'rm.last_updated_time',
};
const MODEL_TAGS = {
  table: 'registered_model_tags',
  key: 'key',
  value: 'value',
  parent: [['name', 'rm.name']] as Array<[string, string]>,
};

const stageOrder = (s: string) => {
  const i = (ALL_STAGES as readonly string[]).indexOf(s);
  return i < 0 ? 99 : i;
};

/** The latest version in each stage of each of the models `names`, in stage order. */
async function latestVersionsOf(q: Reader, names: string[]): Promise<Map<string, ModelVersion[]>> {
  const latest = await q
    .selectFrom('model_versions')
    .select(['name', 'current_stage', (eb) => eb.fn.max('version').as('version')])
    .where('name', 'in', names)
    .groupBy(['name', 'current_stage'])
    .execute();
  const versions = await loadVersions(
    q,
    latest.map((l) => ({ name: l.name, version: Number(l.version) })),
  );
  const out = new Map<string, ModelVersion[]>();
  for (const name of names) {
    const list = latest
      .filter((l) => l.name === name)
      .sort((a, b) => stageOrder(a.current_stage) - stageOrder(b.current_stage))
      .map((l) => versions.get(versionKey(l.name, Number(l.version))))
      .filter((x): x is ModelVersion => x !== undefined);
    out.set(name, list);
  }
  return out;
}

/** Registered models from their rows, with latest versions, tags and aliases. */
async function loadRegisteredModels(q: Reader, rows: RegisteredModelsTable[]): Promise<RegisteredModel[]> {
  if (rows.length === 0) return [];
  const names = rows.map((r) => r.name);
  const tags = await q
    .selectFrom('registered_model_tags')
    .selectAll()
    .where('name', 'in', names)
    .orderBy('key')
    .execute();
  const aliases = await aliasesOf(q, names);
  const latest = await latestVersionsOf(q, names);
  return rows.map((r) => {
    const rm: RegisteredModel = {
      name: r.name,
      creation_timestamp: num(r.creation_time),
      last_updated_timestamp: num(r.last_updated_time),
    };
    rm.description = r.description ?? '';
    const lv = latest.get(r.name) ?? [];
    if (lv.length) rm.latest_versions = lv;
    const t = keyValuesOrNone(tags.filter((x) => x.name === r.name));
    if (t) rm.tags = t;
    const a = aliases.filter((x) => x.name === r.name);
    if (a.length) rm.aliases = a.map((x) => ({ alias: x.alias, version: String(x.version) }));
    return rm;
  });
}

async function getModelRow(q: Reader, name: string): Promise<RegisteredModelsTable> {
  const row = await q.selectFrom('registered_models').selectAll().where('name', '=', name).executeTakeFirst();
  if (!row) throw notFoundModel(name);
  return row;
}

/** order_by of a registered-model search as columns; a column named twice is an error. */
function modelOrder(orderBy: string[] | undefined): Array<{ col: string; ascending: boolean }> {
  const order = (orderBy ?? []).map((o) => parseOrderBy(o, new Set(Object.keys(ORDER_COLUMNS))));
  const seen = new Set<string>();
  return order.map((o) => {
    const col = ORDER_COLUMNS[o.key];
    if (seen.has(col))
      throw new InputError(`\`order_by\` contains duplicate fields: ${JSON.stringify(orderBy)}`);
    seen.add(col);
    return { col, ascending: o.ascending };
  });
}

type ModelOps = Pick<
  RegistryStore,
  | 'createRegisteredModel'
  | 'getRegisteredModel'
  | 'renameRegisteredModel'
  | 'updateRegisteredModel'
  | 'deleteRegisteredModel'
  | 'searchRegisteredModels'
  | 'getLatestVersions'
  | 'setRegisteredModelTag'
  | 'deleteRegisteredModelTag'
>;

async function createRegisteredModel(
  ctx: RegistryContext,
  args: { name: string; tags?: KeyValue[]; description?: string },
  change?: ChangeContext,
): ReturnType<RegistryStore['createRegisteredModel']> {
  validateModelName(args?.name);
  const tags = validateTags(args.tags);
  const ts = ctx.now();
  await ctx
    .tx(async (trx, events) => {
      const exists = await trx
        .selectFrom('registered_models')
        .select('name')
        .where('name', '=', args.name)
        .executeTakeFirst();
      if (exists) throw modelExists(args.name);
      await trx
        .insertInto('registered_models')
        .values({
          name: args.name,
          creation_time: ts,
          last_updated_time: ts,
          description: args.description ?? null,
          next_version: 1,
        })
        .execute();
      if (tags.length) {
        await trx
          .insertInto('registered_model_tags')
          .values(tags.map((t) => ({ name: args.name, key: t.key, value: t.value })))
          .execute();
      }
      const principal = principalOf(change);
      events.push({ type: 'registered_model_created', name: args.name, principal, timestamp: ts });
    })
    .catch((e) => {
      // A concurrent create of the same name loses on the primary key: the same message.
      if (e instanceof TasselError && e.code === 'RESOURCE_ALREADY_EXISTS') throw modelExists(args.name);
      throw e;
    });
  return getRegisteredModel(ctx, args.name);
}

async function getRegisteredModel(
  ctx: RegistryContext,
  name: string,
): ReturnType<RegistryStore['getRegisteredModel']> {
  validateModelName(name);
  const row = await withDbErrors(() => getModelRow(ctx.db, name));
  return (await loadRegisteredModels(ctx.db, [row]))[0];
}

async function renameRegisteredModel(
  ctx: RegistryContext,
  name: string,
  newName: string,
): ReturnType<RegistryStore['renameRegisteredModel']> {
  validateModelName(name);
  if (typeof newName !== 'string' || newName === '') throw new InputError(missingValue('new_name'));
  validateModelName(newName, 'new_name');
  const ts = ctx.now();
  await ctx.tx(async (trx) => {
    await lockModel(trx, name, ts);
    if (newName === name) return;
    const clash = await trx
      .selectFrom('registered_models')
      .select('name')
      .where('name', '=', newName)
      .executeTakeFirst();
    if (clash) throw modelExists(newName);
    // ON UPDATE CASCADE carries versions, tags and aliases along.
    await trx.updateTable('registered_models').set({ name: newName }).where('name', '=', name).execute();
    await trx
      .updateTable('model_versions')
      .set({ last_updated_time: ts })
      .where('name', '=', newName)
      .execute();
    await renameAliasHistory(trx, name, newName);
  });
  return getRegisteredModel(ctx, newName);
}

async function updateRegisteredModel(
  ctx: RegistryContext,
  name: string,
  description: string | undefined,
): ReturnType<RegistryStore['updateRegisteredModel']> {
  validateModelName(name);
  await ctx.tx(async (trx) => {
    await lockModel(trx, name, ctx.now());
    await trx
      .updateTable('registered_models')
      .set({ description: description ?? null })
      .where('name', '=', name)
      .execute();
  });
  return getRegisteredModel(ctx, name);
}

async function deleteRegisteredModel(
  ctx: RegistryContext,
  name: string,
  change?: ChangeContext,
): ReturnType<RegistryStore['deleteRegisteredModel']> {
  validateModelName(name);
  const ts = ctx.now();
  await ctx.tx(async (trx, events) => {
    await lockModel(trx, name);
    const reason = change?.reason ?? 'registered model deleted';
    await dropAliases(trx, events, await aliasesOf(trx, [name]), ts, {
      principal: change?.principal,
      reason,
    });
    await trx.deleteFrom('model_version_tags').where('name', '=', name).execute();
    await trx.deleteFrom('model_versions').where('name', '=', name).execute();
    await trx.deleteFrom('registered_model_tags').where('name', '=', name).execute();
    await trx.deleteFrom('registered_models').where('name', '=', name).execute();
  });
}

async function searchRegisteredModels(
  ctx: RegistryContext,
  args: SearchArgs = {},
): ReturnType<RegistryStore['searchRegisteredModels']> {
  const max = validateMaxResults(
    args.max_results,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
  );
  const clauses = parseRegistryFilter(args.filter, REGISTERED_MODEL_FILTER);
  const offset = parsePageToken(args.page_token);
  const order = modelOrder(args.order_by);
  let q = ctx.db.selectFrom('registered_models as rm').selectAll('rm');
  for (const c of clauses) {
    q = q.where(
      c.type === 'attribute'
        ? compare(ctx.dialect, sql.ref('rm.name'), c)
        : tagMatches(ctx.dialect, MODEL_TAGS, c, { notEqualMatchesMissing: true }),
    );
  }
  for (const o of order) q = q.orderBy(o.col as 'rm.name', o.ascending ? 'asc' : 'desc');
  if (!order.some((o) => o.col === 'rm.name')) q = q.orderBy('rm.name', 'asc');
  const page = await offsetPage(q, max, offset);
  return { items: await loadRegisteredModels(ctx.db, page.rows), ...page.next };
}

async function getLatestVersions(
  ctx: RegistryContext,
  name: string,
  stages?: string[],
): ReturnType<RegistryStore['getLatestVersions']> {
  validateModelName(name);
  const rm = await getRegisteredModel(ctx, name);
  const wanted = new Set(
    stages && stages.length > 0 ? stages.map((s) => canonicalStage(s)) : (ALL_STAGES as readonly string[]),
  );
  return (rm.latest_versions ?? []).filter((mv) => wanted.has(mv.current_stage));
}

async function setRegisteredModelTag(
  ctx: RegistryContext,
  name: string,
  key: string,
  value: string,
): ReturnType<RegistryStore['setRegisteredModelTag']> {
  validateModelName(name);
  const tag = validateTag({ key, value });
  await ctx.tx(async (trx) => {
    await lockModel(trx, name);
    await trx
      .insertInto('registered_model_tags')
      .values({ name, key: tag.key, value: tag.value })
      .onConflict((oc) => oc.columns(['name', 'key']).doUpdateSet({ value: tag.value }))
      .execute();
  });
}

async function deleteRegisteredModelTag(
  ctx: RegistryContext,
  name: string,
  key: string,
): ReturnType<RegistryStore['deleteRegisteredModelTag']> {
  validateModelName(name);
  validateTagKey(key);
  await ctx.tx(async (trx) => {
    await lockModel(trx, name);
    await trx.deleteFrom('registered_model_tags').where('name', '=', name).where('key', '=', key).execute();
  });
}

/** The registered-model aggregate: `registered_models` and `registered_model_tags`. */
export function registeredModelOps(ctx: RegistryContext): ModelOps {
  return {
    createRegisteredModel: (args, change) => createRegisteredModel(ctx, args, change),
    getRegisteredModel: (name) => getRegisteredModel(ctx, name),
    renameRegisteredModel: (name, newName) => renameRegisteredModel(ctx, name, newName),
    updateRegisteredModel: (name, description) => updateRegisteredModel(ctx, name, description),
    deleteRegisteredModel: (name, change) => deleteRegisteredModel(ctx, name, change),
    searchRegisteredModels: (args) => searchRegisteredModels(ctx, args),
    getLatestVersions: (name, stages) => getLatestVersions(ctx, name, stages),
    setRegisteredModelTag: (name, key, value) => setRegisteredModelTag(ctx, name, key, value),
    deleteRegisteredModelTag: (name, key) => deleteRegisteredModelTag(ctx, name, key),
  };
}
