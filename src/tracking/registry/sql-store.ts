import { randomUUID } from 'node:crypto';
import {
  type Expression,
  type ExpressionBuilder,
  type Kysely,
  type SqlBool,
  sql,
  type Transaction,
} from 'kysely';
import { InputError, TasselError } from '../../errors.js';
import { parseModelUri, uriScheme } from '../client/model-uri.js';
import type { EventBus, RegistryEventInput } from '../events/bus.js';
import type { AnyKysely, SqlDialectName } from '../sql/database.js';
import { inTransaction, withDbErrors } from '../sql/transaction.js';
import {
  createPageToken,
  type FilterComparison,
  LOGGED_MODEL_FILTER,
  MODEL_VERSION_FILTER,
  parseOrderBy,
  parsePageToken,
  parseRegistryFilter,
  REGISTERED_MODEL_FILTER,
} from './search-filter.js';
import {
  ACTIVE_STAGES,
  ALIAS_HISTORY_MAX_RESULTS_DEFAULT,
  ALIAS_HISTORY_MAX_RESULTS_THRESHOLD,
  type AliasHistoryEntry,
  ALL_STAGES,
  type ChangeContext,
  type CreateLoggedModelArgs,
  type CreateModelVersionArgs,
  type KeyValue,
  type LoggedModel,
  type LoggedModelStatus,
  type ModelVersion,
  type ModelVersionStatus,
  type RegisteredModel,
  type RegistryChangeType,
  type RegistryStore,
  SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT,
  SEARCH_LOGGED_MODEL_MAX_RESULTS_THRESHOLD,
  SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
  SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
  SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
  SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
  type SearchArgs,
  type SearchLoggedModelsArgs,
  STAGE_ARCHIVED,
  STAGE_NONE,
} from './store.js';
import {
  canonicalStage,
  missingValue,
  validateAlias,
  validateMaxResults,
  validateModelName,
  validateSource,
  validateTag,
  validateTagKey,
  validateTags,
  validateVersion,
} from './validation.js';

interface RegisteredModelsTable {
  name: string;
  creation_time: number | string;
  last_updated_time: number | string;
  description: string | null;
  next_version: number;
}
interface ModelVersionsTable {
  name: string;
  version: number;
  creation_time: number | string;
  last_updated_time: number | string;
  description: string | null;
  user_id: string | null;
  current_stage: string;
  source: string;
  storage_location: string | null;
  run_id: string | null;
  run_link: string | null;
  status: string;
  status_message: string | null;
  model_id: string | null;
}
interface RegistryTables {
  registered_models: RegisteredModelsTable;
  registered_model_tags: { name: string; key: string; value: string | null };
  model_versions: ModelVersionsTable;
  model_version_tags: { name: string; version: number; key: string; value: string | null };
  registered_model_aliases: { name: string; alias: string; version: number };
  registered_model_alias_history: {
    id: number | string | undefined;
    name: string;
    alias: string;
    action: string;
    from_version: number | null;
    to_version: number | null;
    principal: string;
    timestamp: number | string;
    reason: string | null;
  };
  logged_models: {
    model_id: string;
    experiment_id: string;
    name: string;
    artifact_location: string;
    creation_timestamp_ms: number | string;
    last_updated_timestamp_ms: number | string;
    status: number;
    lifecycle_stage: string;
    model_type: string | null;
    source_run_id: string | null;
    status_message: string | null;
  };
  logged_model_tags: { model_id: string; tag_key: string; tag_value: string };
  logged_model_params: { model_id: string; param_key: string; param_value: string };
  run_model_outputs: { run_id: string; model_id: string; step: number | string };
}

type Db = Kysely<RegistryTables>;
type Trx = Transaction<RegistryTables>;

/** Whether a model version's files are in place at an artifact URI. */
export type ArtifactProbe = (uri: string) => Promise<'present' | 'missing' | 'unknown'>;

/** The experiment facts a logged model needs (from the tracking store). */
export interface ExperimentInfo {
  artifact_location: string;
  lifecycle_stage: string;
}

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
  /** A version still PENDING this long after creation becomes FAILED_REGISTRATION. Default 10 min. */
  pendingTimeoutMs?: number;
  now?: () => number;
}

const LOGGED_MODEL_STATUS: LoggedModelStatus[] = [
  'LOGGED_MODEL_STATUS_UNSPECIFIED',
  'LOGGED_MODEL_PENDING',
  'LOGGED_MODEL_READY',
  'LOGGED_MODEL_UPLOAD_FAILED',
];

/** MLflow 3 records registrations of a logged model in this tag, as JSON [{name, version}]. */
export const MODEL_VERSIONS_TAG = 'mlflow.modelVersions';

const num = (v: number | string | null | undefined): number =>
  v === null || v === undefined ? 0 : Number(v);

function notFoundModel(name: string): TasselError {
  return new TasselError('RESOURCE_DOES_NOT_EXIST', `Registered Model with name=${name} not found`);
}
function notFoundVersion(name: string, version: number | string): TasselError {
  return new TasselError(
    'RESOURCE_DOES_NOT_EXIST',
    `Model Version (name=${name}, version=${version}) not found`,
  );
}
function notFoundLoggedModel(id: string): TasselError {
  return new TasselError('RESOURCE_DOES_NOT_EXIST', `Logged model with ID '${id}' not found.`);
}

function principalOf(ctx?: ChangeContext): string {
  return ctx?.principal || 'anonymous';
}

/**
 * The registry on SQLite or PostgreSQL. Every change runs in one transaction that first takes the
 * registered model's row lock (an UPDATE of that row), so per-model changes serialise on PostgreSQL and
 * SQLite alike; events are published after commit.
 */
