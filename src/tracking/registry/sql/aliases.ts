import { InputError } from '../../../errors.js';
import type { RegistryEventInput } from '../../events/bus.js';
import { parsePageToken } from '../search-filter.js';
import {
  ALIAS_HISTORY_MAX_RESULTS_DEFAULT,
  ALIAS_HISTORY_MAX_RESULTS_THRESHOLD,
  type AliasHistoryEntry,
  type ChangeContext,
  type ModelVersion,
  type RegistryChangeType,
  type RegistryStore,
} from '../store.js';
import { validateAlias, validateMaxResults, validateModelName, validateVersion } from '../validation.js';
import { lockModel, offsetPage, type RegistryContext } from './context.js';
import { num, principalOf, type Reader, type Trx, versionRow } from './tables.js';

/**
 * Aliases: `registered_model_aliases` holds each (model, alias) -> version; every change to it (and
 * every stage transition) is appended to `registered_model_alias_history` with who, when and why, and
 * published as an event. This file is the only one that writes either table.
 */

/** An alias of a registered model. */
export interface AliasRow {
  name: string;
  alias: string;
  version: number;
}

/** The aliases of the models `names` (of one version of each when `version` is given), in alias order. */
export async function aliasesOf(q: Reader, names: string[], version?: number): Promise<AliasRow[]> {
  let query = q.selectFrom('registered_model_aliases').selectAll().where('name', 'in', names);
  if (version !== undefined) query = query.where('version', '=', version);
  return (await query.orderBy('alias').execute()).map((a) => ({ ...a, version: Number(a.version) }));
}

/** One entry of the alias history and the event that announces it. */
export interface HistoryEntry {
  name: string;
  alias: string;
  action: RegistryChangeType;
  from?: number;
  to?: number;
  stage?: string;
  previousStage?: string;
  ts: number;
}

/** Appends to the alias history (also stage transitions) and queues the change's event. */
export async function appendHistory(
  trx: Trx,
  events: RegistryEventInput[],
  entry: HistoryEntry,
  ctx?: ChangeContext,
): Promise<void> {
  await trx
    .insertInto('registered_model_alias_history')
    .values({
      name: entry.name,
      alias: entry.alias,
      action: entry.action,
      from_version: entry.from ?? null,
      to_version: entry.to ?? null,
      principal: principalOf(ctx),
      timestamp: entry.ts,
      reason: ctx?.reason ?? null,
    })
    .execute();
  const ev: RegistryEventInput = {
    type: entry.action,
    name: entry.name,
    principal: principalOf(ctx),
    timestamp: entry.ts,
  };
  if (entry.action !== 'stage_transitioned') ev.alias = entry.alias;
  if (entry.to !== undefined) ev.version = String(entry.to);
  if (entry.from !== undefined) ev.previous_version = String(entry.from);
  if (entry.stage) ev.stage = entry.stage;
  if (entry.previousStage) ev.previous_stage = entry.previousStage;
  events.push(ev);
}

/** Deletes `aliases` of one model, each recorded in the history as alias_deleted with `ctx`'s reason. */
export async function dropAliases(
  trx: Trx,
  events: RegistryEventInput[],
  aliases: AliasRow[],
  ts: number,
  ctx: ChangeContext,
): Promise<void> {
  for (const a of aliases) {
    await appendHistory(
      trx,
      events,
      { name: a.name, alias: a.alias, action: 'alias_deleted', from: a.version, ts },
      ctx,
    );
    await trx
      .deleteFrom('registered_model_aliases')
      .where('name', '=', a.name)
      .where('alias', '=', a.alias)
      .execute();
  }
}

/** Carries a renamed model's alias history along (the aliases themselves follow by ON UPDATE CASCADE). */
export async function renameAliasHistory(trx: Trx, from: string, to: string): Promise<void> {
  await trx
    .updateTable('registered_model_alias_history')
    .set({ name: to })
    .where('name', '=', from)
    .execute();
}

/** The version an alias points to, or undefined. */
async function aliasVersion(q: Reader, name: string, alias: string): Promise<number | undefined> {
  const row = await q
    .selectFrom('registered_model_aliases')
    .select('version')
    .where('name', '=', name)
    .where('alias', '=', alias)
    .executeTakeFirst();
  return row ? Number(row.version) : undefined;
}

type AliasOps = Pick<
  RegistryStore,
  'setRegisteredModelAlias' | 'deleteRegisteredModelAlias' | 'getModelVersionByAlias' | 'getAliasHistory'
>;

/** The alias aggregate; `readVersion` reads the version an alias resolves to (the versions aggregate's). */
export function aliasOps(
  ctx: RegistryContext,
  readVersion: (name: string, version: number) => Promise<ModelVersion>,
): AliasOps {
  const { db } = ctx;
  return {
    async setRegisteredModelAlias(name, alias, version, change) {
      validateModelName(name);
      validateAlias(alias);
      const v = validateVersion(version);
      const ts = ctx.now();
      await ctx.tx(async (trx, events) => {
        await lockModel(trx, name);
        await versionRow(trx, name, v, ['version']);
        const current = await aliasVersion(trx, name, alias);
        if (current === v) return;
        await trx
          .insertInto('registered_model_aliases')
          .values({ name, alias, version: v })
          .onConflict((oc) => oc.columns(['name', 'alias']).doUpdateSet({ version: v }))
          .execute();
        const action = current === undefined ? 'alias_set' : 'alias_moved';
        await appendHistory(trx, events, { name, alias, action, from: current, to: v, ts }, change);
      });
    },

    async deleteRegisteredModelAlias(name, alias, change) {
      validateModelName(name);
      validateAlias(alias);
      const ts = ctx.now();
      await ctx.tx(async (trx, events) => {
        await lockModel(trx, name);
        const current = await aliasVersion(trx, name, alias);
        if (current === undefined) return;
        await dropAliases(trx, events, [{ name, alias, version: current }], ts, change ?? {});
      });
    },

    async getModelVersionByAlias(name, alias) {
      validateModelName(name);
      validateAlias(alias);
      const version = await aliasVersion(db, name, alias);
      if (version === undefined) throw new InputError(`Registered model alias ${alias} not found.`);
      return readVersion(name, version);
    },

    async getAliasHistory(args) {
      validateModelName(args?.name);
      const max = validateMaxResults(
        args.max_results,
        ALIAS_HISTORY_MAX_RESULTS_DEFAULT,
        ALIAS_HISTORY_MAX_RESULTS_THRESHOLD,
      );
      const offset = parsePageToken(args.page_token);
      let q = db.selectFrom('registered_model_alias_history').selectAll().where('name', '=', args.name);
      if (args.alias) q = q.where('alias', '=', args.alias);
      const page = await offsetPage(q.orderBy('id', 'desc'), max, offset);
      const items: AliasHistoryEntry[] = page.rows.map((r) => {
        const e: AliasHistoryEntry = {
          id: Number(r.id),
          name: r.name,
          alias: r.alias,
          action: r.action as RegistryChangeType,
          principal: r.principal,
          timestamp: num(r.timestamp),
        };
        if (r.from_version !== null) e.from_version = String(r.from_version);
        if (r.to_version !== null) e.to_version = String(r.to_version);
        if (r.reason !== null) e.reason = r.reason;
        return e;
      });
      return { items, ...page.next };
    },
  };
}
