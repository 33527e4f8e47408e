import type { Kysely, Transaction } from 'kysely';
import { TasselError } from '../../../errors.js';
import type { ChangeContext, KeyValue } from '../store.js';

/** A row of `registered_models`. */
export interface RegisteredModelsTable {
  name: string;
  creation_time: number | string;
  last_updated_time: number | string;
  description: string | null;
  next_version: number;
}

/** A row of `model_versions`. */
export interface ModelVersionsTable {
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

/** The registry's tables (migrations.ts creates them), as the query builder sees them. */
export interface RegistryTables {
  registered_models: RegisteredModelsTable;
  /** Tracking's table (migration tracking v4): metrics logged with a model_id. */
  logged_model_metrics: {
    model_id: string;
    key: string;
    timestamp: number | string;
    step: number | string;
    run_id: string;
    value: number;
    is_nan: unknown;
    dataset_name: string | null;
    dataset_digest: string | null;
  };
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

export type Db = Kysely<RegistryTables>;
export type Trx = Transaction<RegistryTables>;
/** Either the database or an open transaction: reads take both. */
export type Reader = Db | Trx;

/** A stored number (PostgreSQL BIGINT comes back as text) as a number; NULL as 0. */
export const num = (v: number | string | null | undefined): number =>
  v === null || v === undefined ? 0 : Number(v);

/** The map key of a model version. */
export const versionKey = (name: string, version: number | string): string =>
  `${name}\u0000${Number(version)}`;

/** Tag rows as MLflow's key/value list (NULL values as ''), or undefined when there are none. */
export function keyValuesOrNone(rows: Array<{ key: string; value: string | null }>): KeyValue[] | undefined {
  return rows.length ? rows.map((x) => ({ key: x.key, value: x.value ?? '' })) : undefined;
}

/** Who made a change: the request's principal, or 'anonymous'. */
export function principalOf(ctx?: ChangeContext): string {
  return ctx?.principal || 'anonymous';
}

export function notFoundModel(name: string): TasselError {
  return new TasselError('RESOURCE_DOES_NOT_EXIST', `Registered Model with name=${name} not found`);
}

export function notFoundVersion(name: string, version: number | string): TasselError {
  return new TasselError(
    'RESOURCE_DOES_NOT_EXIST',
    `Model Version (name=${name}, version=${version}) not found`,
  );
}

export function notFoundLoggedModel(id: string): TasselError {
  return new TasselError('RESOURCE_DOES_NOT_EXIST', `Logged model with ID '${id}' not found.`);
}

export function modelExists(name: string): TasselError {
  return new TasselError('RESOURCE_ALREADY_EXISTS', `Registered Model (name=${name}) already exists.`);
}

/** The version's row with `columns`; RESOURCE_DOES_NOT_EXIST when the model has no such version. */
export async function versionRow<C extends keyof ModelVersionsTable>(
  q: Reader,
  name: string,
  version: number,
  columns: C[],
): Promise<Pick<ModelVersionsTable, C>> {
  const row = await q
    .selectFrom('model_versions')
    .select(columns)
    .where('name', '=', name)
    .where('version', '=', version)
    .executeTakeFirst();
  if (!row) throw notFoundVersion(name, version);
  return row as unknown as Pick<ModelVersionsTable, C>;
}
