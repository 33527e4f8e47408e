import { randomUUID } from 'node:crypto';
import { type RawBuilder, type SqlBool, sql } from 'kysely';
import { InputError, TasselError } from '../../../errors.js';
import type { AnyKysely } from '../../sql/database.js';
import { randomRunName } from '../../store/run-names.js';
import { createRunOutputsRecorder, type RunOutputsRecorder } from '../../store/sql/outputs.js';
import {
  type FilterComparison,
  LOGGED_MODEL_FILTER,
  parsePageToken,
  parseRegistryFilter,
} from '../search-filter.js';
import {
  type CreateLoggedModelArgs,
  type KeyValue,
  type LoggedModel,
  type LoggedModelOrderBy,
  type LoggedModelStatus,
  type RegistryStore,
  SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT,
  SEARCH_LOGGED_MODEL_MAX_RESULTS_THRESHOLD,
  type SearchLoggedModelsArgs,
} from '../store.js';
import { missingValue, validateMaxResults } from '../validation.js';
import { compare, offsetPage, type RegistryContext, tagMatches } from './context.js';
import { notFoundLoggedModel, num, type Reader, type Trx } from './tables.js';

const LOGGED_MODEL_STATUS: LoggedModelStatus[] = [
  'LOGGED_MODEL_STATUS_UNSPECIFIED',
  'LOGGED_MODEL_PENDING',
  'LOGGED_MODEL_READY',
  'LOGGED_MODEL_UPLOAD_FAILED',
];

/** MLflow 3 records registrations of a logged model in this tag, as JSON [{name, version}] (version a number). */
export const MODEL_VERSIONS_TAG = 'mlflow.modelVersions';

/** The columns a logged-model filter or order_by names, by key. */
const COLUMNS: Record<string, string> = {
  name: 'lm.name',
  model_id: 'lm.model_id',
  model_type: 'lm.model_type',
  source_run_id: 'lm.source_run_id',
  status: 'lm.status',
  creation_timestamp: 'lm.creation_timestamp_ms',
  creation_time: 'lm.creation_timestamp_ms',
  creation_timestamp_ms: 'lm.creation_timestamp_ms',
  last_updated_timestamp: 'lm.last_updated_timestamp_ms',
  last_updated_timestamp_ms: 'lm.last_updated_timestamp_ms',
};
const ORDERABLE = new Set(Object.keys(COLUMNS).filter((k) => k !== 'status'));

const LOGGED_MODEL_TAGS = {
  table: 'logged_model_tags',
  key: 'tag_key',
  value: 'tag_value',
  parent: [['model_id', 'lm.model_id']] as Array<[string, string]>,
};

const LOGGED_MODEL_PARAMS = {
  table: 'logged_model_params',
  key: 'param_key',
  value: 'param_value',
  parent: [['model_id', 'lm.model_id']] as Array<[string, string]>,
};

/** `datasets` of logged-models/search as one OR of (name[, digest]) over `m`, or undefined when none. */
function datasetClause(datasets: SearchLoggedModelsArgs['datasets']): RawBuilder<SqlBool> | undefined {
  if (!datasets?.length) return undefined;
  const each = datasets.map((d) =>
    d.dataset_digest
      ? sql`(m.dataset_name = ${d.dataset_name} AND m.dataset_digest = ${d.dataset_digest})`
      : sql`m.dataset_name = ${d.dataset_name}`,
  );
  return sql<SqlBool>`(${sql.join(each, sql` OR `)})`;
}

/**
 * The value of the model's latest point (by timestamp, then step) of the `metrics.<key>` an order_by
 * names, on its dataset when given; NULL when there is none (a NaN point reads as NULL too).
 */
function latestMetricValue(ob: LoggedModelOrderBy): RawBuilder<number | null> {
  const dot = ob.field_name.indexOf('.');
  const entity = ob.field_name.slice(0, dot);
  if (entity !== 'metrics') {
    throw new InputError(`Invalid order by field name: ${ob.field_name}. Only metrics are supported.`);
  }
  const key = ob.field_name.slice(dot + 1);
  const name = ob.dataset_name ? sql` AND m.dataset_name = ${ob.dataset_name}` : sql``;
  const digest = ob.dataset_digest ? sql` AND m.dataset_digest = ${ob.dataset_digest}` : sql``;
  return sql<
    number | null
  >`(SELECT CASE WHEN m.is_nan THEN NULL ELSE m.value END FROM logged_model_metrics m WHERE m.model_id = lm.model_id AND m.key = ${key}${name}${digest} ORDER BY m.timestamp DESC, m.step DESC LIMIT 1)`;
}

