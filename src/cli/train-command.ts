import { rmSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import type { ReadOptions, ReadResult } from '../data/read-csv.js';
import { COURSE_COMPLETION_SCHEMA_ID, courseCompletionSchema } from '../data/builtin-schemas.js';
import { readCsvTable } from '../data/read-csv.js';
import type { DatasetSchema } from '../data/schema.js';
import { stratifiedSplit, validationMask } from '../data/split.js';
import { type RawRecord, type Table, takeRows } from '../data/table.js';
import type { ValidationPolicy } from '../data/validate.js';
import { exampleRecords } from '../data/example-records.js';
import { InputError } from '../errors.js';
import { defaultFeatureSpec, FEATURE_PRESETS, type FeaturePreset } from '../features/spec.js';
import { fitTransform, transformTable } from '../features/transform.js';
import { saveBundle } from '../ml/bundle.js';
import { takeMatrixRows } from '../ml/matrix.js';
import {
  type BinaryEvaluation,
  chooseThreshold,
  evaluateBinary,
  type ThresholdChoice,
} from '../ml/metrics.js';
import type { FitOptions } from '../ml/model.js';
import { builtinModelKinds, findModelFactory } from '../ml/model-kinds.js';
import { addSchemaOptions, parseIntOption, readOptionsFromFlags, type SchemaFlags } from './data-command.js';
import { GBDT_TRAIN_FLAGS } from './gbdt-flags.js';
import { type ModelFlag, numberOption } from './model-flags.js';
import { createProgress, type Progress, type ProgressTask } from './progress.js';

/** How `tassel train` handles one model kind. Add an entry to {@link TRAIN_MODEL_KINDS} for a new kind. */
export interface TrainModelKind {
  kind: string;
  description: string;
  /** The feature preset this kind gets by default (linear: impute + scale; tree: NaN kept, unscaled). */
  preset: FeaturePreset;
  /** Whether fit uses FitOptions.validation (early stopping); then --valid-column rows are held out of the fit. */
  usesValidation: boolean;
  flags: ModelFlag[];
}

function classWeightOption(value: string): unknown {
  if (value === 'balanced' || value === 'none') return value === 'none' ? null : value;
  const m = /^([0-9.eE+-]+),([0-9.eE+-]+)$/.exec(value.trim());
  if (m && Number(m[1]) > 0 && Number(m[2]) > 0) return { '0': Number(m[1]), '1': Number(m[2]) };
  throw new InvalidArgumentError('expected "balanced", "none" or two positive weights "W0,W1".');
}

/**
 * Per-kind training options: the one place a model kind's CLI flags live. Flags are registered on
 * `tassel train` once each; a flag given for another kind than --model is an error.
 */
export const TRAIN_MODEL_KINDS: TrainModelKind[] = [
  {
    kind: 'dummy',
    description: 'baseline: predicts the training prior (or the majority class)',
    preset: 'linear',
    usesValidation: false,
    flags: [
      {
        flags: '--strategy <name>',
        description: 'dummy: prior | most_frequent (default prior)',
        param: 'strategy',
        parse: (v) => {
          if (v !== 'prior' && v !== 'most_frequent')
            throw new InvalidArgumentError('expected prior or most_frequent.');
          return v;
        },
      },
    ],
  },
  {
    kind: 'logistic',
    description: 'L2-regularized logistic regression (Newton), scikit-learn compatible C',
    preset: 'linear',
    usesValidation: false,
    flags: [
      {
        flags: '--c <number>',
        description: 'logistic: inverse regularization strength C (default 1.0)',
        param: 'C',
        parse: numberOption(0, 1e12, true),
      },
      {
        flags: '--class-weight <w>',
        description: 'logistic: balanced | none | W0,W1 (default none)',
        param: 'classWeight',
        parse: classWeightOption,
      },
      {
        flags: '--max-iter <n>',
        description: 'logistic: Newton iterations at most (default 100)',
        param: 'maxIter',
        parse: parseIntOption(1, 100_000),
      },
    ],
  },
  {
    kind: 'gbdt',
    description: "gradient-boosted trees with XGBoost's parameters and semantics (binary:logistic, hist)",
    preset: 'tree',
    usesValidation: true,
    flags: GBDT_TRAIN_FLAGS,
  },
];

/** Everything one training run needs (the CLI flags, parsed). */
export interface TrainOptions {
  data: string;
  testData?: string;
  read: ReadOptions;
  kind: string;
  params: Record<string, unknown>;
  /** Columns that are never features (checked against the header). */
  ignore: string[];
  /** 0/1 column marking validation rows (early stopping); never a feature. */
  validColumn?: string;
  seed: number;
  /** Test share when no --test-data is given. */
  testFraction: number;
  out: string;
  threshold: ThresholdChoice;
  preset?: FeaturePreset;
  hashFeatures?: number;
  policy: ValidationPolicy;
}

/** What a training run reports (the `--json` object). */
export interface TrainReport {
  model: string;
  params: Record<string, unknown>;
  test: Omit<BinaryEvaluation, 'calibration'>;
  train: Omit<BinaryEvaluation, 'calibration' | 'confusion'>;
  fit_seconds: number;
  /** CPU seconds of the fit (user + system): steadier than wall time on a busy machine. */
  fit_cpu_seconds: number;
  total_seconds: number;
  rows: { train: number; test: number; valid: number; dropped: number };
  features: number;
  feature_preset: string;
  threshold: number;
  summary: Record<string, unknown>;
  /** Early-stopping models (gbdt): the 0-based best round, whose trees the bundle keeps. */
  best_iteration?: number;
  bundle: string;
  data_sha256: string;
}

const dropCalibration = ({ calibration: _c, ...rest }: BinaryEvaluation) => rest;
const trainMetrics = (e: BinaryEvaluation) => {
  const { calibration: _c, confusion: _m, ...rest } = e;
  return rest;
};

/** Marks columns as ignored in a schema copy (they stay in the table but never reach the model). */
function withIgnored(schema: DatasetSchema, names: string[]): DatasetSchema {
  const set = new Set(names);
  return { ...schema, columns: schema.columns.map((c) => (set.has(c.name) ? { ...c, role: 'ignore' } : c)) };
}

/** Read --data with the schema flags, checking --ignore/--valid-column; those columns become ignored. */
async function readTrainData(o: TrainOptions): Promise<{ train: ReadResult; schema: DatasetSchema }> {
  const readOpts: ReadOptions = { ...o.read, policy: o.policy };
  if (o.ignore.length && !readOpts.schema) readOpts.ignore = [...(readOpts.ignore ?? []), ...o.ignore];
  if (o.ignore.length && readOpts.schema) {
    // ignored columns of a declared schema are neither read nor validated (a broken column can be left out)
    const declared =
      readOpts.schema === COURSE_COMPLETION_SCHEMA_ID ? courseCompletionSchema : readOpts.schema;
    if (o.ignore.includes(declared.target)) {
      throw new InputError(`${JSON.stringify(declared.target)} is the target column; it cannot be ignored`);
    }
    readOpts.schema = withIgnored(declared, o.ignore);
  }
  const train: ReadResult = await readCsvTable(o.data, readOpts);
  const header = new Set([...train.schema.columns.map((c) => c.name), ...train.ignoredColumns]);
  for (const c of [...o.ignore, ...(o.validColumn ? [o.validColumn] : [])]) {
    if (!header.has(c)) {
      throw new InputError(
        `${o.data}: unknown column ${JSON.stringify(c)} (from --ignore/--valid-column); columns: ${[...header].join(', ')}`,
      );
    }
    if (c === train.schema.target)
      throw new InputError(`${JSON.stringify(c)} is the target column; it cannot be ignored`);
  }
  const schema = withIgnored(train.schema, [...o.ignore, ...(o.validColumn ? [o.validColumn] : [])]);
  return { train, schema };
}

interface FitTestParts {
  fitTable: Table;
  fitY: Uint8Array;
  testTable: Table;
  testY: Uint8Array;
}

/** The fit and test rows: --test-data when given, else a stratified split; both classes must be present. */
async function fitAndTestParts(
  o: TrainOptions,
  train: ReadResult,
  schema: DatasetSchema,
  progress: Progress,
): Promise<FitTestParts> {
  const y = train.y!;
  let parts: FitTestParts;
  if (o.testData) {
    progress.step(`reading ${o.testData}`);
    const test = await readCsvTable(o.testData, { schema, policy: o.policy });
    parts = { fitTable: train.table, fitY: y, testTable: test.table, testY: test.y! };
  } else {
    const split = stratifiedSplit(y, { testFraction: o.testFraction, seed: o.seed });
    parts = {
      fitTable: takeRows(train.table, split.train),
      fitY: Uint8Array.from(split.train, (i) => y[i]!),
      testTable: takeRows(train.table, split.test),
      testY: Uint8Array.from(split.test, (i) => y[i]!),
    };
  }
  if (parts.testTable.nRows === 0)
    throw new InputError('the test set is empty; give more rows or --test-data');
  let positives = 0;
  for (let i = 0; i < parts.fitY.length; i++) positives += parts.fitY[i]!;
  if (positives === 0 || positives === parts.fitY.length) {
    throw new InputError(
      `the training rows hold only one class (${positives} positive of ${parts.fitY.length}); need both`,
    );
  }
  return parts;
}

/** Row indices of the fit table with --valid-column = 1 (valIdx) and the others (fitIdx), or nulls. */
function validationSplit(
  o: TrainOptions,
  fitTable: Table,
): { valIdx: Uint32Array | null; fitIdx: Uint32Array | null } {
  if (!o.validColumn) return { valIdx: null, fitIdx: null };
  const mask = validationMask(fitTable, o.validColumn);
  const v: number[] = [];
  const f: number[] = [];
  for (let i = 0; i < mask.length; i++) (mask[i] ? v : f).push(i);
  return { valIdx: Uint32Array.from(v), fitIdx: Uint32Array.from(f) };
}

/** A progress bar over boosting rounds (created on the first round) showing the first two metrics. */
function roundProgress(
  o: TrainOptions,
  progress: Progress,
): { onIteration: FitOptions['onIteration']; task: () => ProgressTask | null } {
  let task: ProgressTask | null = null;
  return {
    onIteration: ({ iteration, total, metrics }) => {
      task ??= progress.task(`fit ${o.kind}`, total);
      const detail = metrics
        ? Object.entries(metrics)
            .slice(0, 2)
            .map(([k, v]) => `${k} ${Number(v).toPrecision(5)}`)
            .join(' ')
        : '';
      task.update(iteration, detail);
    },
    task: () => task,
  };
}

/** The decision threshold: max_f1 on the validation rows when there are some, else on the fit rows. */
function trainThreshold(
  o: TrainOptions,
  fitY: Uint8Array,
  pTrain: Float64Array,
  valIdx: Uint32Array | null,
): number {
  if (o.threshold !== 'max_f1') return chooseThreshold(fitY, pTrain, o.threshold);
  const idx = valIdx && valIdx.length > 0 ? valIdx : null;
  return idx
    ? chooseThreshold(
        Array.from(idx, (i) => fitY[i]!),
        Array.from(idx, (i) => pTrain[i]!),
        'max_f1',
      )
    : chooseThreshold(fitY, pTrain, 'max_f1');
}

/**
 * The transform (fitted on the fit rows, minus held-out validation rows) and the matrices: all fit rows
 * (for the threshold and train metrics), the rows the model fits on, and the held-out validation set.
 */
function fitMatrices(
  o: TrainOptions,
  preset: FeaturePreset,
  schema: DatasetSchema,
  fitTable: Table,
  fitY: Uint8Array,
  holdOut: { valIdx: Uint32Array; fitIdx: Uint32Array } | null,
) {
  const spec = defaultFeatureSpec(schema, {
    preset,
    ...(o.hashFeatures ? { hashCategoricals: { nFeatures: o.hashFeatures, alternateSign: false } } : {}),
  });
  const ft = fitTransform(spec, holdOut ? takeRows(fitTable, holdOut.fitIdx) : fitTable, schema);
  const Xall = transformTable(ft, fitTable);
  if (!holdOut) return { ft, Xall, X: Xall, Y: fitY, validation: null };
  return {
    ft,
    Xall,
    X: takeMatrixRows(Xall, holdOut.fitIdx),
    Y: Uint8Array.from(holdOut.fitIdx, (i) => fitY[i]!),
    validation: {
      X: takeMatrixRows(Xall, holdOut.valIdx),
      y: Uint8Array.from(holdOut.valIdx, (i) => fitY[i]!),
    },
  };
}

/** Reads, splits, fits, evaluates and writes the bundle; returns the report. */
export async function runTrain(o: TrainOptions, progress: Progress): Promise<TrainReport> {
  const t0 = performance.now();
  const kindInfo = TRAIN_MODEL_KINDS.find((k) => k.kind === o.kind);
  const factory = findModelFactory(o.kind);
  const model = factory.create(o.params); // bad params fail before any reading

  progress.step(`reading ${o.data}`);
  const { train, schema } = await readTrainData(o);
  progress.step(
    `read ${train.table.nRows} rows (${train.droppedRows} dropped), ${schema.columns.filter((c) => c.role === 'feature').length} feature columns`,
  );
  const { fitTable, fitY, testTable, testY } = await fitAndTestParts(o, train, schema, progress);
  // validation rows: held out of the fit for kinds that early-stop; otherwise only used for threshold choice
  const { valIdx, fitIdx } = validationSplit(o, fitTable);

  const preset = o.preset ?? kindInfo?.preset ?? 'linear';
  const holdOut = Boolean(kindInfo?.usesValidation && valIdx && valIdx.length > 0);
  const { ft, Xall, X, Y, validation } = fitMatrices(
    o,
    preset,
    schema,
    fitTable,
    fitY,
    holdOut ? { valIdx: valIdx!, fitIdx: fitIdx! } : null,
  );
  const rounds = roundProgress(o, progress);
  const fitOptions: FitOptions = {
    seed: o.seed,
    featureNames: ft.feature_names,
    onIteration: rounds.onIteration,
  };
  if (validation) fitOptions.validation = validation;
  progress.step(`fitting ${o.kind} on ${X.rows} rows x ${X.cols} features`);
  const cpu0 = process.cpuUsage();
  const tf = performance.now();
  await model.fit(X, Y, fitOptions);
  const fitSeconds = (performance.now() - tf) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const task = rounds.task();
  if (task) task.done(`fitted ${X.rows} rows x ${X.cols} features`);
  else progress.step(`${o.kind} fitted in ${fitSeconds.toFixed(2)} s`);

  const pTrain = model.predictProba(Xall);
  const threshold = trainThreshold(o, fitY, pTrain, valIdx);
  const pTest = model.predictProba(transformTable(ft, testTable));
  const test = evaluateBinary(testY, pTest, threshold);
  const trainEval = evaluateBinary(fitY, pTrain, threshold);
  let prior = 0;
  for (let i = 0; i < fitY.length; i++) prior += fitY[i]!;
  prior /= fitY.length;

  progress.step(`writing the model bundle to ${o.out}`);
  rmSync(o.out, { recursive: true, force: true });
  const summary = model.summary?.() ?? {};
  await saveBundle(o.out, {
    model,
    transform: ft,
    schema,
    threshold,
    prior,
    inputExample: exampleRecords(testTable, schema),
    metrics: { test: dropCalibration(test), train: trainMetrics(trainEval), calibration: test.calibration },
  });
  return {
    model: o.kind,
    params: { ...model.params },
    test: dropCalibration(test),
    train: trainMetrics(trainEval),
    fit_seconds: fitSeconds,
    fit_cpu_seconds: (cpu.user + cpu.system) / 1e6,
    total_seconds: (performance.now() - t0) / 1000,
    rows: {
      train: X.rows,
      test: testTable.nRows,
      valid: valIdx?.length ?? 0,
      dropped: train.droppedRows,
    },
    features: ft.width,
    feature_preset: o.hashFeatures ? `${preset}+hash${o.hashFeatures}` : preset,
    threshold,
    summary: Object.fromEntries(
      Object.entries(summary).filter(([, v]) => typeof v !== 'object' || v === null),
    ),
    ...(typeof summary.best_iteration === 'number' ? { best_iteration: summary.best_iteration } : {}),
    bundle: o.out,
    data_sha256: train.sha256,
  };
}

const f4 = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : 'n/a');

