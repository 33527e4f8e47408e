import { createHash, randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve, sep } from 'node:path';
import YAML from 'yaml';
import type { ColumnSpec, DatasetSchema } from '../data/schema.js';
import { schemaFromJSON, schemaToJSON } from '../data/schema.js';
import type { RawRecord, Table } from '../data/table.js';
import { assertNoIssues, coerceRecords } from '../data/validate.js';
import { InputError, TasselError, isTasselError } from '../errors.js';
import {
  type FeatureStepOutput,
  type FeatureStepRunner,
  type FittedFeatureStep,
  createFeatureStepRunner,
  resolveStepOutputs,
} from '../features/feature-step.js';
import { padVector, type PaddedVector } from '../features/padding.js';
import {
  createRecordEncoder,
  type FittedTransform,
  fittedTransformFromJSON,
  transformTable,
} from '../features/transform.js';
import { TASSEL_VERSION } from '../version.js';
import type { Classifier, ModelFactory, ModelJSON } from './model.js';
import { findModelFactory } from './model-kinds.js';
import { loadBundleCodeFactories, loadFeatureStepModule } from './model-module.js';

/**
 * The model bundle: what the registry stores and serving loads, in MLflow's layout.
 *   MLmodel                    YAML: flavor `tassel` (format_version, model_kind), signature, run_id, time, uuid
 *   model.json                 schema, fitted transform, estimator, prior, threshold, feature names, metrics
 *   input_example.json         a few input rows, pandas "split" orient (as MLflow saves dataframe examples)
 *   serving_input_example.json the same rows as an MLflow scoring request ({"dataframe_split": ...})
 *   code/                      user code: a custom model's module; feature steps under code/feature_steps/
 */

/**
 * Newest major layout version this Tassel reads. Bundles with feature steps are written as 2 (an older Tassel
 * must refuse them rather than score without the steps); all others as 1, readable by every Tassel.
 */
export const BUNDLE_FORMAT_VERSION = 2;
/** The layout version of a bundle without feature steps. */
export const PLAIN_BUNDLE_FORMAT_VERSION = 1;
/** Where feature step modules are copied inside a bundle. */
export const FEATURE_STEPS_CODE_DIR = 'code/feature_steps';
export const MLMODEL_FILE = 'MLmodel';
export const MODEL_JSON_FILE = 'model.json';
export const INPUT_EXAMPLE_FILE = 'input_example.json';
export const SERVING_INPUT_EXAMPLE_FILE = 'serving_input_example.json';

/** What a bundle is made of. */
export interface BundleParts {
  model: Classifier;
  transform: FittedTransform;
  schema: DatasetSchema;
  /** Decision threshold: label = probability >= threshold. Default 0.5. */
  threshold?: number;
  /** P(y=1) on the training data, for the serving fallback. */
  prior: number;
  /** A few input records (feature and id fields) for input_example.json. */
  inputExample?: RawRecord[];
  /** Metrics to keep with the model (e.g. `{ test: evaluateBinary(...) }`). */
  metrics?: Record<string, unknown>;
  /**
   * Fitted feature steps, applied in order before `transform` (which was fitted on their outputs); `schema`
   * stays the input schema callers send. Each module file is copied into code/feature_steps/.
   */
  featureSteps?: BundleFeatureStep[];
}

/** A fitted feature step as saved: its module file, params, fitted state and outputs. */
export interface BundleFeatureStep {
  name: string;
  /** The module's source file, copied into the bundle. */
  source: string;
  /** File name inside code/feature_steps/ (default: the source's base name). */
  codeName?: string;
  params: Record<string, unknown>;
  state: unknown;
  outputs: FeatureStepOutput[];
}

/** sha256 (hex) of a file's bytes. */
export const fileSha256 = (file: string): string =>
  createHash('sha256').update(readFileSync(file)).digest('hex');

/** Fields that make two saves differ; pass them to get byte-identical bundles. */
export interface SaveBundleOptions {
  runId?: string;
  /** Creation time (Date, ISO string or epoch ms). Default now. */
  createdAt?: Date | string | number;
  /** 32 hex characters (MLflow's uuid4().hex). Default random. */
  modelUuid?: string;
}

/** One input or output column of an MLflow signature. */
export interface SignatureColumn {
  type: 'double' | 'long' | 'string' | 'boolean' | 'datetime';
  name: string;
  required: boolean;
}

/** The MLflow signature as stored in MLmodel: JSON strings. */
export interface MLflowSignature {
  inputs: string;
  outputs: string;
  params: null;
}