/**
 * `metrics.<key> <op> <number>` as MLflow's logged-model search reads it: the model has a metric point of
 * that key (any run, step or time) whose value compares true, on one of `datasets` when given. NaN
 * points match nothing.
 */
function metricMatches(
  ctx: RegistryContext,
  c: FilterComparison,
  onDataset: RawBuilder<SqlBool> | undefined,
): RawBuilder<SqlBool> {
  const value = compare(ctx.dialect, sql.ref('m.value'), c);
  const datasets = onDataset ? sql` AND ${onDataset}` : sql``;
  return sql<SqlBool>`EXISTS (SELECT 1 FROM logged_model_metrics m WHERE m.model_id = lm.model_id AND m.key = ${c.key} AND m.is_nan = ${ctx.dialect.bool(false)} AND ${value}${datasets})`;
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

function validateNewLoggedModel(args: CreateLoggedModelArgs): void {
  if (typeof args?.experiment_id !== 'string' || args.experiment_id === '') {
    throw new InputError(missingValue('experiment_id'));
  }
  if (args.name !== undefined && args.name !== '' && (args.name.includes('/') || args.name.length > 500)) {
    throw new InputError(
      `Invalid model name '${args.name}': names may not contain '/' and are limited to 500 characters.`,
    );
  }
}

/** Checks the logged model exists and is not deleted. */
export async function activeLoggedModel(q: Reader, modelId: string): Promise<void> {
  if (typeof modelId !== 'string' || modelId === '') throw new InputError(missingValue('model_id'));
  const row = await q
    .selectFrom('logged_models')
    .select('model_id')
    .where('model_id', '=', modelId)
    .where('lifecycle_stage', '<>', 'deleted')
    .executeTakeFirst();
  if (!row) throw notFoundLoggedModel(modelId);
}

/**
 * Records a registration of a logged model in its {@link MODEL_VERSIONS_TAG}. The logged model's row is
 * locked first so concurrent registrations of it do not lose each other's entry.
 */
export async function recordRegistration(
  trx: Trx,
  modelId: string,
  entry: { name: string; version: number },
  ts: number,
): Promise<void> {
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
  let list: Array<{ name: string; version: number }> = [];
  try {
    list = existing ? JSON.parse(existing.tag_value) : [];
  } catch {
    list = [];
  }
  list.push(entry);
  await upsertTags(trx, modelId, [{ key: MODEL_VERSIONS_TAG, value: JSON.stringify(list) }]);
}

async function upsertTags(trx: Trx, modelId: string, tags: KeyValue[]): Promise<void> {
  for (const t of tags) {
    await trx
      .insertInto('logged_model_tags')
      .values({ model_id: modelId, tag_key: t.key, tag_value: t.value })
      .onConflict((oc) => oc.columns(['model_id', 'tag_key']).doUpdateSet({ tag_value: t.value }))
      .execute();
  }
}

async function loadLoggedModels(q: Reader, ids: string[]): Promise<Map<string, LoggedModel>> {
  const out = new Map<string, LoggedModel>();
  if (ids.length === 0) return out;
  const rows = await q.selectFrom('logged_models').selectAll().where('model_id', 'in', ids).execute();
  const tags = await q
    .selectFrom('logged_model_tags')
    .select(['model_id', 'tag_key as key', 'tag_value as value'])
    .where('model_id', 'in', ids)
    .orderBy('tag_key')
    .execute();
  const params = await q
    .selectFrom('logged_model_params')
    .select(['model_id', 'param_key as key', 'param_value as value'])
    .where('model_id', 'in', ids)
    .orderBy('param_key')
    .execute();
  const metrics = await q
    .selectFrom('logged_model_metrics')
    .select([
      'model_id',
      'key',
      'value',
      'is_nan',
      'timestamp',
      'step',
      'run_id',
      'dataset_name',
      'dataset_digest',
    ])
    .where('model_id', 'in', ids)
    .orderBy('model_id')
    .orderBy('key')
    .orderBy('step')
    .orderBy('timestamp')
    .execute();
  const of = (list: Array<{ model_id: string; key: string; value: string }>, id: string) =>
    list.filter((x) => x.model_id === id).map((x) => ({ key: x.key, value: x.value }));
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
    const t = of(tags, r.model_id);
    if (t.length) info.tags = t;
    const data: LoggedModel['data'] = {};
    const p = of(params, r.model_id);
    if (p.length) data.params = p;
    const m = metrics.filter((x) => x.model_id === r.model_id).map(modelMetric);
    if (m.length) data.metrics = m;
    out.set(r.model_id, { info, data });
  }
  return out;
}