/** The human-readable metrics table. */
export function formatTrainReport(r: TrainReport): string {
  const rows: [string, string, string][] = [
    ['roc_auc', f4(r.test.roc_auc), f4(r.train.roc_auc)],
    ['pr_auc', f4(r.test.pr_auc), f4(r.train.pr_auc)],
    ['log_loss', f4(r.test.log_loss), f4(r.train.log_loss)],
    ['brier', f4(r.test.brier), f4(r.train.brier)],
    ['accuracy', f4(r.test.accuracy), f4(r.train.accuracy)],
    ['precision', f4(r.test.precision), f4(r.train.precision)],
    ['recall', f4(r.test.recall), f4(r.train.recall)],
    ['f1', f4(r.test.f1), f4(r.train.f1)],
    ['ece', f4(r.test.ece), f4(r.train.ece)],
  ];
  const c = r.test.confusion;
  const params = Object.entries(r.params)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(', ');
  return [
    `model ${r.model} (${params}); ${r.features} features (${r.feature_preset}); fit ${r.fit_seconds.toFixed(2)} s`,
    `rows: ${r.rows.train} train, ${r.rows.test} test${r.rows.valid ? `, ${r.rows.valid} validation` : ''}${r.rows.dropped ? `, ${r.rows.dropped} dropped` : ''}`,
    '',
    `${'metric'.padEnd(10)} ${'test'.padStart(8)} ${'train'.padStart(8)}`,
    ...rows.map(([m, a, b]) => `${m.padEnd(10)} ${a.padStart(8)} ${b.padStart(8)}`),
    '',
    `threshold ${r.threshold.toFixed(4)}: test confusion tn ${c.tn}, fp ${c.fp}, fn ${c.fn}, tp ${c.tp}`,
    `bundle: ${r.bundle}`,
    '',
  ].join('\n');
}