const MLFLOW_TYPE: Record<ColumnSpec['type'], SignatureColumn['type']> = {
  numeric: 'double',
  integer: 'long',
  categorical: 'string',
  id: 'string',
  boolean: 'boolean',
  date: 'datetime',
};

/** MLflow's `json.dumps` spacing (", " and ": "), so the strings look like the ones MLflow writes. */
function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`)
      .join(', ')}}`;
  }
  return JSON.stringify(value);
}

/** The signature columns of a schema: id columns (optional) and feature columns, in schema order. */
export function signatureColumns(schema: DatasetSchema): SignatureColumn[] {
  return schema.columns
    .filter((c) => c.role === 'feature' || c.role === 'id')
    .map((c) => ({
      type: MLFLOW_TYPE[c.type],
      name: c.name,
      required: c.role === 'feature' && c.nullable === false,
    }));
}

/** The MLflow signature (inputs from the schema; outputs probability and label). */
export function buildSignature(schema: DatasetSchema): MLflowSignature {
  return {
    inputs: pythonJson(signatureColumns(schema)),
    outputs: pythonJson([
      { type: 'double', name: 'probability', required: true },
      { type: 'long', name: 'label', required: true },
    ]),
    params: null,
  };
}

/** Recursively plain JSON: typed arrays become arrays, non-finite numbers null, object keys sorted. */
function canonical(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return Array.from(value as unknown as ArrayLike<number>, (v) => canonical(v));
  }
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object') {
    const maybe = value as { toJSON?: () => unknown };
    if (typeof maybe.toJSON === 'function' && !(value instanceof Date)) return canonical(maybe.toJSON());
    if (value instanceof Date) return value.toISOString();
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = canonical(v);
    }
    return out;
  }
  return value;
}

/** Deterministic JSON text: sorted keys, shortest round-trip numbers, one-space indent, final newline. */
export const canonicalJson = (value: unknown): string => `${JSON.stringify(canonical(value), null, 1)}\n`;

/** MLflow's utc_time_created form: "YYYY-MM-DD HH:MM:SS.ffffff". */
function mlflowTime(at: Date): string {
  const iso = at.toISOString(); // 2024-01-02T03:04:05.678Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${iso.slice(20, 23)}000`;
}

function toDate(v: SaveBundleOptions['createdAt']): Date {
  const d = v === undefined ? new Date() : new Date(v);
  if (Number.isNaN(d.getTime()))
    throw new InputError(`saveBundle: createdAt ${String(v)} is not a valid time`);
  return d;
}