/** A logged_model_metrics row as MLflow 3's Metric of a logged model (dataset fields when set). */
function modelMetric(x: {
  model_id: string;
  key: string;
  value: number;
  is_nan: unknown;
  timestamp: number | string;
  step: number | string;
  run_id: string;
  dataset_name: string | null;
  dataset_digest: string | null;
}): NonNullable<LoggedModel['data']['metrics']>[number] {
  return {
    key: x.key,
    value: x.is_nan === true || x.is_nan === 1 ? Number.NaN : Number(x.value),
    timestamp: num(x.timestamp),
    step: num(x.step),
    model_id: x.model_id,
    run_id: x.run_id,
    ...(x.dataset_name ? { dataset_name: x.dataset_name } : {}),
    ...(x.dataset_digest ? { dataset_digest: x.dataset_digest } : {}),
  };
}

/** A string as Python's repr() prints it (MLflow's `{key!r}` in messages): single quotes unless it holds one. */
function pythonRepr(s: string): string {
  if (s.includes("'") && !s.includes('"')) return `"${s}"`;
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Runs `fn` in a change of an active logged model. */
function change(ctx: RegistryContext, modelId: string, fn: (trx: Trx) => Promise<void>): Promise<void> {
  return ctx.tx(async (trx) => {
    await activeLoggedModel(trx, modelId);
    await fn(trx);
  });
}

async function setRow(
  ctx: RegistryContext,
  trx: Trx,
  modelId: string,
  set: { status?: number; lifecycle_stage?: string },
): Promise<void> {
  await trx
    .updateTable('logged_models')
    .set({ ...set, last_updated_timestamp_ms: ctx.now() })
    .where('model_id', '=', modelId)
    .execute();
}

type LoggedModelOps = Pick<
  RegistryStore,
  | 'createLoggedModel'
  | 'getLoggedModel'
  | 'finalizeLoggedModel'
  | 'deleteLoggedModel'
  | 'setLoggedModelTags'
  | 'deleteLoggedModelTag'
  | 'logLoggedModelParams'
  | 'searchLoggedModels'
  | 'logOutputs'
>;

async function createLoggedModel(
  ctx: RegistryContext,
  args: CreateLoggedModelArgs,
): ReturnType<RegistryStore['createLoggedModel']> {
  validateNewLoggedModel(args);
  if (!ctx.options.getExperiment) {
    throw new TasselError(
      'NOT_IMPLEMENTED',
      'Logged models need the tracking store; this registry has none.',
    );
  }
  const exp = await ctx.options.getExperiment(args.experiment_id);
  if (exp.lifecycle_stage !== 'active') {
    throw new InputError(
      `The experiment ${args.experiment_id} must be in the 'active' state. Current state is ${exp.lifecycle_stage}.`,
    );
  }
  const params = validateKeyValues(args.params, 'params');
  const tags = validateKeyValues(args.tags, 'tags');
  const modelId = `m-${randomUUID().replace(/-/g, '')}`;
  const ts = ctx.now();
  const artifactLocation = `${exp.artifact_location.replace(/\/+$/, '')}/models/${modelId}/artifacts`;
  await ctx.tx(async (trx) => {
    await trx
      .insertInto('logged_models')
      .values({
        model_id: modelId,
        experiment_id: args.experiment_id,
        // MLflow names an unnamed logged model as it names runs (adjective-animal-number)
        name: args.name || randomRunName(),
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
    await insertParams(trx, modelId, params);
    if (tags.length) {
      await trx
        .insertInto('logged_model_tags')
        .values(tags.map((t) => ({ model_id: modelId, tag_key: t.key, tag_value: t.value })))
        .execute();
    }
  });
  return getLoggedModel(ctx, modelId);
}

async function getLoggedModel(
  ctx: RegistryContext,
  modelId: string,
  options: { allowDeleted?: boolean } = {},
): ReturnType<RegistryStore['getLoggedModel']> {
  if (!options.allowDeleted) await activeLoggedModel(ctx.db, modelId);
  const model = (await loadLoggedModels(ctx.db, [modelId])).get(modelId);
  if (!model) throw notFoundLoggedModel(modelId);
  return model;
}

async function finalizeLoggedModel(
  ctx: RegistryContext,
  modelId: string,
  status: LoggedModelStatus,
): ReturnType<RegistryStore['finalizeLoggedModel']> {
  const s = parseLoggedModelStatus(status);
  await change(ctx, modelId, (trx) => setRow(ctx, trx, modelId, { status: s }));
  return getLoggedModel(ctx, modelId);
}

async function deleteLoggedModel(
  ctx: RegistryContext,
  modelId: string,
): ReturnType<RegistryStore['deleteLoggedModel']> {
  // As MLflow: deleting a deleted model again is fine; an unknown one is RESOURCE_DOES_NOT_EXIST.
  await ctx.tx(async (trx) => {
    const row = await trx
      .selectFrom('logged_models')
      .select('model_id')
      .where('model_id', '=', modelId)
      .executeTakeFirst();
    if (!row) throw notFoundLoggedModel(modelId);
    await setRow(ctx, trx, modelId, { lifecycle_stage: 'deleted' });
  });
}

async function setLoggedModelTags(
  ctx: RegistryContext,
  modelId: string,
  tags: KeyValue[],
): ReturnType<RegistryStore['setLoggedModelTags']> {
  const valid = validateKeyValues(tags, 'tags');
  await change(ctx, modelId, (trx) => upsertTags(trx, modelId, valid));
}

async function deleteLoggedModelTag(
  ctx: RegistryContext,
  modelId: string,
  key: string,
): ReturnType<RegistryStore['deleteLoggedModelTag']> {
  await change(ctx, modelId, async (trx) => {
    const r = await trx
      .deleteFrom('logged_model_tags')
      .where('model_id', '=', modelId)
      .where('tag_key', '=', key)
      .executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) {
      throw new TasselError(
        'RESOURCE_DOES_NOT_EXIST',
        `No tag with key ${pythonRepr(key)} found for model with ID ${pythonRepr(modelId)}.`,
      );
    }
  });
}

async function logLoggedModelParams(
  ctx: RegistryContext,
  modelId: string,
  params: KeyValue[],
): ReturnType<RegistryStore['logLoggedModelParams']> {
  const valid = validateKeyValues(params, 'params');
  await change(ctx, modelId, (trx) => insertParams(trx, modelId, valid));
}

async function searchLoggedModels(
  ctx: RegistryContext,
  args: SearchLoggedModelsArgs,
): ReturnType<RegistryStore['searchLoggedModels']> {
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
  let q = ctx.db
    .selectFrom('logged_models as lm')
    .select('lm.model_id')
    .where('lm.lifecycle_stage', '<>', 'deleted')
    .where('lm.experiment_id', 'in', args.experiment_ids.map(String));
  if (args.datasets?.length && !args.datasets.every((d) => d.dataset_name)) {
    throw new InputError('`dataset_name` in the `datasets` clause must be specified.');
  }
  const onDataset = datasetClause(args.datasets);
  for (const c of clauses) {
    if (c.type === 'attribute') {
      let cmp = c;
      if (c.key === 'status' && typeof c.value === 'string') {
        const i = LOGGED_MODEL_STATUS.indexOf(c.value as LoggedModelStatus);
        cmp = { ...c, value: i >= 0 ? i : -1 };
      }
      q = q.where(compare(ctx.dialect, sql.ref(COLUMNS[c.key] ?? `lm.${c.key}`), cmp));
    } else if (c.type === 'metric') q = q.where(metricMatches(ctx, c, onDataset));
    else if (c.type === 'param') q = q.where(tagMatches(ctx.dialect, LOGGED_MODEL_PARAMS, c));
    else q = q.where(tagMatches(ctx.dialect, LOGGED_MODEL_TAGS, c));
  }
  // MLflow: with `datasets` and no metric filter, the models that have a metric on one of those datasets
  // (with a metric filter, the datasets narrow that filter's metric instead).
  if (onDataset && !clauses.some((c) => c.type === 'metric')) {
    q = q.where(
      sql<SqlBool>`EXISTS (SELECT 1 FROM logged_model_metrics m WHERE m.model_id = lm.model_id AND ${onDataset})`,
    );
  }
  let hasCreation = false;
  for (const ob of args.order_by ?? []) {
    if (ob.field_name.includes('.')) {
      const latest = latestMetricValue(ob);
      // MLflow sorts models without the metric last, either direction.
      q = q.orderBy(sql`CASE WHEN ${latest} IS NULL THEN 1 ELSE 0 END`, 'asc');
      q = q.orderBy(latest, ob.ascending === false ? 'desc' : 'asc');
      continue;
    }
    const col = ORDERABLE.has(ob.field_name) ? COLUMNS[ob.field_name] : undefined;
    if (!col) throw new InputError(`Invalid order by field name: ${ob.field_name}`);
    if (col === 'lm.creation_timestamp_ms') hasCreation = true;
    q = q.orderBy(col as 'lm.model_id', ob.ascending === false ? 'desc' : 'asc');
  }
  if (!hasCreation) q = q.orderBy('lm.creation_timestamp_ms', 'desc');
  const page = await offsetPage(q.orderBy('lm.model_id', 'asc'), max, offset);
  const ids = page.rows.map((r) => r.model_id);
  const loaded = await loadLoggedModels(ctx.db, ids);
  return {
    items: ids.map((id) => loaded.get(id)).filter((x): x is LoggedModel => x !== undefined),
    ...page.next,
  };
}

async function logOutputs(
  ctx: RegistryContext,
  recorder: RunOutputsRecorder,
  runId: string,
  models: Array<{ model_id: string; step?: number }>,
): ReturnType<RegistryStore['logOutputs']> {
  if (typeof runId !== 'string' || runId === '') throw new InputError(missingValue('run_id'));
  if (!Array.isArray(models)) throw new InputError(missingValue('models'));
  // As MLflow: the run must exist (RESOURCE_DOES_NOT_EXIST) and be active.
  const run = await ctx.options.getRun?.(runId);
  if (run && run.info.lifecycle_stage !== 'active') {
    throw new InputError(
      `The run ${runId} must be in the 'active' state. Current state is ${run.info.lifecycle_stage}.`,
    );
  }
  const holdsRuns = await recorder.holdsRuns();
  await ctx.tx(async (trx) => {
    for (const m of models) await activeLoggedModel(trx, m?.model_id);
    const outputs = models.map((m) => ({ model_id: m.model_id, step: Number(m.step ?? 0) }));
    await recorder.record(trx as unknown as AnyKysely, runId, outputs, holdsRuns);
  });
}

/** The logged-model aggregate (MLflow 3): `logged_models`, their tags and params, and runs' outputs. */
export function loggedModelOps(ctx: RegistryContext): LoggedModelOps {
  const recorder = createRunOutputsRecorder(ctx.db as unknown as AnyKysely);
  return {
    createLoggedModel: (args) => createLoggedModel(ctx, args),
    getLoggedModel: (modelId, options) => getLoggedModel(ctx, modelId, options),
    finalizeLoggedModel: (modelId, status) => finalizeLoggedModel(ctx, modelId, status),
    deleteLoggedModel: (modelId) => deleteLoggedModel(ctx, modelId),
    setLoggedModelTags: (modelId, tags) => setLoggedModelTags(ctx, modelId, tags),
    deleteLoggedModelTag: (modelId, key) => deleteLoggedModelTag(ctx, modelId, key),
    logLoggedModelParams: (modelId, params) => logLoggedModelParams(ctx, modelId, params),
    searchLoggedModels: (args) => searchLoggedModels(ctx, args),
    logOutputs: (runId, models) => logOutputs(ctx, recorder, runId, models),
  };
}

/** Logs params of a logged model; like a run's, a param logged again keeps its first value. */
async function insertParams(trx: Trx, modelId: string, params: KeyValue[]): Promise<void> {
  for (const p of params) {
    await trx
      .insertInto('logged_model_params')
      .values({ model_id: modelId, param_key: p.key, param_value: p.value })
      .onConflict((oc) => oc.columns(['model_id', 'param_key']).doNothing())
      .execute();
  }
}