function thresholdOption(value: string): ThresholdChoice {
  if (value === 'max_f1') return 'max_f1';
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1))
    throw new InvalidArgumentError('expected max_f1 or a number in [0, 1].');
  return n;
}

/** Model params from the parsed flags; a flag for another kind is an InputError. */
export function modelParamsFromFlags(kind: string, opts: Record<string, unknown>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  const mine = TRAIN_MODEL_KINDS.find((k) => k.kind === kind);
  for (const k of TRAIN_MODEL_KINDS) {
    for (const f of k.flags) {
      const attr = new Option(f.flags).attributeName();
      if (opts[attr] === undefined) continue;
      const own = mine?.flags.find((g) => g.flags === f.flags);
      if (!own) {
        const owners = TRAIN_MODEL_KINDS.filter((x) => x.flags.some((g) => g.flags === f.flags)).map(
          (x) => x.kind,
        );
        throw new InputError(`${f.flags.split(' ')[0]} applies to --model ${owners.join('|')}, not ${kind}`);
      }
      params[own.param] = opts[attr];
    }
  }
  return params;
}

/** Registers `tassel train`. */
export function register(program: Command): void {
  // Over 80 lines only because it is one flat table of commander options.
  const kinds = () => builtinModelKinds().map((k) => k.kind);
  const cmd = program
    .command('train')
    .description(
      'train a model on a CSV, evaluate it on held-out rows and write a model bundle (MLflow layout)',
    );
  addSchemaOptions(cmd);
  cmd
    .requiredOption('--data <file>', 'training CSV')
    .option('--test-data <file>', 'test CSV (default: a stratified split of --data)')
    .requiredOption('--model <kind>', `model kind: ${TRAIN_MODEL_KINDS.map((k) => k.kind).join(' | ')}`)
    .requiredOption('--out <dir>', 'folder to write the model bundle to (replaced if it exists)')
    .option('--valid-column <col>', '0/1 column marking validation rows (early stopping; never a feature)')
    .option('--seed <n>', 'seed for the split and the model', parseIntOption(0, 4_294_967_295), 42)
    .option('--test-fraction <r>', 'test share when no --test-data is given', numberOption(0, 0.9, true), 0.2)
    .option(
      '--threshold <t>',
      'decision threshold: max_f1 (on validation or training rows) or a number',
      thresholdOption,
      0.5,
    )
    .addOption(
      new Option('--features <preset>', 'feature preset (default per model kind)').choices([
        ...FEATURE_PRESETS,
      ]),
    )
    .option(
      '--hash-features <n>',
      'hash categoricals into N columns (scikit-learn FeatureHasher) instead of one-hot',
      parseIntOption(1, 1 << 24),
    )
    .addOption(
      new Option('--on-invalid <policy>', 'invalid cells: fail (exit 2), drop the row, or impute')
        .choices(['fail', 'drop', 'impute'])
        .default('fail'),
    )
    .option('--json', 'print one JSON object (metrics, fit time, bundle) on stdout instead of the table')
    .option('--quiet', 'no progress output');
  // model-specific flags, each registered once
  const seen = new Set<string>();
  for (const k of TRAIN_MODEL_KINDS) {
    for (const f of k.flags) {
      if (seen.has(f.flags)) continue;
      seen.add(f.flags);
      cmd.option(f.flags, f.description, f.parse);
    }
  }
  cmd.addHelpText(
    'after',
    `
Model kinds:
${TRAIN_MODEL_KINDS.map((k) => `  ${k.kind.padEnd(10)} ${k.description} (features: ${k.preset})`).join('\n')}

Examples:
  tassel train --data students.csv --schema builtin:course-completion --model logistic --out models/lr
  tassel train --data train.csv --test-data test.csv --target target --positive 1 \\
      --ignore row_id --ids id_student --valid-column is_val --model logistic --c 1.0 --out models/oulad --json`,
  );
  cmd.action(async (opts: Record<string, unknown> & SchemaFlags) => {
    const kind = String(opts.model);
    if (!kinds().includes(kind)) findModelFactory(kind); // throws the "unknown model kind" InputError
    const read = readOptionsFromFlags({ ...opts, ignore: undefined });
    const options: TrainOptions = {
      data: String(opts.data),
      read,
      kind,
      params: modelParamsFromFlags(kind, opts),
      ignore: (opts.ignore as string[] | undefined) ?? [],
      seed: opts.seed as number,
      testFraction: opts.testFraction as number,
      out: String(opts.out),
      threshold: opts.threshold as ThresholdChoice,
      policy: opts.onInvalid as ValidationPolicy,
    };
    if (opts.testData !== undefined) options.testData = String(opts.testData);
    if (opts.validColumn !== undefined) options.validColumn = String(opts.validColumn);
    if (opts.features !== undefined) options.preset = opts.features as FeaturePreset;
    if (opts.hashFeatures !== undefined) options.hashFeatures = opts.hashFeatures as number;
    const progress = createProgress({ silent: Boolean(opts.quiet) });
    const report = await runTrain(options, progress);
    if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(formatTrainReport(report));
  });
}