/** Writes a bundle into `dir` (created if needed). Same parts + same options = byte-identical files. */
export async function saveBundle(
  dir: string,
  parts: BundleParts,
  options: SaveBundleOptions = {},
): Promise<void> {
  const { model, transform, schema } = parts;
  const threshold = parts.threshold ?? 0.5;
  if (!(threshold >= 0 && threshold <= 1))
    throw new InputError(`saveBundle: threshold must be in [0, 1], got ${threshold}`);
  if (!(parts.prior >= 0 && parts.prior <= 1))
    throw new InputError(`saveBundle: prior must be in [0, 1], got ${parts.prior}`);
  const uuid = options.modelUuid ?? randomUUID().replace(/-/g, '');
  const created = toDate(options.createdAt);
  mkdirSync(dir, { recursive: true });

  const steps = parts.featureSteps ?? [];
  const formatVersion = steps.length > 0 ? BUNDLE_FORMAT_VERSION : PLAIN_BUNDLE_FORMAT_VERSION;
  const savedSteps = steps.map((s) => {
    const codeName = s.codeName ?? basename(s.source);
    let sha256: string;
    try {
      sha256 = fileSha256(s.source);
      mkdirSync(join(dir, FEATURE_STEPS_CODE_DIR), { recursive: true });
      copyFileSync(s.source, join(dir, FEATURE_STEPS_CODE_DIR, codeName));
    } catch (e) {
      throw new InputError(
        `saveBundle: feature step "${s.name}": cannot copy ${s.source} (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      );
    }
    return {
      name: s.name,
      module: `${FEATURE_STEPS_CODE_DIR}/${codeName}`,
      sha256,
      params: s.params,
      state: s.state,
      outputs: s.outputs,
    };
  });

  const estimator = model.toJSON();
  const modelJson = {
    format_version: formatVersion,
    tassel_version: TASSEL_VERSION,
    model_kind: model.kind,
    schema: schemaToJSON(schema),
    transform,
    estimator,
    prior: parts.prior,
    threshold,
    feature_names: transform.feature_names,
    width: transform.width,
    metrics: parts.metrics ?? {},
    summary: model.summary?.() ?? {},
    ...(savedSteps.length > 0 ? { feature_steps: savedSteps } : {}),
  };
  writeFileSync(join(dir, MODEL_JSON_FILE), canonicalJson(modelJson));

  const mlmodel: Record<string, unknown> = {
    artifact_path: 'model',
    flavors: {
      tassel: {
        data: MODEL_JSON_FILE,
        format_version: formatVersion,
        model_kind: model.kind,
        tassel_version: TASSEL_VERSION,
      },
    },
    model_uuid: uuid,
    signature: buildSignature(schema),
    utc_time_created: mlflowTime(created),
  };
  if (options.runId) mlmodel.run_id = options.runId;
  if (parts.inputExample && parts.inputExample.length > 0) {
    const columns: string[] = [];
    for (const r of parts.inputExample)
      for (const k of Object.keys(r)) if (!columns.includes(k)) columns.push(k);
    const split = { columns, data: parts.inputExample.map((r) => columns.map((c) => r[c] ?? null)) };
    writeFileSync(join(dir, INPUT_EXAMPLE_FILE), `${JSON.stringify(canonical(split))}\n`);
    writeFileSync(
      join(dir, SERVING_INPUT_EXAMPLE_FILE),
      `${JSON.stringify({ dataframe_split: canonical(split) }, null, 2)}\n`,
    );
    mlmodel.saved_input_example_info = {
      artifact_path: INPUT_EXAMPLE_FILE,
      pandas_orient: 'split',
      serving_input_path: SERVING_INPUT_EXAMPLE_FILE,
      type: 'dataframe',
    };
  }
  const doc = new YAML.Document(mlmodel, { sortMapEntries: true });
  // YAML 1.1 readers (PyYAML, hence MLflow) would turn an unquoted time into a datetime, and an all-digit
  // id into a number: quote them as MLflow does.
  for (const key of ['utc_time_created', 'model_uuid', 'run_id']) {
    const node = doc.get(key, true);
    if (YAML.isScalar(node)) node.type = 'QUOTE_SINGLE';
  }
  writeFileSync(join(dir, MLMODEL_FILE), doc.toString({ lineWidth: 0 }));
}

/** A prediction for one record or vector. */
export interface Prediction {
  probability: number;
  label: 0 | 1;
}

/** A bundle loaded and ready to score. */
export interface LoadedBundle {
  dir: string;
  /** The parsed MLmodel file. */
  mlmodel: Record<string, unknown>;
  formatVersion: number;
  kind: string;
  runId: string | null;
  modelUuid: string | null;
  schema: DatasetSchema;
  transform: FittedTransform;
  model: Classifier;
  threshold: number;
  prior: number;
  featureNames: string[];
  width: number;
  /** As stored in MLmodel (inputs/outputs are JSON strings, MLflow's form). */
  signature: MLflowSignature | null;
  /** The signature's inputs, parsed. */
  inputs: SignatureColumn[];
  metrics: Record<string, unknown>;
  /** The bundle's fitted feature steps (applied before `transform` by every predict method), or null. */
  featureSteps: FeatureStepRunner | null;
  /** P(y=1) for every row of a table that already passed validation (e.g. from readCsvTable). */
  predictTable(table: Table): Float64Array;
  /**
   * Validates records against the schema (the same coerceRecords rules as CSV input and serving) and scores them.
   * Throws DataValidationError (InputError) naming row and column when any record is invalid.
   */
  predictRecords(records: RawRecord[], source?: string): Prediction[];
  /** Scores a pre-computed feature vector, padded or cut to the model's width. */
  predictVector(vector: ArrayLike<number>): Prediction & { padding: Omit<PaddedVector, 'vector'> };
  /** P(y=1) for one record without validation or allocation (the serving hot path; unreadable values count as missing). */
  scoreRecord(record: RawRecord): number;
}

/** Options of {@link loadBundle}. */
export interface LoadBundleOptions {
  /** Model kinds beyond the built-in ones (e.g. user modules). */
  extraFactories?: readonly ModelFactory[];
  /**
   * Load the model modules in the bundle's code/ folder (default true). Feature steps are always loaded from
   * code/feature_steps/: the bundle cannot score without them. Loading a bundle runs its code: load trusted
   * bundles only (the registry's, or your own).
   */
  loadCode?: boolean;
}

const majorOf = (v: unknown): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number.parseFloat(v) : Number.NaN;
  return Math.floor(n);
};

function readText(dir: string, file: string): string {
  try {
    return readFileSync(join(dir, file), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new TasselError('DATA_LOSS', `${file} is missing from the model bundle ${dir}`);
    throw new TasselError('DATA_LOSS', `cannot read ${file} in ${dir} (${code ?? String(e)})`);
  }
}

function checkVersion(v: unknown, what: string): number {
  const major = majorOf(v);
  if (!Number.isFinite(major)) throw new TasselError('DATA_LOSS', `${what} has no valid format_version`);
  if (major > BUNDLE_FORMAT_VERSION) {
    throw new TasselError(
      'INVALID_PARAMETER_VALUE',
      `bundle format ${major}.x (${what}) is newer than this Tassel (supports ${BUNDLE_FORMAT_VERSION}.x); upgrade Tassel to load it`,
    );
  }
  if (major < 1) throw new TasselError('DATA_LOSS', `${what}: unknown bundle format ${String(v)}`);
  return major;
}

/** Loads a bundle folder; throws a TasselError with a clear message for a missing, damaged or too-new bundle. */
export async function loadBundle(dir: string, options: LoadBundleOptions = {}): Promise<LoadedBundle> {
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(dir);
  } catch {
    throw new InputError(`model bundle ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new InputError(`model bundle ${dir} is not a folder`);
  try {
    statSync(join(dir, MLMODEL_FILE));
  } catch {
    throw new InputError(`${dir} is not a model bundle: it has no ${MLMODEL_FILE} file`);
  }

  let mlmodel: Record<string, unknown>;
  try {
    const parsed = YAML.parse(readText(dir, MLMODEL_FILE)) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a mapping');
    mlmodel = parsed as Record<string, unknown>;
  } catch (e) {
    if (isTasselError(e)) throw e;
    throw new TasselError(
      'DATA_LOSS',
      `${MLMODEL_FILE} in ${dir} is not valid YAML (${(e as Error).message.split('\n')[0]})`,
    );
  }
  const flavor = (mlmodel.flavors as Record<string, Record<string, unknown>> | undefined)?.tassel;
  if (!flavor) throw new TasselError('DATA_LOSS', `${MLMODEL_FILE} in ${dir} has no "tassel" flavor`);
  checkVersion(flavor.format_version, `${MLMODEL_FILE} in ${dir}`);

  const dataFile = typeof flavor.data === 'string' ? flavor.data : MODEL_JSON_FILE;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readText(dir, dataFile)) as Record<string, unknown>;
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw new SyntaxError('not an object');
  } catch (e) {
    if (isTasselError(e)) throw e;
    throw new TasselError('DATA_LOSS', `${dataFile} in ${dir} is not valid JSON`);
  }
  const formatVersion = checkVersion(json.format_version, `${dataFile} in ${dir}`);
  const where = `${dataFile} in ${dir}`;
  const wrap = <T>(what: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const code =
        isTasselError(e) && e.code === 'INVALID_PARAMETER_VALUE' && /newer/.test(msg) ? e.code : 'DATA_LOSS';
      throw new TasselError(code, `${where}: ${what}: ${msg}`, { cause: e });
    }
  };
  const schema = wrap('schema', () => schemaFromJSON(json.schema));
  const transform = wrap('transform', () => fittedTransformFromJSON(json.transform));
  const estimator = json.estimator as ModelJSON | undefined;
  if (!estimator || typeof estimator !== 'object' || typeof estimator.kind !== 'string') {
    throw new TasselError('DATA_LOSS', `${where}: estimator is missing or has no kind`);
  }
  const codeFactories = options.loadCode === false ? [] : await loadBundleCodeFactories(dir);
  const factory = wrap('estimator', () =>
    findModelFactory(estimator.kind, [...(options.extraFactories ?? []), ...codeFactories]),
  );
  const model = wrap('estimator', () => factory.fromJSON(estimator));
  const expects = model.summary?.().n_features;
  if (typeof expects === 'number' && expects !== transform.width) {
    throw new TasselError(
      'DATA_LOSS',
      `${where}: the estimator expects ${expects} features but the transform makes ${transform.width}`,
    );
  }
  const threshold = typeof json.threshold === 'number' ? json.threshold : 0.5;
  const prior = typeof json.prior === 'number' ? json.prior : Number.NaN;
  if (!(prior >= 0 && prior <= 1))
    throw new TasselError('DATA_LOSS', `${where}: prior must be a number in [0, 1]`);
  const signature = (mlmodel.signature as MLflowSignature | undefined) ?? null;
  let inputs: SignatureColumn[] = signatureColumns(schema);
  if (signature && typeof signature.inputs === 'string') {
    try {
      inputs = JSON.parse(signature.inputs) as SignatureColumn[];
    } catch {
      throw new TasselError('DATA_LOSS', `${MLMODEL_FILE} in ${dir}: signature inputs are not valid JSON`);
    }
  }

  const featureSteps = await loadFeatureSteps(dir, where, json.feature_steps, schema);
  const width = transform.width;
  const encoder = createRecordEncoder(transform);
  const row = new Float64Array(width);
  const label = (p: number): 0 | 1 => (p >= threshold ? 1 : 0);
  const predictTable = (table: Table): Float64Array =>
    model.predictProba(transformTable(transform, featureSteps ? featureSteps.applyTable(table) : table));

  return {
    dir,
    mlmodel,
    formatVersion,
    kind: estimator.kind,
    runId: typeof mlmodel.run_id === 'string' ? mlmodel.run_id : null,
    modelUuid: typeof mlmodel.model_uuid === 'string' ? mlmodel.model_uuid : null,
    schema,
    transform,
    model,
    threshold,
    prior,
    featureNames: [...transform.feature_names],
    width,
    signature,
    inputs,
    metrics: (json.metrics as Record<string, unknown>) ?? {},
    featureSteps,
    predictTable,
    predictRecords(records: RawRecord[], source = 'records'): Prediction[] {
      const result = coerceRecords(records, schema, { policy: 'fail', requireTarget: false });
      assertNoIssues(source, result);
      const p = predictTable(result.table);
      return Array.from(p, (probability) => ({ probability, label: label(probability) }));
    },
    predictVector(vector: ArrayLike<number>) {
      const { vector: v, ...padding } = padVector(vector, width);
      const probability = model.predictOne(v);
      return { probability, label: label(probability), padding };
    },
    scoreRecord(record: RawRecord): number {
      encoder.encode(featureSteps ? featureSteps.applyRecord(record) : record, row);
      return model.predictOne(row);
    },
  };
}

/**
 * The feature steps of model.json's `feature_steps`, loaded from the bundle's own code/feature_steps/ (never
 * from the original files) and checked against the sha256 and outputs recorded at training.
 */
async function loadFeatureSteps(
  dir: string,
  where: string,
  raw: unknown,
  schema: DatasetSchema,
): Promise<FeatureStepRunner | null> {
  if (raw === undefined || raw === null) return null;
  if (!Array.isArray(raw)) throw new TasselError('DATA_LOSS', `${where}: feature_steps must be an array`);
  if (raw.length === 0) return null;
  const codeDir = resolve(dir, FEATURE_STEPS_CODE_DIR);
  const steps: FittedFeatureStep[] = [];
  for (const [i, entry] of raw.entries()) {
    const e = entry as Record<string, unknown>;
    const name = typeof e?.name === 'string' ? e.name : `#${i + 1}`;
    const what = `${where}: feature step "${name}"`;
    if (typeof e?.module !== 'string') throw new TasselError('DATA_LOSS', `${what} has no module`);
    const file = resolve(dir, e.module);
    if (!file.startsWith(codeDir + sep))
      throw new TasselError('DATA_LOSS', `${what}: module ${e.module} is outside ${FEATURE_STEPS_CODE_DIR}/`);
    let sha: string;
    try {
      sha = fileSha256(file);
    } catch {
      throw new TasselError('DATA_LOSS', `${what}: ${e.module} is missing from the bundle`);
    }
    if (typeof e.sha256 === 'string' && e.sha256 !== sha)
      throw new TasselError(
        'DATA_LOSS',
        `${what}: ${e.module} does not match the sha256 recorded at training (the bundle's code was changed)`,
      );
    let step: Awaited<ReturnType<typeof loadFeatureStepModule>>;
    try {
      step = await loadFeatureStepModule(file, 'bundle feature step module');
    } catch (err) {
      throw new TasselError('DATA_LOSS', `${what}: ${(err as Error).message}`, { cause: err });
    }
    const params = (e.params ?? {}) as Record<string, unknown>;
    const outputs = resolveStepOutputs(name, step, params);
    const recorded = Array.isArray(e.outputs)
      ? (e.outputs as FeatureStepOutput[]).map((o) => `${o?.name}:${o?.kind}`).join(',')
      : '';
    if (outputs.map((o) => `${o.name}:${o.kind}`).join(',') !== recorded)
      throw new TasselError(
        'DATA_LOSS',
        `${what}: the module declares outputs ${JSON.stringify(outputs)}, the bundle recorded ${JSON.stringify(e.outputs)}`,
      );
    steps.push({ name, step, params, state: e.state ?? null, outputs });
  }
  try {
    return createFeatureStepRunner(schema, steps);
  } catch (err) {
    throw new TasselError('DATA_LOSS', `${where}: feature_steps: ${(err as Error).message}`, { cause: err });
  }
}
