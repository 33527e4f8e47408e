import { type RawBuilder, type SqlBool, sql } from 'kysely';
import { InputError } from '../../../errors.js';
import type { RegistryEventInput } from '../../events/bus.js';
import { withDbErrors } from '../../sql/transaction.js';
import { MODEL_VERSION_FILTER, parseOrderBy, parsePageToken, parseRegistryFilter } from '../search-filter.js';
import {
  ACTIVE_STAGES,
  type ChangeContext,
  type CreateModelVersionArgs,
  type ModelVersion,
  type ModelVersionStatus,
  type RegistryStore,
  SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
  SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
  type SearchArgs,
  STAGE_ARCHIVED,
  STAGE_NONE,
} from '../store.js';
import {
  canonicalStage,
  validateMaxResults,
  validateModelName,
  validateSource,
  validateTag,
  validateTagKey,
  validateTags,
  validateVersion,
} from '../validation.js';
import { aliasesOf, appendHistory, dropAliases } from './aliases.js';
import { compare, lockModel, offsetPage, type RegistryContext, tagMatches } from './context.js';
import { activeLoggedModel, recordRegistration } from './logged-models.js';
import {
  keyValuesOrNone,
  type ModelVersionsTable,
  notFoundModel,
  notFoundVersion,
  num,
  principalOf,
  type Reader,
  type Trx,
  versionKey,
  versionRow,
} from './tables.js';
import type { VersionStatus } from './version-status.js';

/** The model_versions column a filter or order_by key names. */
const COLUMNS: Record<string, string> = {
  name: 'mv.name',
  version_number: 'mv.version',
  creation_timestamp: 'mv.creation_time',
  source_path: 'mv.source',
  run_id: 'mv.run_id',
  last_updated_timestamp: 'mv.last_updated_time',
};
const ORDERABLE = new Set(['name', 'version_number', 'creation_timestamp', 'last_updated_timestamp']);
const DEFAULT_ORDER = ['last_updated_timestamp DESC', 'name ASC', 'version_number DESC'];
const VERSION_TAGS = {
  table: 'model_version_tags',
  key: 'key',
  value: 'value',
  parent: [
    ['name', 'mv.name'],
    ['version', 'mv.version'],
  ] as Array<[string, string]>,
};

function versionOut(
  r: ModelVersionsTable,
  tags: Array<{ key: string; value: string | null }>,
  aliases: string[],
): ModelVersion {
  const mv: ModelVersion = {
    name: r.name,
    version: String(r.version),
    creation_timestamp: num(r.creation_time),
    last_updated_timestamp: num(r.last_updated_time),
    current_stage: r.current_stage,
    source: r.source,
    status: r.status as ModelVersionStatus,
  };
  if (r.user_id) mv.user_id = r.user_id;
  mv.description = r.description ?? '';
  if (r.run_id) mv.run_id = r.run_id;
  if (r.status_message) mv.status_message = r.status_message;
  if (r.run_link) mv.run_link = r.run_link;
  if (r.model_id) mv.model_id = r.model_id;
  const t = keyValuesOrNone(tags);
  if (t) mv.tags = t;
  if (aliases.length) mv.aliases = aliases;
  return mv;
}

/** The model versions `keys` with their tags and aliases, by {@link versionKey}. */
export async function loadVersions(
  q: Reader,
  keys: Array<{ name: string; version: number }>,
): Promise<Map<string, ModelVersion>> {
  const out = new Map<string, ModelVersion>();
  const names = [...new Set(keys.map((k) => k.name))];
  const wanted = new Set(keys.map((k) => versionKey(k.name, k.version)));
  // Chunk by name so the IN lists stay small.
  for (let i = 0; i < names.length; i += 200) {
    const chunk = names.slice(i, i + 200);
    const versions = [...new Set(keys.filter((k) => chunk.includes(k.name)).map((k) => k.version))];
    const of = <T extends { name: string; version: number | string }>(list: T[], r: ModelVersionsTable) =>
      list.filter((x) => x.name === r.name && Number(x.version) === Number(r.version));
    const rows = await q
      .selectFrom('model_versions')
      .selectAll()
      .where('name', 'in', chunk)
      .where('version', 'in', versions)
      .execute();
    const tags = await q
      .selectFrom('model_version_tags')
      .selectAll()
      .where('name', 'in', chunk)
      .where('version', 'in', versions)
      .orderBy('key')
      .execute();
    const aliases = await aliasesOf(q, chunk);
    for (const r of rows) {
      const k = versionKey(r.name, r.version);
      if (wanted.has(k))
        out.set(
          k,
          versionOut(
            r,
            of(tags, r),
            of(aliases, r).map((a) => a.alias),
          ),
        );
    }
  }
  return out;
}