export function createSqlRegistryStore(options: SqlRegistryStoreOptions): RegistryStore {
  const db = options.db as unknown as Db;
  const dialect = options.dialect;
  const now = options.now ?? Date.now;
  const pendingTimeoutMs = options.pendingTimeoutMs ?? 10 * 60_000;

  async function tx<T>(fn: (trx: Trx, events: RegistryEventInput[]) => Promise<T>): Promise<T> {
    let events: RegistryEventInput[] = [];
    const bus = options.events;
    const channel = dialect === 'postgresql' ? bus?.notifyChannel : undefined;
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

  /** Takes the model's row lock (PostgreSQL) and checks it exists. */
  async function lockModel(trx: Trx, name: string, touch?: number): Promise<void> {
    const r = await trx
      .updateTable('registered_models')
      .set(touch === undefined ? { last_updated_time: sql`last_updated_time` } : { last_updated_time: touch })
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw notFoundModel(name);
  }

  function compare(ref: Expression<unknown>, c: FilterComparison): Expression<SqlBool> {
    const v = c.value;
    switch (c.comparator) {
      case 'LIKE':
        return sql<SqlBool>`${ref} LIKE ${v}`;
      case 'ILIKE':
        return dialect === 'postgresql'
          ? sql<SqlBool>`${ref} ILIKE ${v}`
          : sql<SqlBool>`LOWER(${ref}) LIKE LOWER(${v})`;
      case 'IN': {
        const list = v as string[];
        if (list.length === 0) return sql<SqlBool>`1 = 0`;
        return sql<SqlBool>`${ref} IN (${sql.join(list)})`;
      }
      case '=':
        return sql<SqlBool>`${ref} = ${v}`;
      case '!=':
        return sql<SqlBool>`${ref} <> ${v}`;
      case '<':
        return sql<SqlBool>`${ref} < ${v}`;
      case '<=':
        return sql<SqlBool>`${ref} <= ${v}`;
      case '>':
        return sql<SqlBool>`${ref} > ${v}`;
      case '>=':
        return sql<SqlBool>`${ref} >= ${v}`;
    }
  }

  // ---- loading entities ----------------------------------------------------------------------

  async function loadVersions(
    q: Db | Trx,
    keys: Array<{ name: string; version: number }>,
  ): Promise<Map<string, ModelVersion>> {
    const out = new Map<string, ModelVersion>();
    if (keys.length === 0) return out;
    const names = [...new Set(keys.map((k) => k.name))];
    const wanted = new Set(keys.map((k) => `${k.name}\u0000${k.version}`));
    const rows: ModelVersionsTable[] = [];
    const tags: Array<{ name: string; version: number; key: string; value: string | null }> = [];
    const aliases: Array<{ name: string; alias: string; version: number }> = [];
    // Chunk by name so the IN lists stay small.
    for (let i = 0; i < names.length; i += 200) {
      const chunk = names.slice(i, i + 200);
      const versions = [...new Set(keys.filter((k) => chunk.includes(k.name)).map((k) => k.version))];
      rows.push(
        ...(await q
          .selectFrom('model_versions')
          .selectAll()
          .where('name', 'in', chunk)
          .where('version', 'in', versions)
          .execute()),
      );
      tags.push(
        ...(await q
          .selectFrom('model_version_tags')
          .selectAll()
          .where('name', 'in', chunk)
          .where('version', 'in', versions)
          .orderBy('key')
          .execute()),
      );
      aliases.push(
        ...(await q
          .selectFrom('registered_model_aliases')
          .selectAll()
          .where('name', 'in', chunk)
          .orderBy('alias')
          .execute()),
      );
    }
    for (const r of rows) {
      const k = `${r.name}\u0000${r.version}`;
      if (!wanted.has(k)) continue;
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
      if (r.description !== null) mv.description = r.description;
      if (r.run_id) mv.run_id = r.run_id;
      if (r.status_message) mv.status_message = r.status_message;
      if (r.run_link) mv.run_link = r.run_link;
      if (r.model_id) mv.model_id = r.model_id;
      const t = tags.filter((x) => x.name === r.name && Number(x.version) === Number(r.version));
      if (t.length) mv.tags = t.map((x) => ({ key: x.key, value: x.value ?? '' }));
      const a = aliases.filter((x) => x.name === r.name && Number(x.version) === Number(r.version));
      if (a.length) mv.aliases = a.map((x) => x.alias);
      out.set(k, mv);
    }
    return out;
  }

  async function getVersion(q: Db | Trx, name: string, version: number): Promise<ModelVersion> {
    const m = await loadVersions(q, [{ name, version }]);
    const mv = m.get(`${name}\u0000${version}`);
    if (!mv) throw notFoundVersion(name, version);
    return mv;
  }

  async function loadRegisteredModels(
    q: Db | Trx,
    rows: RegisteredModelsTable[],
  ): Promise<RegisteredModel[]> {
    if (rows.length === 0) return [];
    const names = rows.map((r) => r.name);
    const tags = await q
      .selectFrom('registered_model_tags')
      .selectAll()
      .where('name', 'in', names)
      .orderBy('key')
      .execute();
    const aliases = await q
      .selectFrom('registered_model_aliases')
      .selectAll()
      .where('name', 'in', names)
      .orderBy('alias')
      .execute();
    const latest = await q
      .selectFrom('model_versions')
      .select(['name', 'current_stage', (eb) => eb.fn.max('version').as('version')])
      .where('name', 'in', names)
      .groupBy(['name', 'current_stage'])
      .execute();
    const latestVersions = await loadVersions(
      q,
      latest.map((l) => ({ name: l.name, version: Number(l.version) })),
    );
    const stageOrder = (s: string) => {
      const i = (ALL_STAGES as readonly string[]).indexOf(s);
      return i < 0 ? 99 : i;
    };
    return rows.map((r) => {
      const rm: RegisteredModel = {
        name: r.name,
        creation_timestamp: num(r.creation_time),
        last_updated_timestamp: num(r.last_updated_time),
      };
      if (r.description !== null) rm.description = r.description;
      const lv = latest
        .filter((l) => l.name === r.name)
        .sort((a, b) => stageOrder(a.current_stage) - stageOrder(b.current_stage))
        .map((l) => latestVersions.get(`${l.name}\u0000${Number(l.version)}`))
        .filter((x): x is ModelVersion => x !== undefined);
      if (lv.length) rm.latest_versions = lv;
      const t = tags.filter((x) => x.name === r.name);
      if (t.length) rm.tags = t.map((x) => ({ key: x.key, value: x.value ?? '' }));
      const a = aliases.filter((x) => x.name === r.name);
      if (a.length) rm.aliases = a.map((x) => ({ alias: x.alias, version: String(x.version) }));
      return rm;
    });
  }

  async function getModelRow(q: Db | Trx, name: string): Promise<RegisteredModelsTable> {
    const row = await q
      .selectFrom('registered_models')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row) throw notFoundModel(name);
    return row;
  }

  async function appendHistory(
    trx: Trx,
    events: RegistryEventInput[],
    entry: {
      name: string;
      alias: string;
      action: RegistryChangeType;
      from?: number;
      to?: number;
      stage?: string;
      previousStage?: string;
      ts: number;
    },
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

  // ---- model version status ------------------------------------------------------------------

  async function probeStatus(
    storage: string,
    source: string = storage,
  ): Promise<{ status: ModelVersionStatus; message?: string }> {
    if (!options.probeArtifacts) return { status: 'READY' };
    // Only locations the server itself serves are checked (as the issue asks); others are READY at once.
    const checked = new Set(['mlflow-artifacts', 'runs', 'models']);
    if (!checked.has(uriScheme(storage)) && !checked.has(uriScheme(source))) return { status: 'READY' };
    let found: 'present' | 'missing' | 'unknown';
    try {
      found = await options.probeArtifacts(storage);
    } catch {
      found = 'unknown';
    }
    if (found === 'missing') {
      return { status: 'PENDING_REGISTRATION', message: `Waiting for the model files at ${storage}` };
    }
    return { status: 'READY' };
  }

  /** Re-checks PENDING versions on read: READY once the files appear, FAILED after the timeout. */
  async function refreshPending(mv: ModelVersion): Promise<ModelVersion> {
    if (mv.status !== 'PENDING_REGISTRATION') return mv;
    const row = await db
      .selectFrom('model_versions')
      .select(['storage_location', 'source', 'creation_time'])
      .where('name', '=', mv.name)
      .where('version', '=', Number(mv.version))
      .executeTakeFirst();
    if (!row) return mv;
    const probe = await probeStatus(row.storage_location ?? row.source, row.source);
    let status: ModelVersionStatus = probe.status;
    let message: string | null = probe.message ?? null;
    if (status === 'PENDING_REGISTRATION' && now() - num(row.creation_time) > pendingTimeoutMs) {
      status = 'FAILED_REGISTRATION';
      message = `The model files did not appear at ${row.storage_location ?? row.source} within ${Math.round(pendingTimeoutMs / 1000)} s`;
    }
    if (status === 'PENDING_REGISTRATION') return mv;
    const ts = now();
    await db
      .updateTable('model_versions')
      .set({ status, status_message: message, last_updated_time: ts })
      .where('name', '=', mv.name)
      .where('version', '=', Number(mv.version))
      .where('status', '=', 'PENDING_REGISTRATION')
      .execute();
    const next: ModelVersion = { ...mv, status, last_updated_timestamp: ts };
    if (message) next.status_message = message;
    else delete next.status_message;
    return next;
  }

  async function resolveStorage(
    source: string,
    runId: string | undefined,
  ): Promise<{ storage: string; runId?: string; modelId?: string }> {
    if (uriScheme(source) === 'models') {
      const parsed = parseModelUri(source);
      try {
        if (parsed.kind === 'model_id') {
          const lm = await store.getLoggedModel(parsed.modelId);
          return {
            storage: lm.info.artifact_uri,
            runId: runId || lm.info.source_run_id,
            modelId: parsed.modelId,
          };
        }
        if (parsed.kind === 'version') {
          return { storage: await store.getModelVersionDownloadUri(parsed.name, parsed.version), runId };
        }
      } catch (e) {
        throw new InputError(
          `Unable to fetch model from model URI source artifact location '${source}'.Error: ${(e as Error).message}`,
        );
      }
      throw new InputError(
        `Unable to fetch model from model URI source artifact location '${source}'.Error: only models:/<model_id> and models:/<name>/<version> sources are supported`,
      );
    }
    if (uriScheme(source) === 'runs' && options.resolveRunsUri) {
      try {
        return { storage: await options.resolveRunsUri(source), runId };
      } catch {
        return { storage: source, runId };
      }
    }
    return { storage: source, runId };
  }

  // ---- logged models -------------------------------------------------------------------------

  async function loadLoggedModels(q: Db | Trx, ids: string[]): Promise<Map<string, LoggedModel>> {
    const out = new Map<string, LoggedModel>();
    if (ids.length === 0) return out;
    const rows = await q.selectFrom('logged_models').selectAll().where('model_id', 'in', ids).execute();
    const tags = await q
      .selectFrom('logged_model_tags')
      .selectAll()
      .where('model_id', 'in', ids)
      .orderBy('tag_key')
      .execute();
    const params = await q
      .selectFrom('logged_model_params')
      .selectAll()
      .where('model_id', 'in', ids)
      .orderBy('param_key')
      .execute();
    for (const r of rows) {
      const info: LoggedModel['info'] = {
        model_id: r.model_id,
        experiment_id: r.experiment_id,
        name: r.name,
        creation_timestamp_ms: num(r.creation_timestamp_ms),
        last_updated_timestamp_ms: num(r.last_updated_timestamp_ms),
        artifact_uri: r.artifact_location,
        status: LOGGED_MODEL_STATUS[r.status] ?? 'LOGGED_MODEL_STATUS_UNSPECIFIED',
      };
      if (r.model_type) info.model_type = r.model_type;
      if (r.source_run_id) info.source_run_id = r.source_run_id;
      if (r.status_message) info.status_message = r.status_message;
      const t = tags.filter((x) => x.model_id === r.model_id);
      if (t.length) info.tags = t.map((x) => ({ key: x.tag_key, value: x.tag_value }));
      const data: LoggedModel['data'] = {};
      const p = params.filter((x) => x.model_id === r.model_id);
      if (p.length) data.params = p.map((x) => ({ key: x.param_key, value: x.param_value }));
      out.set(r.model_id, { info, data });
    }
    return out;
  }

  async function activeLoggedModel(q: Db | Trx, modelId: string): Promise<void> {
    if (typeof modelId !== 'string' || modelId === '') throw new InputError(missingValue('model_id'));
    const row = await q
      .selectFrom('logged_models')
      .select('model_id')
      .where('model_id', '=', modelId)
      .where('lifecycle_stage', '<>', 'deleted')
      .executeTakeFirst();
    if (!row) throw notFoundLoggedModel(modelId);
  }

  function parseLoggedModelStatus(status: unknown): number {
    if (typeof status === 'number' && LOGGED_MODEL_STATUS[status]) return status;
    if (typeof status === 'string') {
      const i = LOGGED_MODEL_STATUS.indexOf(status as LoggedModelStatus);
      if (i >= 0) return i;
      if (/^\d+$/.test(status) && LOGGED_MODEL_STATUS[Number(status)]) return Number(status);
    }
    throw new InputError(
      `Invalid value for parameter 'status': ${String(status)}. Valid values are ${LOGGED_MODEL_STATUS.join(', ')}`,
    );
  }

  // ---- the store ------------------------------------------------------------------------------

  const store: RegistryStore = {
    async createRegisteredModel(args, ctx) {
      validateModelName(args?.name);
      const tags = validateTags(args.tags);
      const ts = now();
      await tx(async (trx, events) => {
        const exists = await trx
          .selectFrom('registered_models')
          .select('name')
          .where('name', '=', args.name)
          .executeTakeFirst();
        if (exists) {
          throw new TasselError(
            'RESOURCE_ALREADY_EXISTS',
            `Registered Model (name=${args.name}) already exists.`,
          );
        }
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
        events.push({
          type: 'registered_model_created',
          name: args.name,
          principal: principalOf(ctx),
          timestamp: ts,
        });
      }).catch((e) => {
        if (e instanceof TasselError && e.code === 'RESOURCE_ALREADY_EXISTS') {
          throw new TasselError(
            'RESOURCE_ALREADY_EXISTS',
            `Registered Model (name=${args.name}) already exists.`,
          );
        }
        throw e;
      });
      return store.getRegisteredModel(args.name);
    },

    async getRegisteredModel(name) {
      validateModelName(name);
      const row = await withDbErrors(() => getModelRow(db, name));
      return (await loadRegisteredModels(db, [row]))[0];
    },

    async renameRegisteredModel(name, newName) {
      validateModelName(name);
      if (typeof newName !== 'string' || newName === '') throw new InputError(missingValue('new_name'));
      validateModelName(newName, 'new_name');
      const ts = now();
      await tx(async (trx) => {
        await lockModel(trx, name, ts);
        if (newName === name) return;
        const clash = await trx
          .selectFrom('registered_models')
          .select('name')
          .where('name', '=', newName)
          .executeTakeFirst();
        if (clash)
          throw new TasselError(
            'RESOURCE_ALREADY_EXISTS',
            `Registered Model (name=${newName}) already exists.`,
          );
        // ON UPDATE CASCADE carries versions, tags and aliases along.
        await trx.updateTable('registered_models').set({ name: newName }).where('name', '=', name).execute();
        await trx
          .updateTable('model_versions')
          .set({ last_updated_time: ts })
          .where('name', '=', newName)
          .execute();
        await trx
          .updateTable('registered_model_alias_history')
          .set({ name: newName })
          .where('name', '=', name)
          .execute();
      });
      return store.getRegisteredModel(newName);
    },

    async updateRegisteredModel(name, description) {
      validateModelName(name);
      await tx(async (trx) => {
        await lockModel(trx, name, now());
        await trx
          .updateTable('registered_models')
          .set({ description: description ?? null })
          .where('name', '=', name)
          .execute();
      });
      return store.getRegisteredModel(name);
    },

    async deleteRegisteredModel(name, ctx) {
      validateModelName(name);
      const ts = now();
      await tx(async (trx, events) => {
        await lockModel(trx, name);
        const aliases = await trx
          .selectFrom('registered_model_aliases')
          .selectAll()
          .where('name', '=', name)
          .execute();
        for (const a of aliases) {
          await appendHistory(
            trx,
            events,
            { name, alias: a.alias, action: 'alias_deleted', from: Number(a.version), ts },
            { principal: ctx?.principal, reason: ctx?.reason ?? 'registered model deleted' },
          );
        }
        await trx.deleteFrom('registered_model_aliases').where('name', '=', name).execute();
        await trx.deleteFrom('model_version_tags').where('name', '=', name).execute();
        await trx.deleteFrom('model_versions').where('name', '=', name).execute();
        await trx.deleteFrom('registered_model_tags').where('name', '=', name).execute();
        await trx.deleteFrom('registered_models').where('name', '=', name).execute();
      });
    },

    async searchRegisteredModels(args: SearchArgs = {}) {
      const max = validateMaxResults(
        args.max_results,
        SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
      );
      const clauses = parseRegistryFilter(args.filter, REGISTERED_MODEL_FILTER);
      const offset = parsePageToken(args.page_token);
      const keys = new Set(['name', 'creation_timestamp', 'last_updated_timestamp', 'timestamp']);
      const order = (args.order_by ?? []).map((o) => parseOrderBy(o, keys));
      const seen = new Set<string>();
      for (const o of order) {
        const col =
          o.key === 'name' ? 'name' : o.key === 'creation_timestamp' ? 'creation_time' : 'last_updated_time';
        if (seen.has(col))
          throw new InputError(`\`order_by\` contains duplicate fields: ${JSON.stringify(args.order_by)}`);
        seen.add(col);
      }
      let q = db.selectFrom('registered_models as rm').selectAll('rm');
      for (const c of clauses) {
        if (c.type === 'attribute') {
          q = q.where(() => compare(sql.ref('rm.name'), c));
        } else {
          q = q.where((eb: ExpressionBuilder<RegistryTables & { rm: RegisteredModelsTable }, 'rm'>) =>
            eb.exists(
              eb
                .selectFrom('registered_model_tags as t')
                .select(sql.lit(1).as('one'))
                .whereRef('t.name', '=', 'rm.name')
                .where('t.key', '=', c.key)
                .where(() => compare(sql.ref('t.value'), c)),
            ),
          );
        }
      }
      for (const o of order) {
        const col =
          o.key === 'name'
            ? 'rm.name'
            : o.key === 'creation_timestamp'
              ? 'rm.creation_time'
              : 'rm.last_updated_time';
        q = q.orderBy(col as 'rm.name', o.ascending ? 'asc' : 'desc');
      }
      if (!seen.has('name')) q = q.orderBy('rm.name', 'asc');
      const rows = await withDbErrors(() =>
        q
          .limit(max + 1)
          .offset(offset)
          .execute(),
      );
      const page = rows.slice(0, max);
      return {
        items: await loadRegisteredModels(db, page),
        ...(rows.length > max ? { next_page_token: createPageToken(offset + max) } : {}),
      };
    },

    async getLatestVersions(name, stages) {
      validateModelName(name);
      const rm = await store.getRegisteredModel(name);
      const wanted = new Set(
        stages && stages.length > 0
          ? stages.map((s) => canonicalStage(s))
          : (ALL_STAGES as readonly string[]),
      );
      return (rm.latest_versions ?? []).filter((mv) => wanted.has(mv.current_stage));
    },

    async setRegisteredModelTag(name, key, value) {
      validateModelName(name);
      const tag = validateTag({ key, value });
      await tx(async (trx) => {
        await lockModel(trx, name);
        await trx
          .insertInto('registered_model_tags')
          .values({ name, key: tag.key, value: tag.value })
          .onConflict((oc) => oc.columns(['name', 'key']).doUpdateSet({ value: tag.value }))
          .execute();
      });
    },

    async deleteRegisteredModelTag(name, key) {
      validateModelName(name);
      validateTagKey(key);
      await tx(async (trx) => {
        await lockModel(trx, name);
        await trx
          .deleteFrom('registered_model_tags')
          .where('name', '=', name)
          .where('key', '=', key)
          .execute();
      });
    },

    async createModelVersion(args: CreateModelVersionArgs, ctx) {
      validateModelName(args?.name);
      validateSource(args.source);
      const tags = validateTags(args.tags);
      const resolved = await resolveStorage(args.source, args.run_id || undefined);
      const modelId = args.model_id || resolved.modelId;
      if (modelId) await activeLoggedModel(db, modelId);
      const probe = await probeStatus(resolved.storage, args.source);
      const ts = now();
      const version = await tx(async (trx, events) => {
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
            user_id: ctx?.principal && ctx.principal !== 'anonymous' ? ctx.principal : null,
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
        if (modelId) {
          // Lock the logged model's row first so concurrent registrations of it do not lose each other's entry.
          await trx
            .updateTable('logged_models')
            .set({ last_updated_timestamp_ms: ts })
            .where('model_id', '=', modelId)
            .execute();
          const existing = await trx
            .selectFrom('logged_model_tags')
            .select('tag_value')
            .where('model_id', '=', modelId)
            .where('tag_key', '=', MODEL_VERSIONS_TAG)
            .executeTakeFirst();
          let list: Array<{ name: string; version: string }> = [];
          try {
            list = existing ? JSON.parse(existing.tag_value) : [];
          } catch {
            list = [];
          }
          list.push({ name: args.name, version: String(v) });
          await trx
            .insertInto('logged_model_tags')
            .values({ model_id: modelId, tag_key: MODEL_VERSIONS_TAG, tag_value: JSON.stringify(list) })
            .onConflict((oc) =>
              oc.columns(['model_id', 'tag_key']).doUpdateSet({ tag_value: JSON.stringify(list) }),
            )
            .execute();
        }
        events.push({
          type: 'model_version_created',
          name: args.name,
          version: String(v),
          principal: principalOf(ctx),
          timestamp: ts,
        });
        return v;
      });
      return getVersion(db, args.name, version);
    },

    async getModelVersion(name, version) {
      validateModelName(name);
      const v = validateVersion(version);
      return refreshPending(await withDbErrors(() => getVersion(db, name, v)));
    },

    async updateModelVersion(name, version, description) {
      validateModelName(name);
      const v = validateVersion(version);
      await tx(async (trx) => {
        await lockModel(trx, name);
        const r = await trx
          .updateTable('model_versions')
          .set({ description: description ?? null, last_updated_time: now() })
          .where('name', '=', name)
          .where('version', '=', v)
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) === 0) throw notFoundVersion(name, v);
      });
      return getVersion(db, name, v);
    },

    async deleteModelVersion(name, version, opts, ctx) {
      validateModelName(name);
      const v = validateVersion(version);
      const ts = now();
      await tx(async (trx, events) => {
        await lockModel(trx, name, ts);
        const exists = await trx
          .selectFrom('model_versions')
          .select('version')
          .where('name', '=', name)
          .where('version', '=', v)
          .executeTakeFirst();
        if (!exists) throw notFoundVersion(name, v);
        const aliases = await trx
          .selectFrom('registered_model_aliases')
          .select('alias')
          .where('name', '=', name)
          .where('version', '=', v)
          .orderBy('alias')
          .execute();
        if (aliases.length > 0 && !opts?.force) {
          const list = aliases.map((a) => `'${a.alias}'`).join(', ');
          throw new InputError(
            `Cannot delete version ${v} of registered model '${name}': alias${aliases.length > 1 ? 'es' : ''} ${list} ` +
              `point${aliases.length > 1 ? '' : 's'} to it. Move or delete the alias first, or pass force=true to delete ` +
              'the version and its aliases.',
          );
        }
        for (const a of aliases) {
          await appendHistory(
            trx,
            events,
            { name, alias: a.alias, action: 'alias_deleted', from: v, ts },
            { principal: ctx?.principal, reason: ctx?.reason ?? `model version ${v} deleted (force)` },
          );
        }
        await trx
          .deleteFrom('registered_model_aliases')
          .where('name', '=', name)
          .where('version', '=', v)
          .execute();
        await trx
          .deleteFrom('model_version_tags')
          .where('name', '=', name)
          .where('version', '=', v)
          .execute();
        await trx.deleteFrom('model_versions').where('name', '=', name).where('version', '=', v).execute();
      });
    },

    async transitionModelVersionStage(name, version, stage, archiveExistingVersions, ctx) {
      validateModelName(name);
      const v = validateVersion(version);
      const target = canonicalStage(stage);
      if (archiveExistingVersions && !(ACTIVE_STAGES as readonly string[]).includes(target)) {
        throw new InputError(
          `Model version transition cannot archive existing model versions because '${stage}' is not an Active ` +
            `stage. Valid stages are ${JSON.stringify(ACTIVE_STAGES)}`,
        );
      }
      const ts = now();
      await tx(async (trx, events) => {
        await lockModel(trx, name, ts);
        const current = await trx
          .selectFrom('model_versions')
          .select('current_stage')
          .where('name', '=', name)
          .where('version', '=', v)
          .executeTakeFirst();
        if (!current) throw notFoundVersion(name, v);
        if (archiveExistingVersions) {
          const others = await trx
            .selectFrom('model_versions')
            .select('version')
            .where('name', '=', name)
            .where('version', '<>', v)
            .where('current_stage', '=', target)
            .orderBy('version')
            .execute();
          for (const o of others) {
            await trx
              .updateTable('model_versions')
              .set({ current_stage: STAGE_ARCHIVED, last_updated_time: ts })
              .where('name', '=', name)
              .where('version', '=', Number(o.version))
              .execute();
            await appendHistory(
              trx,
              events,
              {
                name,
                alias: target,
                action: 'stage_transitioned',
                from: Number(o.version),
                stage: STAGE_ARCHIVED,
                previousStage: target,
                ts,
              },
              {
                principal: ctx?.principal,
                reason: ctx?.reason ?? `archived when version ${v} entered ${target}`,
              },
            );
          }
        }
        await trx
          .updateTable('model_versions')
          .set({ current_stage: target, last_updated_time: ts })
          .where('name', '=', name)
          .where('version', '=', v)
          .execute();
        if (current.current_stage !== target) {
          await appendHistory(
            trx,
            events,
            {
              name,
              alias: target,
              action: 'stage_transitioned',
              to: v,
              stage: target,
              previousStage: current.current_stage,
              ts,
            },
            ctx,
          );
        }
      });
      return getVersion(db, name, v);
    },

    async searchModelVersions(args: SearchArgs = {}) {
      const max = validateMaxResults(
        args.max_results,
        SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
      );
      const clauses = parseRegistryFilter(args.filter, MODEL_VERSION_FILTER);
      const offset = parsePageToken(args.page_token);
      const keys = new Set(['name', 'version_number', 'creation_timestamp', 'last_updated_timestamp']);
      const order = (
        args.order_by && args.order_by.length > 0
          ? args.order_by
          : ['last_updated_timestamp DESC', 'name ASC', 'version_number DESC']
      ).map((o) => parseOrderBy(o, keys));
      const column = (k: string) =>
        k === 'name'
          ? 'mv.name'
          : k === 'version_number'
            ? 'mv.version'
            : k === 'creation_timestamp'
              ? 'mv.creation_time'
              : k === 'source_path'
                ? 'mv.source'
                : k === 'run_id'
                  ? 'mv.run_id'
                  : 'mv.last_updated_time';
      let q = db.selectFrom('model_versions as mv').select(['mv.name', 'mv.version']);
      for (const c of clauses) {
        if (c.type === 'attribute') {
          q = q.where(() => compare(sql.ref(column(c.key)), c));
        } else {
          q = q.where((eb: ExpressionBuilder<RegistryTables & { mv: ModelVersionsTable }, 'mv'>) =>
            eb.exists(
              eb
                .selectFrom('model_version_tags as t')
                .select(sql.lit(1).as('one'))
                .whereRef('t.name', '=', 'mv.name')
                .whereRef('t.version', '=', 'mv.version')
                .where('t.key', '=', c.key)
                .where(() => compare(sql.ref('t.value'), c)),
            ),
          );
        }
      }
      const seen = new Set<string>();
      for (const o of order) {
        const col = column(o.key);
        if (seen.has(col))
          throw new InputError(`\`order_by\` contains duplicate fields: ${JSON.stringify(args.order_by)}`);
        seen.add(col);
        q = q.orderBy(col as 'mv.name', o.ascending ? 'asc' : 'desc');
      }
      if (!seen.has('mv.name')) q = q.orderBy('mv.name', 'asc');
      if (!seen.has('mv.version')) q = q.orderBy('mv.version', 'desc');
      const rows = await withDbErrors(() =>
        q
          .limit(max + 1)
          .offset(offset)
          .execute(),
      );
      const page = rows.slice(0, max);
      const loaded = await loadVersions(
        db,
        page.map((r) => ({ name: r.name, version: Number(r.version) })),
      );
      const items = page
        .map((r) => loaded.get(`${r.name}\u0000${Number(r.version)}`))
        .filter((x): x is ModelVersion => x !== undefined);
      return { items, ...(rows.length > max ? { next_page_token: createPageToken(offset + max) } : {}) };
    },

    async getModelVersionDownloadUri(name, version) {
      validateModelName(name);
      const v = validateVersion(version);
      const row = await db
        .selectFrom('model_versions')
        .select(['storage_location', 'source'])
        .where('name', '=', name)
        .where('version', '=', v)
        .executeTakeFirst();
      if (!row) throw notFoundVersion(name, v);
      return row.storage_location || row.source;
    },

    async setModelVersionTag(name, version, key, value) {
      validateModelName(name);
      const v = validateVersion(version);
      const tag = validateTag({ key, value });
      await tx(async (trx) => {
        await lockModel(trx, name);
        await getVersion(trx, name, v);
        await trx
          .insertInto('model_version_tags')
          .values({ name, version: v, key: tag.key, value: tag.value })
          .onConflict((oc) => oc.columns(['name', 'version', 'key']).doUpdateSet({ value: tag.value }))
          .execute();
      });
    },

    async deleteModelVersionTag(name, version, key) {
      validateModelName(name);
      const v = validateVersion(version);
      validateTagKey(key);
      await tx(async (trx) => {
        await lockModel(trx, name);
        await getVersion(trx, name, v);
        await trx
          .deleteFrom('model_version_tags')
          .where('name', '=', name)
          .where('version', '=', v)
          .where('key', '=', key)
          .execute();
      });
    },

    async setRegisteredModelAlias(name, alias, version, ctx) {
      validateModelName(name);
      validateAlias(alias);
      const v = validateVersion(version);
      const ts = now();
      await tx(async (trx, events) => {
        await lockModel(trx, name);
        const exists = await trx
          .selectFrom('model_versions')
          .select('version')
          .where('name', '=', name)
          .where('version', '=', v)
          .executeTakeFirst();
        if (!exists) throw notFoundVersion(name, v);
        const current = await trx
          .selectFrom('registered_model_aliases')
          .select('version')
          .where('name', '=', name)
          .where('alias', '=', alias)
          .executeTakeFirst();
        if (current && Number(current.version) === v) return;
        await trx
          .insertInto('registered_model_aliases')
          .values({ name, alias, version: v })
          .onConflict((oc) => oc.columns(['name', 'alias']).doUpdateSet({ version: v }))
          .execute();
        await appendHistory(
          trx,
          events,
          {
            name,
            alias,
            action: current ? 'alias_moved' : 'alias_set',
            from: current ? Number(current.version) : undefined,
            to: v,
            ts,
          },
          ctx,
        );
      });
    },

    async deleteRegisteredModelAlias(name, alias, ctx) {
      validateModelName(name);
      validateAlias(alias);
      const ts = now();
      await tx(async (trx, events) => {
        await lockModel(trx, name);
        const current = await trx
          .selectFrom('registered_model_aliases')
          .select('version')
          .where('name', '=', name)
          .where('alias', '=', alias)
          .executeTakeFirst();
        if (!current) return;
        await trx
          .deleteFrom('registered_model_aliases')
          .where('name', '=', name)
          .where('alias', '=', alias)
          .execute();
        await appendHistory(
          trx,
          events,
          { name, alias, action: 'alias_deleted', from: Number(current.version), ts },
          ctx,
        );
      });
    },

    async getModelVersionByAlias(name, alias) {
      validateModelName(name);
      validateAlias(alias);
      const row = await db
        .selectFrom('registered_model_aliases')
        .select('version')
        .where('name', '=', name)
        .where('alias', '=', alias)
        .executeTakeFirst();
      if (!row) throw new InputError(`Registered model alias ${alias} not found.`);
      return refreshPending(await getVersion(db, name, Number(row.version)));
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
      const rows = await q
        .orderBy('id', 'desc')
        .limit(max + 1)
        .offset(offset)
        .execute();
      const items: AliasHistoryEntry[] = rows.slice(0, max).map((r) => {
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
      return { items, ...(rows.length > max ? { next_page_token: createPageToken(offset + max) } : {}) };
    },

    async createLoggedModel(args: CreateLoggedModelArgs) {
      if (typeof args?.experiment_id !== 'string' || args.experiment_id === '') {
        throw new InputError(missingValue('experiment_id'));
      }
      if (
        args.name !== undefined &&
        args.name !== '' &&
        (args.name.includes('/') || args.name.length > 500)
      ) {
        throw new InputError(
          `Invalid model name '${args.name}': names may not contain '/' and are limited to 500 characters.`,
        );
      }
      if (!options.getExperiment) {
        throw new TasselError(
          'NOT_IMPLEMENTED',
          'Logged models need the tracking store; this registry has none.',
        );
      }
      const exp = await options.getExperiment(args.experiment_id);
      if (exp.lifecycle_stage !== 'active') {
        throw new InputError(
          `The experiment ${args.experiment_id} must be in the 'active' state. Current state is ${exp.lifecycle_stage}.`,
        );
      }
      const params = validateKeyValues(args.params, 'params');
      const tags = validateKeyValues(args.tags, 'tags');
      const modelId = `m-${randomUUID().replace(/-/g, '')}`;
      const ts = now();
      const artifactLocation = `${exp.artifact_location.replace(/\/+$/, '')}/models/${modelId}/artifacts`;
      await tx(async (trx) => {
        await trx
          .insertInto('logged_models')
          .values({
            model_id: modelId,
            experiment_id: args.experiment_id,
            name: args.name || modelId,
            artifact_location: artifactLocation,
            creation_timestamp_ms: ts,
            last_updated_timestamp_ms: ts,
            status: 1,
            lifecycle_stage: 'active',
            model_type: args.model_type || null,
            source_run_id: args.source_run_id || null,
            status_message: null,
          })
          .execute();
        if (params.length) {
          await trx
            .insertInto('logged_model_params')
            .values(params.map((p) => ({ model_id: modelId, param_key: p.key, param_value: p.value })))
            .execute();
        }
        if (tags.length) {
          await trx
            .insertInto('logged_model_tags')
            .values(tags.map((t) => ({ model_id: modelId, tag_key: t.key, tag_value: t.value })))
            .execute();
        }
      });
      return store.getLoggedModel(modelId);
    },

    async getLoggedModel(modelId) {
      await activeLoggedModel(db, modelId);
      return (await loadLoggedModels(db, [modelId])).get(modelId)!;
    },

    async finalizeLoggedModel(modelId, status) {
      const s = parseLoggedModelStatus(status);
      await tx(async (trx) => {
        await activeLoggedModel(trx, modelId);
        await trx
          .updateTable('logged_models')
          .set({ status: s, last_updated_timestamp_ms: now() })
          .where('model_id', '=', modelId)
          .execute();
      });
      return store.getLoggedModel(modelId);
    },

    async deleteLoggedModel(modelId) {
      await tx(async (trx) => {
        await activeLoggedModel(trx, modelId);
        await trx
          .updateTable('logged_models')
          .set({ lifecycle_stage: 'deleted', last_updated_timestamp_ms: now() })
          .where('model_id', '=', modelId)
          .execute();
      });
    },

    async setLoggedModelTags(modelId, tags) {
      const valid = validateKeyValues(tags, 'tags');
      await tx(async (trx) => {
        await activeLoggedModel(trx, modelId);
        for (const t of valid) {
          await trx
            .insertInto('logged_model_tags')
            .values({ model_id: modelId, tag_key: t.key, tag_value: t.value })
            .onConflict((oc) => oc.columns(['model_id', 'tag_key']).doUpdateSet({ tag_value: t.value }))
            .execute();
        }
      });
    },

    async deleteLoggedModelTag(modelId, key) {
      await tx(async (trx) => {
        await activeLoggedModel(trx, modelId);
        const r = await trx
          .deleteFrom('logged_model_tags')
          .where('model_id', '=', modelId)
          .where('tag_key', '=', key)
          .executeTakeFirst();
        if (Number(r.numDeletedRows) === 0) {
          throw new TasselError(
            'RESOURCE_DOES_NOT_EXIST',
            `No tag with key ${JSON.stringify(key)} found for model with ID ${JSON.stringify(modelId)}.`,
          );
        }
      });
    },

    async logLoggedModelParams(modelId, params) {
      const valid = validateKeyValues(params, 'params');
      await tx(async (trx) => {
        await activeLoggedModel(trx, modelId);
        for (const p of valid) {
          await trx
            .insertInto('logged_model_params')
            .values({ model_id: modelId, param_key: p.key, param_value: p.value })
            .onConflict((oc) => oc.columns(['model_id', 'param_key']).doNothing())
            .execute();
        }
      });
    },

    async searchLoggedModels(args: SearchLoggedModelsArgs) {
      if (!Array.isArray(args?.experiment_ids) || args.experiment_ids.length === 0) {
        throw new InputError(missingValue('experiment_ids'));
      }
      const max = validateMaxResults(
        args.max_results,
        SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT,
        SEARCH_LOGGED_MODEL_MAX_RESULTS_THRESHOLD,
      );
      const clauses = parseRegistryFilter(args.filter, LOGGED_MODEL_FILTER);
      const offset = parsePageToken(args.page_token);
      const attrColumn = (k: string) =>
        k === 'creation_timestamp' || k === 'creation_time'
          ? 'lm.creation_timestamp_ms'
          : k === 'last_updated_timestamp'
            ? 'lm.last_updated_timestamp_ms'
            : `lm.${k}`;
      let q = db
        .selectFrom('logged_models as lm')
        .select('lm.model_id')
        .where('lm.lifecycle_stage', '<>', 'deleted')
        .where('lm.experiment_id', 'in', args.experiment_ids.map(String));
      for (const c of clauses) {
        if (c.type === 'attribute') {
          let cmp = c;
          if (c.key === 'status' && typeof c.value === 'string') {
            const i = LOGGED_MODEL_STATUS.indexOf(c.value as LoggedModelStatus);
            cmp = { ...c, value: i >= 0 ? i : -1 };
          }
          q = q.where(() => compare(sql.ref(attrColumn(c.key)), cmp));
        } else {
          q = q.where(
            (eb: ExpressionBuilder<RegistryTables & { lm: RegistryTables['logged_models'] }, 'lm'>) =>
              eb.exists(
                eb
                  .selectFrom('logged_model_tags as t')
                  .select(sql.lit(1).as('one'))
                  .whereRef('t.model_id', '=', 'lm.model_id')
                  .where('t.tag_key', '=', c.key)
                  .where(() => compare(sql.ref('t.tag_value'), c)),
              ),
          );
        }
      }
      let hasCreation = false;
      for (const ob of args.order_by ?? []) {
        const key = ob.field_name;
        const col =
          key === 'name' || key === 'model_id' || key === 'model_type' || key === 'source_run_id'
            ? `lm.${key}`
            : key === 'creation_timestamp' || key === 'creation_time' || key === 'creation_timestamp_ms'
              ? 'lm.creation_timestamp_ms'
              : key === 'last_updated_timestamp' || key === 'last_updated_timestamp_ms'
                ? 'lm.last_updated_timestamp_ms'
                : undefined;
        if (!col) throw new InputError(`Invalid order by field name: ${key}`);
        if (col === 'lm.creation_timestamp_ms') hasCreation = true;
        q = q.orderBy(col as 'lm.model_id', ob.ascending === false ? 'desc' : 'asc');
      }
      if (!hasCreation) q = q.orderBy('lm.creation_timestamp_ms', 'desc');
      q = q.orderBy('lm.model_id', 'asc');
      const rows = await withDbErrors(() =>
        q
          .limit(max + 1)
          .offset(offset)
          .execute(),
      );
      const page = rows.slice(0, max).map((r) => r.model_id);
      const loaded = await loadLoggedModels(db, page);
      return {
        items: page.map((id) => loaded.get(id)).filter((x): x is LoggedModel => x !== undefined),
        ...(rows.length > max ? { next_page_token: createPageToken(offset + max) } : {}),
      };
    },

    async logOutputs(runId, models) {
      if (typeof runId !== 'string' || runId === '') throw new InputError(missingValue('run_id'));
      if (!Array.isArray(models)) throw new InputError(missingValue('models'));
      await tx(async (trx) => {
        for (const m of models) {
          await activeLoggedModel(trx, m?.model_id);
          await trx
            .insertInto('run_model_outputs')
            .values({ run_id: runId, model_id: m.model_id, step: Number(m.step ?? 0) })
            .onConflict((oc) => oc.columns(['run_id', 'model_id']).doUpdateSet({ step: Number(m.step ?? 0) }))
            .execute();
        }
      });
    },
  };
  return store;
}

function validateKeyValues(list: KeyValue[] | undefined, field: string): KeyValue[] {
  const seen = new Set<string>();
  const out: KeyValue[] = [];
  for (const kv of list ?? []) {
    if (typeof kv?.key !== 'string' || kv.key === '' || typeof kv.value !== 'string' || seen.has(kv.key)) {
      throw new InputError(`Logged model ${field} must have unique, non-null keys and non-null values.`);
    }
    seen.add(kv.key);
    out.push({ key: kv.key, value: kv.value });
  }
  return out;
}

/** Outputs (logged models) recorded for a run through `runs/outputs`. */
export async function getRunModelOutputs(
  database: AnyKysely,
  runId: string,
): Promise<Array<{ model_id: string; step: number }>> {
  const rows = await (database as unknown as Db)
    .selectFrom('run_model_outputs')
    .select(['model_id', 'step'])
    .where('run_id', '=', runId)
    .orderBy('model_id')
    .execute();
  return rows.map((r) => ({ model_id: r.model_id, step: Number(r.step) }));
}
