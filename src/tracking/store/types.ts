/**
 * The tracking store port. Entities are in MLflow's REST wire shape (snake_case, string ids, integer
 * millisecond timestamps) so the server sends them as they are and the REST client returns the same
 * objects: one contract suite checks the SQL stores and the client alike.
 */

export type LifecycleStage = 'active' | 'deleted';
export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';
export const RUN_STATUSES: readonly RunStatus[] = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'];
/** MLflow's ViewType. */
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';
export const VIEW_TYPES: readonly ViewType[] = ['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL'];

export interface KeyValue {
  key: string;
  value: string;
}

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  last_update_time: number;
  creation_time: number;
  tags: KeyValue[];
}

export interface RunInfo {
  run_id: string;
  /** Deprecated duplicate of run_id that MLflow still sends. */
  run_uuid: string;
  run_name: string;
  experiment_id: string;
  user_id: string;
  status: RunStatus;
  start_time: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage: LifecycleStage;
}

/** A metric value; NaN and ±Infinity travel as the strings "NaN", "Infinity", "-Infinity" in JSON. */
export interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
  /** MLflow 3: the logged model the value was measured on (it then also lists it in its metrics). */
  model_id?: string;
  /** MLflow 3: the dataset the value was measured on. */
  dataset_name?: string;
  dataset_digest?: string;
}

export interface MetricWithRunId extends Metric {
  run_id: string;
}

export interface Dataset {
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema?: string;
  profile?: string;
}

export interface DatasetInput {
  tags: KeyValue[];
  dataset: Dataset;
}

export interface RunData {
  metrics: Metric[];
  params: KeyValue[];
  tags: KeyValue[];
}

/** A logged model used as an input of a run (MLflow 3's ModelInput, through `runs/log-inputs` `models`). */
export interface ModelInput {
  model_id: string;
}

/** A logged model recorded as an output of a run (MLflow 3's ModelOutput, through `runs/outputs`). */
export interface ModelOutput {
  model_id: string;
  step: number;
}

export interface Run {
  info: RunInfo;
  data: RunData;
  /** MLflow 3's RunInputs: datasets, and logged models used as inputs (`model_inputs`, set by runs/get and runs/search). */
  inputs: { dataset_inputs: DatasetInput[]; model_inputs?: ModelInput[] };
  /** MLflow 3's RunOutputs: present only when the run has recorded outputs. */
  outputs?: { model_outputs: ModelOutput[] };
}

export interface CreateExperimentRequest {
  name: string;
  artifact_location?: string;
  tags?: KeyValue[];
}

export interface SearchExperimentsRequest {
  view_type?: ViewType;
  max_results?: number;
  filter?: string;
  order_by?: string[];
  page_token?: string;
}

export interface CreateRunRequest {
  experiment_id: string;
  user_id?: string;
  run_name?: string;
  start_time?: number;
  tags?: KeyValue[];
}

export interface UpdateRunRequest {
  run_id: string;
  status?: RunStatus;
  end_time?: number;
  run_name?: string;
}

export interface SearchRunsRequest {
  experiment_ids: string[];
  filter?: string;
  run_view_type?: ViewType;
  max_results?: number;
  order_by?: string[];
  page_token?: string;
}

export interface LogBatchRequest {
  run_id: string;
  metrics?: Metric[];
  params?: KeyValue[];
  tags?: KeyValue[];
}

export interface GetMetricHistoryRequest {
  run_id: string;
  metric_key: string;
  max_results?: number;
  page_token?: string;
}

export interface GetMetricHistoryBulkIntervalRequest {
  run_ids: string[];
  metric_key: string;
  start_step?: number;
  end_step?: number;
  max_results?: number;
}

/** The tracking store port: every operation the REST API exposes, once. */
export interface TrackingStore {
  createExperiment(req: CreateExperimentRequest): Promise<string>;
  getExperiment(experimentId: string): Promise<Experiment>;
  getExperimentByName(name: string): Promise<Experiment>;
  searchExperiments(
    req: SearchExperimentsRequest,
  ): Promise<{ experiments: Experiment[]; next_page_token?: string }>;
  renameExperiment(experimentId: string, newName: string): Promise<void>;
  deleteExperiment(experimentId: string): Promise<void>;
  restoreExperiment(experimentId: string): Promise<void>;
  setExperimentTag(experimentId: string, key: string, value: string): Promise<void>;
  deleteExperimentTag(experimentId: string, key: string): Promise<void>;

  createRun(req: CreateRunRequest): Promise<Run>;
  getRun(runId: string): Promise<Run>;
  updateRun(req: UpdateRunRequest): Promise<RunInfo>;
  deleteRun(runId: string): Promise<void>;
  restoreRun(runId: string): Promise<void>;
  searchRuns(req: SearchRunsRequest): Promise<{ runs: Run[]; next_page_token?: string }>;
  /**
   * Optional fast paths for the server: the run as MLflow's wire JSON text (metric values NaN and
   * infinities spelled as strings), exactly what runs/get and runs/search send for it. A store that
   * can build it cheaper than the Run object (SQLite builds it in SQL) offers these.
   */
  getRunWire?(runId: string): Promise<string>;
  searchRunsWire?(req: SearchRunsRequest): Promise<{ runs: string[]; next_page_token?: string }>;
  /** Metrics, params and tags in one call; log-metric, log-parameter and set-tag go through it. */
  logBatch(req: LogBatchRequest): Promise<void>;
  deleteTag(runId: string, key: string): Promise<void>;
  /** Datasets and (MLflow 3) logged models as inputs of an active run; each link is recorded once. */
  logInputs(runId: string, datasets: DatasetInput[], models?: ModelInput[]): Promise<void>;
  getMetricHistory(req: GetMetricHistoryRequest): Promise<{ metrics: Metric[]; next_page_token?: string }>;
  getMetricHistoryBulkInterval(
    req: GetMetricHistoryBulkIntervalRequest,
  ): Promise<{ metrics: MetricWithRunId[] }>;

  /** Releases what the store holds (connections); the database it was given is closed by its owner. */
  close?(): Promise<void>;
}