/** One model version; RESOURCE_DOES_NOT_EXIST when there is none. */
export async function getVersion(q: Reader, name: string, version: number): Promise<ModelVersion> {
  const mv = (await loadVersions(q, [{ name, version }])).get(versionKey(name, version));
  if (!mv) throw notFoundVersion(name, version);
  return mv;
}

/** Deletes a version, its tags, and (with `force`) the aliases pointing to it, recorded in their history. */
async function deleteVersionRows(
  trx: Trx,
  events: RegistryEventInput[],
  name: string,
  v: number,
  ts: number,
  force: boolean,
  ctx?: ChangeContext,
): Promise<void> {
  await versionRow(trx, name, v, ['version']);
  const aliases = await aliasesOf(trx, [name], v);
  if (aliases.length > 0 && !force) {
    const list = aliases.map((a) => `'${a.alias}'`).join(', ');
    const many = aliases.length > 1;
    throw new InputError(
      `Cannot delete version ${v} of registered model '${name}': alias${many ? 'es' : ''} ${list} ` +
        `point${many ? '' : 's'} to it. Move or delete the alias first, or pass force=true to delete ` +
        'the version and its aliases.',
    );
  }
  const reason = ctx?.reason ?? `model version ${v} deleted (force)`;
  await dropAliases(trx, events, aliases, ts, { principal: ctx?.principal, reason });
  await trx.deleteFrom('model_version_tags').where('name', '=', name).where('version', '=', v).execute();
  await trx.deleteFrom('model_versions').where('name', '=', name).where('version', '=', v).execute();
}

/** Moves the model's other versions in `stage` to Archived, each transition in the history. */
async function archiveOthers(
  trx: Trx,
  events: RegistryEventInput[],
  name: string,
  v: number,
  stage: string,
  ts: number,
  ctx?: ChangeContext,
): Promise<void> {
  const others = await trx
    .selectFrom('model_versions')
    .select('version')
    .where('name', '=', name)
    .where('version', '<>', v)
    .where('current_stage', '=', stage)
    .orderBy('version')
    .execute();
  const reason = ctx?.reason ?? `archived when version ${v} entered ${stage}`;
  for (const o of others) {
    await setStage(trx, name, Number(o.version), STAGE_ARCHIVED, ts);
    await appendHistory(
      trx,
      events,
      {
        name,
        alias: stage,
        action: 'stage_transitioned',
        from: Number(o.version),
        stage: STAGE_ARCHIVED,
        previousStage: stage,
        ts,
      },
      { principal: ctx?.principal, reason },
    );
  }
}

async function setStage(trx: Trx, name: string, v: number, stage: string, ts: number): Promise<void> {
  await trx
    .updateTable('model_versions')
    .set({ current_stage: stage, last_updated_time: ts })
    .where('name', '=', name)
    .where('version', '=', v)
    .execute();
}

/** A model-version search's where clause for one filter comparison. */
function versionFilter(
  ctx: RegistryContext,
  c: ReturnType<typeof parseRegistryFilter>[number],
): RawBuilder<SqlBool> {
  if (c.type === 'attribute') return compare(ctx.dialect, sql.ref(COLUMNS[c.key]), c) as RawBuilder<SqlBool>;
  return tagMatches(ctx.dialect, VERSION_TAGS, c, { notEqualMatchesMissing: true });
}

/** The registry context plus the version-status logic. */
interface VersionContext extends RegistryContext {
  status: VersionStatus;
}

/** Runs `fn` in a change of an existing version, under its model's lock. */
function versionChange(ctx: RegistryContext, name: string, v: number, fn: (trx: Trx) => Promise<void>) {
  return ctx.tx(async (trx) => {
    await lockModel(trx, name);
    await getVersion(trx, name, v);
    await fn(trx);
  });
}

type VersionOps = Pick<
  RegistryStore,
  | 'createModelVersion'
  | 'getModelVersion'
  | 'updateModelVersion'
  | 'deleteModelVersion'
  | 'transitionModelVersionStage'
  | 'searchModelVersions'
  | 'getModelVersionDownloadUri'
  | 'setModelVersionTag'
  | 'deleteModelVersionTag'
>;

