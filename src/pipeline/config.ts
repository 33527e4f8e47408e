import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../errors.js';
import { type DimensionConfig, parseSearchSpace } from '../ml/search/space.js';
import { MonitoringConfigSchema } from '../monitoring/config.js';

/**
 * The pipeline's configuration: one TypeBox schema is the validation, the TypeScript type and the
 * documentation (every field has a default and a description). JSON or YAML; relative paths are
 * resolved against the config file's folder (or the working directory when there is no file).
 */

const Str = (description: string) => Type.Optional(Type.String({ description }));

/** Values a GBDT (or any model) parameter may take; arrays in `search` are the grid. */
const ParamValue = Type.Union([Type.Number(), Type.String(), Type.Boolean(), Type.Null()]);

const Bound = Type.Tuple([Type.Number(), Type.Number()]);
const DimensionSchema = Type.Union([
  Type.Object(
    { float: Bound, log: Type.Optional(Type.Boolean({ description: 'Sample on a log scale.' })) },
    { additionalProperties: false },
  ),
  Type.Object(
    { int: Bound, log: Type.Optional(Type.Boolean({ description: 'Sample on a log scale.' })) },
    { additionalProperties: false },
  ),
  Type.Object({ choice: Type.Array(ParamValue, { minItems: 1 }) }, { additionalProperties: false }),
]);

