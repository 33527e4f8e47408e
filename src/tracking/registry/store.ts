/**
 * The model registry port: MLflow's registry and MLflow 3 logged-model operations, in MLflow's wire
 * shapes (snake_case, versions as strings, timestamps in ms), so the SQL store, the REST routes and the
 * REST client share one contract (`runRegistryStoreContract`).
 */

export interface KeyValue {
  key: string;
  value: string;
}

/** MLflow's ModelVersionStatus. */
export type ModelVersionStatus = 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION' | 'READY';

export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id?: string;
  current_stage: string;
  description?: string;
  source: string;
  run_id?: string;
  status: ModelVersionStatus;
  status_message?: string;
  tags?: KeyValue[];
  run_link?: string;
  aliases?: string[];
  model_id?: string;
}

export interface RegisteredModelAlias {
  alias: string;
  version: string;
}

export interface RegisteredModel {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description?: string;
  latest_versions?: ModelVersion[];
  tags?: KeyValue[];
  aliases?: RegisteredModelAlias[];
}

/** One row of the alias audit trail (Tassel-specific). */
export interface AliasHistoryEntry {
  id: number;
  name: string;
  alias: string;
  /** alias_set, alias_moved, alias_deleted or stage_transitioned. */
  action: RegistryChangeType;
  from_version?: string;
  to_version?: string;
  principal: string;
  timestamp: number;
  reason?: string;
}

/** The registry change kinds carried by events, webhooks and the audit trail. */
export type RegistryChangeType =
  | 'registered_model_created'
  | 'model_version_created'
  | 'alias_set'
  | 'alias_moved'
  | 'alias_deleted'
  | 'stage_transitioned'
  /** Sent by `tassel monitor` through the same webhook machinery (never stored in the audit trail). */
  | 'monitoring_alert';

/** Who made a change and why, recorded in the audit trail. */
export interface ChangeContext {
  /** Authenticated principal; "anonymous" when absent. */
  principal?: string;
  reason?: string;
}

export type LoggedModelStatus =
  | 'LOGGED_MODEL_STATUS_UNSPECIFIED'
  | 'LOGGED_MODEL_PENDING'
  | 'LOGGED_MODEL_READY'
  | 'LOGGED_MODEL_UPLOAD_FAILED';

export interface LoggedModel {
  info: {
    model_id: string;
    experiment_id: string;
    name: string;
    creation_timestamp_ms: number;
    last_updated_timestamp_ms: number;
    artifact_uri: string;
    status: LoggedModelStatus;
    model_type?: string;
    source_run_id?: string;
    status_message?: string;
    tags?: KeyValue[];
  };
  data: {
    params?: KeyValue[];
    metrics?: Array<{
      key: string;
      value: number;
      timestamp: number;
      step: number;
      model_id?: string;
      run_id?: string;
      dataset_name?: string;
      dataset_digest?: string;
    }>;
  };
}

export interface Page<T> {
  items: T[];
  next_page_token?: string;
}

export interface SearchArgs {
  filter?: string;
  max_results?: number;
  order_by?: string[];
  page_token?: string;
}

export interface LoggedModelOrderBy {
  /** An attribute, or `metrics.<key>` (the model's latest point of that metric). */
  field_name: string;
  ascending?: boolean;
  /** For `metrics.<key>`: only points measured on this dataset (name, and digest when given). */
  dataset_name?: string;
  dataset_digest?: string;
}

export interface SearchLoggedModelsArgs {
  experiment_ids: string[];
  filter?: string;
  /** Only models with a metric measured on one of these datasets (MLflow's `datasets`). */
  datasets?: Array<{ dataset_name: string; dataset_digest?: string }>;
  max_results?: number;
  order_by?: LoggedModelOrderBy[];
  page_token?: string;
}

export interface CreateModelVersionArgs {
  name: string;
  source: string;
  run_id?: string;
  tags?: KeyValue[];
  run_link?: string;
  description?: string;
  model_id?: string;
}

export interface CreateLoggedModelArgs {
  experiment_id: string;
  name?: string;
  model_type?: string;
  source_run_id?: string;
  params?: KeyValue[];
  tags?: KeyValue[];
}