async function createModelVersion(
  ctx: VersionContext,
  args: CreateModelVersionArgs,
  change?: ChangeContext,
): ReturnType<RegistryStore['createModelVersion']> {
  validateModelName(args?.name);
  validateSource(args.source);
  const tags = validateTags(args.tags);
  const resolved = await ctx.status.resolve(args.source, args.run_id || undefined);
  const modelId = args.model_id || resolved.modelId;
  if (modelId) await activeLoggedModel(ctx.db, modelId);
  const probe = await ctx.status.probe(resolved.storage, args.source);
  const ts = ctx.now();
  const version = await ctx.tx(async (trx, events) => {
    const bumped = await trx
      .updateTable('registered_models')
      .set({ next_version: sql`next_version + 1`, last_updated_time: ts })
      .where('name', '=', args.name)
      .returning('next_version')
      .executeTakeFirst();
    if (!bumped) throw notFoundModel(args.name);
    const v = Number(bumped.next_version) - 1;
    await trx
      .insertInto('model_versions')
      .values({
        name: args.name,
        version: v,
        creation_time: ts,
        last_updated_time: ts,
        description: args.description ?? null,
        user_id: change?.principal && change.principal !== 'anonymous' ? change.principal : null,
        current_stage: STAGE_NONE,
        source: args.source,
        storage_location: resolved.storage,
        run_id: resolved.runId ?? null,
        run_link: args.run_link || null,
        status: probe.status,
        status_message: probe.message ?? null,
        model_id: modelId ?? null,
      })
      .execute();
    if (tags.length) {
      await trx
        .insertInto('model_version_tags')
        .values(tags.map((t) => ({ name: args.name, version: v, key: t.key, value: t.value })))
        .execute();
    }
    if (modelId) await recordRegistration(trx, modelId, { name: args.name, version: Number(v) }, ts);
    const principal = principalOf(change);
    events.push({
      type: 'model_version_created',
      name: args.name,
      version: String(v),
      principal,
      timestamp: ts,
    });
    return v;
  });
  return getVersion(ctx.db, args.name, version);
}

async function getModelVersion(
  ctx: VersionContext,
  name: string,
  version: string,
): ReturnType<RegistryStore['getModelVersion']> {
  validateModelName(name);
  const v = validateVersion(version);
  return ctx.status.refresh(await withDbErrors(() => getVersion(ctx.db, name, v)));
}

async function updateModelVersion(
  ctx: RegistryContext,
  name: string,
  version: string,
  description: string | undefined,
): ReturnType<RegistryStore['updateModelVersion']> {
  validateModelName(name);
  const v = validateVersion(version);
  await ctx.tx(async (trx) => {
    await lockModel(trx, name);
    const r = await trx
      .updateTable('model_versions')
      .set({ description: description ?? null, last_updated_time: ctx.now() })
      .where('name', '=', name)
      .where('version', '=', v)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw notFoundVersion(name, v);
  });
  return getVersion(ctx.db, name, v);
}

async function deleteModelVersion(
  ctx: RegistryContext,
  name: string,
  version: string,
  opts?: { force?: boolean },
  change?: ChangeContext,
): ReturnType<RegistryStore['deleteModelVersion']> {
  validateModelName(name);
  const v = validateVersion(version);
  const ts = ctx.now();
  await ctx.tx(async (trx, events) => {
    await lockModel(trx, name, ts);
    await deleteVersionRows(trx, events, name, v, ts, opts?.force === true, change);
  });
}

async function transitionModelVersionStage(
  ctx: RegistryContext,
  name: string,
  version: string,
  stage: string,
  archiveExistingVersions: boolean,
  change?: ChangeContext,
): ReturnType<RegistryStore['transitionModelVersionStage']> {
  validateModelName(name);
  const v = validateVersion(version);
  const target = canonicalStage(stage);
  if (archiveExistingVersions && !(ACTIVE_STAGES as readonly string[]).includes(target)) {
    throw new InputError(
      `Model version transition cannot archive existing model versions because '${stage}' is not an Active ` +
        `stage. Valid stages are ${JSON.stringify(ACTIVE_STAGES)}`,
    );
  }
  const ts = ctx.now();
  await ctx.tx(async (trx, events) => {
    await lockModel(trx, name, ts);
    const current = await versionRow(trx, name, v, ['current_stage']);
    if (archiveExistingVersions) await archiveOthers(trx, events, name, v, target, ts, change);
    await setStage(trx, name, v, target, ts);
    if (current.current_stage === target) return;
    const entry = {
      name,
      alias: target,
      action: 'stage_transitioned' as const,
      to: v,
      stage: target,
      ts,
    };
    await appendHistory(trx, events, { ...entry, previousStage: current.current_stage }, change);
  });
  return getVersion(ctx.db, name, v);
}