export const TuneSchema = Type.Object(
  {
    strategy: Type.Union([Type.Literal('tpe'), Type.Literal('random')], {
      description:
        "tpe: Tree-structured Parzen Estimator (Optuna's default, after 10 random trials); random: uniform.",
      default: 'tpe',
    }),
    space: Type.Record(Type.String(), DimensionSchema, {
      description:
        'Searched parameters: {"float": [lo, hi], "log": true}, {"int": [lo, hi]} or {"choice": [...]}; "params" holds the fixed ones.',
    }),
    trials: Type.Integer({
      description: 'Budget: at most this many trials.',
      default: 50,
      minimum: 1,
      maximum: 10000,
    }),
    max_seconds: Type.Optional(
      Type.Number({
        description: 'Budget: no new batch of trials after this many seconds (running trials finish).',
        exclusiveMinimum: 0,
      }),
    ),
    workers: Type.Integer({
      description: "Worker threads fitting trials in parallel (1 = in the pipeline's thread).",
      default: 2,
      minimum: 1,
      maximum: 64,
    }),
    batch: Type.Integer({
      description:
        'Trials proposed together from the same history; the trials of a seed do not depend on the worker count.',
      default: 4,
      minimum: 1,
      maximum: 256,
    }),
    seed: Type.Optional(Type.Integer({ description: 'Seed of the sampler (default: the pipeline seed).' })),
    pruning: Type.Union([Type.Literal('halving'), Type.Literal('none')], {
      description:
        'halving: successive halving on the validation rows, a trial goes on past each rung only among the best 1/eta so far; none: every trial runs to the end.',
      default: 'halving',
    }),
    min_rounds: Type.Integer({ description: 'First rung (boosting rounds).', default: 20, minimum: 1 }),
    eta: Type.Number({
      description: 'Halving rate: rungs at min_rounds * eta^k; 1/eta of the trials go on.',
      default: 3,
      minimum: 1.5,
    }),
    ensemble_top: Type.Optional(
      Type.Integer({
        description:
          'GBDT only: also offer the average (in log-odds) of the best k complete trials by validation score as one more candidate, NAME#topK, selected like any other on the validation rows only.',
        minimum: 2,
        maximum: 50,
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Hyperparameter search over this candidate: each trial a child run, judged on the validation rows only.',
  },
);

export const CandidateSchema = Type.Object(
  {
    name: Str('Name of the candidate in the run tree (default: the kind, or the module file name).'),
    kind: Type.Optional(
      Type.String({
        description: 'A built-in model kind (dummy, logistic, gbdt, ...). Exclusive with "module".',
      }),
    ),
    module: Type.Optional(
      Type.String({
        description:
          'Path (relative to the config file) of a JS/TS module exporting a ModelFactory as `default` or `factory`. ' +
          'Exclusive with "kind".',
      }),
    ),
    params: Type.Record(Type.String(), Type.Unknown(), {
      description: 'Parameters passed to the model factory.',
      default: {},
    }),
    search: Type.Record(Type.String(), Type.Array(ParamValue, { minItems: 1 }), {
      description:
        'A grid of parameter values tried on top of "params"; every combination becomes a child run, judged on the validation set.',
      default: {},
    }),
    tune: Type.Optional(TuneSchema),
    features: Type.Optional(
      Type.Union([Type.Literal('linear'), Type.Literal('tree')], {
        description:
          'Feature preset: "linear" (impute, scale, one-hot) or "tree" (raw numbers, NaN kept). Default: tree for gbdt, linear otherwise.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const FeatureStepConfigSchema = Type.Object(
  {
    module: Type.String({
      description:
        'Path (relative to the config file) of a JS/TS module exporting a FeatureStep (src/features/feature-step.ts) as `default` or `featureStep`.',
    }),
    name: Str(
      'Name of the step in params, tags and errors (default: the module file name); letters, digits, _ . - only.',
    ),
    params: Type.Record(Type.String(), Type.Unknown(), {
      description: "Parameters passed to the step's outputs(), fit() and transform().",
      default: {},
    }),
  },
  { additionalProperties: false },
);

export const PipelineConfigSchema = Type.Object(
  {
    data: Type.Object(
      {
        path: Type.String({
          description:
            'CSV file with the training data (train + validation, and test unless test_data is set).',
        }),
        schema: Str('A built-in schema (builtin:course-completion). Exclusive with target/positive.'),
        target: Str('Target column for any other CSV.'),
        positive: Str('Target value counted as positive (1).'),
        ignore: Type.Array(Type.String(), { description: 'Columns never used as features.', default: [] }),
        ids: Type.Array(Type.String(), {
          description: 'Identifier columns (echoed, never features).',
          default: [],
        }),
        types: Type.Record(Type.String(), Type.String(), {
          description:
            'Declared column types overriding inference (numeric, integer, categorical, boolean, date, id).',
          default: {},
        }),
        test_data: Str(
          'A separate held-out test CSV; when absent the test set is a stratified split of data.path.',
        ),
        valid_column: Str(
          'A 0/1 column of data.path: rows with 1 form the validation set (and are not fitted on).',
        ),
        test_fraction: Type.Number({
          description: 'Fraction of rows held out as the test set when test_data is absent.',
          default: 0.2,
          exclusiveMinimum: 0,
          exclusiveMaximum: 1,
        }),
        valid_fraction: Type.Number({
          description:
            'Fraction of the training rows used as the validation set when valid_column is absent.',
          default: 0.15,
          exclusiveMinimum: 0,
          exclusiveMaximum: 1,
        }),
        invalid_rows: Type.Union([Type.Literal('fail'), Type.Literal('drop'), Type.Literal('impute')], {
          description:
            'What to do with rows that break the schema: fail the run, drop them, or impute the bad cells.',
          default: 'fail',
        }),
      },
      { additionalProperties: false, description: 'Where the data comes from and what it means.' },
    ),
    model_name: Type.String({
      description: 'Registered model the winner becomes a version of.',
      default: 'course-completion',
    }),
    experiment_name: Str('Tracking experiment for the runs (default: model_name).'),
    run_name: Str('Name of the parent run (default: pipeline-<timestamp>).'),
    seed: Type.Integer({
      description: 'Seed for splits and every model; same data + config + seed = same bundle.',
      default: 42,
    }),
    test_data: Str('Shorthand for data.test_data.'),
    valid_column: Str('Shorthand for data.valid_column.'),
    selection_metric: Type.Union(
      [Type.Literal('roc_auc'), Type.Literal('pr_auc'), Type.Literal('neg_log_loss')],
      {
        description: 'Validation metric that picks the winner among candidates (higher is better).',
        default: 'roc_auc',
      },
    ),
    threshold: Type.Union([Type.Literal('max_f1'), Type.Number({ minimum: 0, maximum: 1 })], {
      description:
        'Decision threshold stored with the model: chosen for maximum F1 on validation, or a fixed value.',
      default: 'max_f1',
    }),
    candidates: Type.Optional(
      Type.Array(CandidateSchema, {
        minItems: 1,
        description: 'Models to train (default: dummy, logistic, and gbdt with a small search).',
      }),
    ),
    feature_steps: Type.Array(FeatureStepConfigSchema, {
      default: [],
      description:
        'User feature steps applied in order to every record before the feature transform, in training, evaluation, predict and serving alike; fitted on the training split only and stored (code and state) in the bundle.',
    }),
    gate: Type.Object(
      {
        min_delta: Type.Number({
          description:
            'Test ROC AUC the challenger must gain over the current production version (re-scored on the same test set).',
          default: 0,
        }),
        min_roc_auc: Type.Number({
          description: 'Floor: minimum test ROC AUC.',
          default: 0.6,
          minimum: 0,
          maximum: 1,
        }),
        max_log_loss: Type.Number({
          description: 'Floor: maximum test log loss.',
          default: 0.69,
          exclusiveMinimum: 0,
        }),
        max_ece: Type.Number({
          description: 'Floor: maximum expected calibration error (10 equal-width bins) on test.',
          default: 0.1,
          minimum: 0,
          maximum: 1,
        }),
        strictly_better: Type.Boolean({
          description:
            'Promote only a challenger whose test ROC AUC beats production by more than min_delta; a tie (delta equal to min_delta) is rejected. Default false: a tie passes.',
          default: false,
        }),
        on_unchanged: Type.Union([Type.Literal('skip'), Type.Literal('record')], {
          description:
            'When the data, config and code equal those of the production version (tag tassel.fingerprint): skip (default) registers nothing, says so and exits 0; record trains and registers a new version anyway, and the gate records the tie.',
          default: 'skip',
        }),
        fail_on_reject: Type.Boolean({
          description:
            'Exit 3 (`tassel pipeline run`) when the challenger fails the gate, so CI goes red; the version is still registered. Same as --fail-on-reject.',
          default: false,
        }),
      },
      {
        additionalProperties: false,
        default: {},
        description: 'Quality gate between the challenger and production.',
      },
    ),
    promote: Type.Boolean({
      description: 'Move the production alias when the gate passes (false = --no-promote).',
      default: true,
    }),
    monitoring: Type.Optional(MonitoringConfigSchema),
    tracking: Type.Object(
      {
        uri: Str(
          'Tracking server URI (else TASSEL_TRACKING_URI, MLFLOW_TRACKING_URI, else an embedded server).',
        ),
        data_dir: Type.String({
          description:
            'Folder of the embedded server (SQLite database and artifacts) when no URI is set; relative to the config file when given, else ./tassel-data in the working directory.',
          default: './tassel-data',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type PipelineConfigInput = Static<typeof PipelineConfigSchema>;
export type CandidateConfig = Static<typeof CandidateSchema>;
export type TuneConfig = Static<typeof TuneSchema>;
export type FeatureStepConfig = Static<typeof FeatureStepConfigSchema>;

/** A validated config with defaults filled in and paths made absolute. */
export interface PipelineConfig extends PipelineConfigInput {
  /** Folder relative paths were resolved against. */
  baseDir: string;
  experiment_name: string;
  candidates: CandidateConfig[];
}

/** The candidates used when the config names none: a baseline, a linear model and a small GBDT search. */
export function defaultCandidates(): CandidateConfig[] {
  return [
    { kind: 'dummy', params: { strategy: 'prior' }, search: {} },
    { kind: 'logistic', params: { C: 1 }, search: {} },
    {
      kind: 'gbdt',
      params: { n_estimators: 300, eta: 0.1, early_stopping_rounds: 30, max_bin: 256 },
      search: { max_depth: [4, 6], min_child_weight: [1, 5] },
    },
  ];
}

function describePath(instancePath: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  return parts.length
    ? parts
        .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
        .join('')
        .replace(/^\./, '')
    : '(root)';
}

/**
 * Validate a parsed config object, fill defaults and resolve paths against `baseDir`.
 * Throws InputError naming the first offending field (the CLI exits 2).
 */
export function parsePipelineConfig(raw: unknown, baseDir: string = process.cwd()): PipelineConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new InputError('pipeline config: expected an object');
  const value = Value.Default(PipelineConfigSchema, structuredClone(raw)) as Record<string, unknown>;
  const first = Value.Errors(PipelineConfigSchema, value).First();
  if (first) {
    const field = describePath(first.path);
    const known =
      first.type === ValueErrorType.ObjectAdditionalProperties
        ? ' (unknown field; `tassel pipeline config-schema` lists the documented ones)'
        : '';
    throw new InputError(`pipeline config: ${field}: ${first.message}${known}`);
  }
  const cfg = value as unknown as PipelineConfigInput;
  const data = cfg.data;
  for (const key of ['test_data', 'valid_column'] as const) {
    if (cfg[key] !== undefined) {
      if (data[key] !== undefined && data[key] !== cfg[key])
        throw new InputError(`pipeline config: ${key} and data.${key} disagree; give one`);
      data[key] = cfg[key];
    }
  }
  if (data.schema !== undefined && (data.target !== undefined || data.positive !== undefined))
    throw new InputError('pipeline config: data.schema is exclusive with data.target / data.positive');
  if (data.schema === undefined && (data.target === undefined || data.positive === undefined))
    throw new InputError(
      'pipeline config: data needs either "schema" (e.g. builtin:course-completion) or both "target" and "positive"',
    );
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  data.path = abs(data.path);
  if (data.test_data !== undefined) data.test_data = abs(data.test_data);
  // The embedded server's folder is the working directory's ./tassel-data unless the config names one,
  // so `tassel pipeline run --config x/y.json` and `tassel models list` see the same registry.
  const givenDataDir = (raw as { tracking?: { data_dir?: unknown } }).tracking?.data_dir !== undefined;
  cfg.tracking.data_dir = givenDataDir ? abs(cfg.tracking.data_dir) : resolve(cfg.tracking.data_dir);
  const mon = cfg.monitoring;
  if (mon) {
    if (mon.actions.includes('retrain') && !mon.fresh_data)
      throw new InputError('pipeline config: monitoring.fresh_data.path is needed by the retrain action');
    if (mon.fresh_data) {
      mon.fresh_data.path = abs(mon.fresh_data.path);
      if (mon.fresh_data.test_data !== undefined) mon.fresh_data.test_data = abs(mon.fresh_data.test_data);
    }
    if (mon.prediction_log !== undefined) mon.prediction_log = abs(mon.prediction_log);
    if (mon.outcomes !== undefined) mon.outcomes = abs(mon.outcomes);
  }
  const candidates = (cfg.candidates ?? defaultCandidates()).map((c, i) => {
    if ((c.kind === undefined) === (c.module === undefined))
      throw new InputError(`pipeline config: candidates[${i}]: give exactly one of "kind" or "module"`);
    if (c.tune && Object.keys(c.search ?? {}).length)
      throw new InputError(
        `pipeline config: candidates[${i}]: give "search" (a grid) or "tune" (a search), not both`,
      );
    if (c.tune?.ensemble_top !== undefined && c.kind !== 'gbdt')
      throw new InputError(
        `pipeline config: candidates[${i}].tune.ensemble_top: only gbdt trials can be averaged into one model`,
      );
    if (c.tune)
      parseSearchSpace(
        c.tune.space as Record<string, DimensionConfig>,
        `pipeline config: candidates[${i}].tune.space`,
      );
    return c.module !== undefined ? { ...c, module: abs(c.module) } : c;
  });
  const names = new Set<string>();
  for (const [i, c] of candidates.entries()) {
    const name = candidateName(c);
    if (names.has(name))
      throw new InputError(
        `pipeline config: candidates[${i}]: duplicate name "${name}"; set "name" to tell them apart`,
      );
    names.add(name);
  }
  const stepNames = new Set<string>();
  cfg.feature_steps = cfg.feature_steps.map((s, i) => {
    const module = abs(s.module);
    if (!existsSync(module) || !statSync(module).isFile())
      throw new InputError(
        `pipeline config: feature_steps[${i}].module: ${s.module}: file not found (${module})`,
      );
    if (!/\.(?:[cm]?js|[cm]?ts)$/.test(module))
      throw new InputError(
        `pipeline config: feature_steps[${i}].module: ${s.module}: expected a .ts or .js module`,
      );
    const name = featureStepName(s);
    if (!/^[A-Za-z0-9_.-]+$/.test(name))
      throw new InputError(
        `pipeline config: feature_steps[${i}]: name "${name}" may hold only letters, digits, _ . and -; set "name"`,
      );
    if (stepNames.has(name))
      throw new InputError(
        `pipeline config: feature_steps[${i}]: duplicate name "${name}"; set "name" to tell them apart`,
      );
    stepNames.add(name);
    return { ...s, module, name };
  });
  return {
    ...cfg,
    baseDir,
    experiment_name: cfg.experiment_name ?? cfg.model_name,
    candidates,
  };
}

/** The display name of a candidate. */
export function candidateName(c: CandidateConfig): string {
  if (c.name) return c.name;
  if (c.kind) return c.kind;
  const file = (c.module ?? 'module').split(/[\\/]/).pop() ?? 'module';
  return file.replace(/\.[cm]?[jt]s$/, '');
}

/** The name of a feature step: its `name`, else the module's file name without extension. */
export function featureStepName(s: FeatureStepConfig): string {
  if (s.name !== undefined) return s.name;
  return (s.module.split(/[\\/]/).pop() ?? 'step').replace(/\.[cm]?[jt]s$/, '');
}

/** Read a JSON (.json) or YAML (.yaml/.yml, or anything else that parses as YAML) config file. */
export function loadPipelineConfig(file: string): PipelineConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(
      `pipeline config ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let raw: unknown;
  try {
    raw = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new InputError(
      `pipeline config ${file}: not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message}`,
    );
  }
  return parsePipelineConfig(raw, dirname(path));
}

/** The grid of a candidate's search, expanded into parameter sets (params overlaid with each combination). */
export function expandSearch(c: CandidateConfig): Record<string, unknown>[] {
  const keys = Object.keys(c.search ?? {}).sort();
  let combos: Record<string, unknown>[] = [{}];
  for (const k of keys) {
    const next: Record<string, unknown>[] = [];
    for (const combo of combos) for (const v of c.search[k]!) next.push({ ...combo, [k]: v });
    combos = next;
  }
  return combos.map((combo) => ({ ...(c.params ?? {}), ...combo }));
}
