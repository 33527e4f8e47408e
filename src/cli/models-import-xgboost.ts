import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { courseCompletionSchema, COURSE_COMPLETION_SCHEMA_ID } from '../data/builtin-schemas.js';
import { type DatasetSchema, schemaFromJSON } from '../data/schema.js';
import { InputError } from '../errors.js';
import { type FittedTransform, fittedTransformFromJSON } from '../features/transform.js';
import { saveBundle } from '../ml/bundle.js';
import { sigmoid } from '../ml/gbdt/ensemble.js';
import { importXgboostModel } from '../ml/gbdt/xgboost-import.js';

/** Options of {@link runImportXgboost}. */
export interface ImportXgboostOptions {
  /** XGBoost `save_model("model.json")` output. */
  model: string;
  /**
   * How raw records become the model's feature vector: a JSON file `{ "schema": <schema | "builtin:course-completion">,
   * "transform": <fitted transform> }`, or an existing Tassel bundle (folder or its model.json) whose schema and
   * transform are reused.
   */
  features: string;
  out: string;
  /** Keep every tree instead of stopping at the saved best_iteration. */
  allTrees?: boolean;
  /** Serving-fallback prior P(y=1); default: the model's base_score. */
  prior?: number;
  threshold?: number;
}

/** What an import produced. */
export interface ImportXgboostReport {
  bundle: string;
  xgboost_version: string;
  n_trees: number;
  best_iteration: number;
  n_features: number;
  feature_names_matched: boolean;
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    const p = statSync(path).isDirectory() ? join(path, 'model.json') : path;
    text = readFileSync(p, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read ${what} ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new InputError(`${what} ${path} is not valid JSON`);
  }
}

/** Schema and fitted transform from a --features file (spec JSON or a Tassel bundle's model.json). */
export function readFeatureSource(path: string): { schema: DatasetSchema; transform: FittedTransform } {
  const json = readJson(path, '--features file');
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new InputError(`--features ${path}: expected a JSON object`);
  const o = json as Record<string, unknown>;
  if (o.schema === undefined || o.transform === undefined) {
    throw new InputError(
      `--features ${path}: expected {"schema": ..., "transform": ...} (a fitted feature transform) or a Tassel bundle's model.json`,
    );
  }
  const schema =
    o.schema === COURSE_COMPLETION_SCHEMA_ID || o.schema === 'course-completion'
      ? courseCompletionSchema
      : schemaFromJSON(o.schema);
  return { schema, transform: fittedTransformFromJSON(o.transform) };
}

/**
 * Imports an XGBoost model into a Tassel model bundle: its splits are mapped by feature name onto the fitted
 * transform's columns (positionally when the model has no names), predictions reproduce XGBoost's.
 */
export async function runImportXgboost(o: ImportXgboostOptions): Promise<ImportXgboostReport> {
  const { schema, transform } = readFeatureSource(o.features);
  const model = importXgboostModel(readJson(o.model, '--model file'), {
    featureNames: transform.feature_names,
    useBestIteration: !o.allTrees,
  });
  const raw = readJson(o.model, '--model file') as {
    learner?: { feature_names?: unknown[] };
    version?: number[];
  };
  const s = model.summary();
  const prior = o.prior ?? sigmoid(model.ensemble.baseMargin);
  await saveBundle(o.out, {
    model,
    transform,
    schema,
    prior,
    threshold: o.threshold ?? 0.5,
    metrics: {},
  });
  return {
    bundle: o.out,
    xgboost_version: Array.isArray(raw.version) ? raw.version.join('.') : 'unknown',
    n_trees: s.n_trees as number,
    best_iteration: s.best_iteration as number,
    n_features: transform.width,
    feature_names_matched: Array.isArray(raw.learner?.feature_names) && raw.learner.feature_names.length > 0,
  };
}

const probability = (name: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !(n >= 0 && n <= 1))
    throw new InputError(`${name} must be a number in [0, 1], got ${v}`);
  return n;
};

/** Adds `import-xgboost` under `tassel models`. */
export function registerImportXgboost(models: Command): void {
  models
    .command('import-xgboost')
    .description('wrap a model saved by XGBoost\'s save_model("model.json") into a Tassel model bundle')
    .requiredOption('--model <file>', 'XGBoost JSON model (1.7 or 2.x, binary:logistic)')
    .requiredOption(
      '--features <file>',
      'JSON {"schema": ..., "transform": ...} or a Tassel bundle (folder or model.json) whose schema and feature transform to reuse',
    )
    .requiredOption('--out <dir>', 'bundle folder to write')
    .option(
      '--all-trees',
      'keep every tree (default: stop at the saved best_iteration, as XGBClassifier.predict_proba does)',
    )
    .option('--prior <p>', 'serving-fallback P(y=1) (default: the model base_score)', probability('--prior'))
    .option('--threshold <t>', 'decision threshold (default 0.5)', probability('--threshold'))
    .option('--json', 'print JSON')
    .action(async (flags: ImportXgboostOptions & { json?: boolean }) => {
      const r = await runImportXgboost(flags);
      if (flags.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else {
        process.stdout.write(
          `imported XGBoost ${r.xgboost_version} model: ${r.n_trees} trees (best iteration ${r.best_iteration}), ` +
            `${r.n_features} features${r.feature_names_matched ? ' matched by name' : ' by position'} -> ${r.bundle}\n`,
        );
      }
    });
}