async function searchModelVersions(
  ctx: RegistryContext,
  args: SearchArgs = {},
): ReturnType<RegistryStore['searchModelVersions']> {
  const max = validateMaxResults(
    args.max_results,
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
  );
  const clauses = parseRegistryFilter(args.filter, MODEL_VERSION_FILTER);
  const offset = parsePageToken(args.page_token);
  const orderBy = args.order_by && args.order_by.length > 0 ? args.order_by : DEFAULT_ORDER;
  const order = orderBy.map((o) => parseOrderBy(o, ORDERABLE));
  let q = ctx.db.selectFrom('model_versions as mv').select(['mv.name', 'mv.version']);
  for (const c of clauses) q = q.where(versionFilter(ctx, c));
  const seen = new Set<string>();
  for (const o of order) {
    const col = COLUMNS[o.key];
    if (seen.has(col))
      throw new InputError(`\`order_by\` contains duplicate fields: ${JSON.stringify(args.order_by)}`);
    seen.add(col);
    q = q.orderBy(col as 'mv.name', o.ascending ? 'asc' : 'desc');
  }
  if (!seen.has('mv.name')) q = q.orderBy('mv.name', 'asc');
  if (!seen.has('mv.version')) q = q.orderBy('mv.version', 'desc');
  const page = await offsetPage(q, max, offset);
  const keys = page.rows.map((r) => ({ name: r.name, version: Number(r.version) }));
  const loaded = await loadVersions(ctx.db, keys);
  const items = keys
    .map((k) => loaded.get(versionKey(k.name, k.version)))
    .filter((x): x is ModelVersion => x !== undefined);
  return { items, ...page.next };
}

async function getModelVersionDownloadUri(
  ctx: RegistryContext,
  name: string,
  version: string,
): ReturnType<RegistryStore['getModelVersionDownloadUri']> {
  validateModelName(name);
  const v = validateVersion(version);
  const row = await versionRow(ctx.db, name, v, ['storage_location', 'source']);
  return row.storage_location || row.source;
}

async function setModelVersionTag(
  ctx: RegistryContext,
  name: string,
  version: string,
  key: string,
  value: string,
): ReturnType<RegistryStore['setModelVersionTag']> {
  validateModelName(name);
  const v = validateVersion(version);
  const tag = validateTag({ key, value });
  await versionChange(ctx, name, v, async (trx) => {
    await trx
      .insertInto('model_version_tags')
      .values({ name, version: v, key: tag.key, value: tag.value })
      .onConflict((oc) => oc.columns(['name', 'version', 'key']).doUpdateSet({ value: tag.value }))
      .execute();
  });
}

async function deleteModelVersionTag(
  ctx: RegistryContext,
  name: string,
  version: string,
  key: string,
): ReturnType<RegistryStore['deleteModelVersionTag']> {
  validateModelName(name);
  const v = validateVersion(version);
  validateTagKey(key);
  await versionChange(ctx, name, v, async (trx) => {
    await trx
      .deleteFrom('model_version_tags')
      .where('name', '=', name)
      .where('version', '=', v)
      .where('key', '=', key)
      .execute();
  });
}

/** The model-version aggregate: `model_versions` and `model_version_tags`. */
export function modelVersionOps(registry: RegistryContext, status: VersionStatus): VersionOps {
  const ctx: VersionContext = { ...registry, status };
  return {
    createModelVersion: (args, change) => createModelVersion(ctx, args, change),
    getModelVersion: (name, version) => getModelVersion(ctx, name, version),
    updateModelVersion: (name, version, description) => updateModelVersion(ctx, name, version, description),
    deleteModelVersion: (name, version, opts, change) => deleteModelVersion(ctx, name, version, opts, change),
    transitionModelVersionStage: (name, version, stage, archiveExistingVersions, change) =>
      transitionModelVersionStage(ctx, name, version, stage, archiveExistingVersions, change),
    searchModelVersions: (args) => searchModelVersions(ctx, args),
    getModelVersionDownloadUri: (name, version) => getModelVersionDownloadUri(ctx, name, version),
    setModelVersionTag: (name, version, key, value) => setModelVersionTag(ctx, name, version, key, value),
    deleteModelVersionTag: (name, version, key) => deleteModelVersionTag(ctx, name, version, key),
  };
}