/** MLflow's registry defaults and caps (mlflow/store/model_registry/__init__.py). */
export const SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT = 100;
export const SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD = 1000;
export const SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT = 10_000;
export const SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD = 200_000;
export const SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT = 100;
export const SEARCH_LOGGED_MODEL_MAX_RESULTS_THRESHOLD = 1000;
export const ALIAS_HISTORY_MAX_RESULTS_DEFAULT = 100;
export const ALIAS_HISTORY_MAX_RESULTS_THRESHOLD = 1000;

export const STAGE_NONE = 'None';
export const STAGE_STAGING = 'Staging';
export const STAGE_PRODUCTION = 'Production';
export const STAGE_ARCHIVED = 'Archived';
export const ALL_STAGES = [STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION, STAGE_ARCHIVED] as const;
export const ACTIVE_STAGES = [STAGE_STAGING, STAGE_PRODUCTION] as const;

/** The registry and logged-model operations; every backend (SQL, REST client) implements all of them. */
export interface RegistryStore {
  createRegisteredModel(
    args: { name: string; tags?: KeyValue[]; description?: string },
    ctx?: ChangeContext,
  ): Promise<RegisteredModel>;
  getRegisteredModel(name: string): Promise<RegisteredModel>;
  renameRegisteredModel(name: string, newName: string): Promise<RegisteredModel>;
  updateRegisteredModel(name: string, description: string | undefined): Promise<RegisteredModel>;
  deleteRegisteredModel(name: string, ctx?: ChangeContext): Promise<void>;
  searchRegisteredModels(args?: SearchArgs): Promise<Page<RegisteredModel>>;
  getLatestVersions(name: string, stages?: string[]): Promise<ModelVersion[]>;
  setRegisteredModelTag(name: string, key: string, value: string): Promise<void>;
  deleteRegisteredModelTag(name: string, key: string): Promise<void>;

  createModelVersion(args: CreateModelVersionArgs, ctx?: ChangeContext): Promise<ModelVersion>;
  getModelVersion(name: string, version: string): Promise<ModelVersion>;
  updateModelVersion(name: string, version: string, description: string | undefined): Promise<ModelVersion>;
  /** Refused (INVALID_PARAMETER_VALUE) while an alias points at the version, unless `force`. */
  deleteModelVersion(
    name: string,
    version: string,
    options?: { force?: boolean },
    ctx?: ChangeContext,
  ): Promise<void>;
  transitionModelVersionStage(
    name: string,
    version: string,
    stage: string,
    archiveExistingVersions: boolean,
    ctx?: ChangeContext,
  ): Promise<ModelVersion>;
  searchModelVersions(args?: SearchArgs): Promise<Page<ModelVersion>>;
  getModelVersionDownloadUri(name: string, version: string): Promise<string>;
  setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void>;
  deleteModelVersionTag(name: string, version: string, key: string): Promise<void>;

  setRegisteredModelAlias(name: string, alias: string, version: string, ctx?: ChangeContext): Promise<void>;
  deleteRegisteredModelAlias(name: string, alias: string, ctx?: ChangeContext): Promise<void>;
  getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion>;
  getAliasHistory(args: {
    name: string;
    alias?: string;
    max_results?: number;
    page_token?: string;
  }): Promise<Page<AliasHistoryEntry>>;

  createLoggedModel(args: CreateLoggedModelArgs): Promise<LoggedModel>;
  /** A logged model; a deleted one only with `allowDeleted` (MLflow 3's `allow_deleted=true`). */
  getLoggedModel(modelId: string, options?: { allowDeleted?: boolean }): Promise<LoggedModel>;
  finalizeLoggedModel(modelId: string, status: LoggedModelStatus): Promise<LoggedModel>;
  deleteLoggedModel(modelId: string): Promise<void>;
  setLoggedModelTags(modelId: string, tags: KeyValue[]): Promise<void>;
  deleteLoggedModelTag(modelId: string, key: string): Promise<void>;
  logLoggedModelParams(modelId: string, params: KeyValue[]): Promise<void>;
  searchLoggedModels(args: SearchLoggedModelsArgs): Promise<Page<LoggedModel>>;
  logOutputs(runId: string, models: Array<{ model_id: string; step?: number }>): Promise<void>;
}
