/**
 * What the pipeline needs from a tracking server and model registry, as one small port. The adapter
 * (tracking-adapter.ts) implements it with the Tassel tracking and registry clients over HTTP, so the same
 * pipeline logs to an embedded Tassel server, a remote one, or a real MLflow server.
 */

export interface MetricPoint {
  key: string;
  value: number;
  step?: number;
  timestamp?: number;
}

export interface RunHandle {
  runId: string;
  /** The run's artifact root URI (e.g. mlflow-artifacts:/1/<run>/artifacts). */
  artifactUri: string;
}

export interface DatasetInput {
  name: string;
  digest: string;
  source: string;
  sourceType: string;
  schema?: string;
  profile?: string;
  /** Tags of the input, e.g. mlflow.data.context = train/test. */
  context?: string;
}

export interface VersionInfo {
  name: string;
  version: string;
  source: string;
  runId: string | null;
  tags: Record<string, string>;
}

export interface AliasChange {
  /** Server-assigned, ascending with time (orders changes made in the same millisecond). */
  id?: number;
  alias: string;
  fromVersion: string | null;
  toVersion: string | null;
  timestamp: number;
  reason?: string | null;
  actor?: string | null;
}

export interface PipelineTracking {
  /** Where the runs go, for messages. */
  readonly uri: string;
  getOrCreateExperiment(name: string): Promise<string>;
  createRun(experimentId: string, runName: string, tags: Record<string, string>): Promise<RunHandle>;
  logBatch(
    runId: string,
    batch: { metrics?: MetricPoint[]; params?: Record<string, string>; tags?: Record<string, string> },
  ): Promise<void>;
  logInputs(runId: string, datasets: DatasetInput[]): Promise<void>;
  endRun(runId: string, status: 'FINISHED' | 'FAILED' | 'KILLED'): Promise<void>;
  /** Upload every file under localDir to the run's artifacts at artifactPath ('' = root). */
  uploadArtifacts(runId: string, localDir: string, artifactPath?: string): Promise<void>;
  /** Create the registered model unless it exists. */
  ensureRegisteredModel(name: string): Promise<void>;
  createModelVersion(
    name: string,
    source: string,
    runId: string,
    tags: Record<string, string>,
    description?: string,
  ): Promise<VersionInfo>;
  setVersionTag(name: string, version: string, key: string, value: string): Promise<void>;
  /** Point alias at version, recording reason in the audit trail when the server keeps one. */
  setAlias(name: string, alias: string, version: string, reason?: string): Promise<void>;
  /** The version an alias points at, or null when the model or alias does not exist. */
  getVersionByAlias(name: string, alias: string): Promise<VersionInfo | null>;
  getVersion(name: string, version: string): Promise<VersionInfo>;
  /** All versions of a model, newest first. */
  listVersions(name: string): Promise<VersionInfo[]>;
  /** Aliases of the model: alias -> version. */
  getAliases(name: string): Promise<Record<string, string>>;
  /** Every registered model name. */
  listModels(): Promise<string[]>;
  /** The alias audit trail, oldest first. */
  aliasHistory(name: string, alias: string): Promise<AliasChange[]>;
  /** Download a model version's files (the bundle) into dir. */
  downloadVersion(name: string, version: string, dir: string): Promise<void>;
}
