import { InputError } from '../errors.js';
import type { ColumnSpec, DatasetSchema } from '../data/schema.js';

/**
 * A feature spec says how each feature column becomes numbers. It is fitted on training data into a
 * {@link FittedTransform} (plain JSON) that travels inside the model bundle.
 */

/** Numeric/integer columns: optional median imputation, then optional standard scaling (as sklearn's SimpleImputer + StandardScaler). */
export interface NumericFeatureSpec {
  kind: 'numeric';
  impute: 'median' | 'none';
  scale: 'standard' | 'none';
}

/** Booleans become 0/1; missing values take the training median (i.e. the majority) or stay NaN. */
export interface BooleanFeatureSpec {
  kind: 'boolean';
  impute: 'median' | 'none';
}

/** Parts a date is turned into. `days` = days since 1970-01-01, `dow` = day of week (0 = Sunday), `month` = 1..12. */
export type DatePart = 'days' | 'dow' | 'month';
export const DATE_PARTS: readonly DatePart[] = ['days', 'dow', 'month'];

/** Dates: derived numbers, each imputed/scaled like a numeric column. */
export interface DateFeatureSpec {
  kind: 'date';
  parts: DatePart[];
  impute: 'median' | 'none';
  scale: 'standard' | 'none';
}

/**
 * Categoricals: one-hot of the `maxCategories` most frequent values seen at least `minFrequency` times
 * (the rest, and unseen values, go to one "other" column when anything was cut), or the signed hashing
 * trick into the spec's shared hashed block (tokens `"<column>=<value>"`, missing -> `"<column>=__NA__"`).
 * Missing values are the category `__NA__` in both encodings (as the Python reference does).
 */
export type CategoricalFeatureSpec =
  | { kind: 'categorical'; encoding: 'onehot'; maxCategories: number; minFrequency: number }
  | {
      kind: 'categorical';
      encoding: 'hash';
      /** A block of this many columns for this column alone; absent = the spec's shared block. */
      nFeatures?: number;
      /** Own block only (default true, as FeatureHasher). */
      alternateSign?: boolean;
    };

export type ColumnFeatureSpec =
  | NumericFeatureSpec
  | BooleanFeatureSpec
  | DateFeatureSpec
  | CategoricalFeatureSpec;

/** Presets: `linear` (median impute + standard scaling + one-hot) and `tree` (NaN kept, no scaling, one-hot). */
export type FeaturePreset = 'linear' | 'tree';
export const FEATURE_PRESETS: readonly FeaturePreset[] = ['linear', 'tree'];

export interface FeatureSpec {
  /** The preset this spec was derived from (informational). */
  preset: FeaturePreset | 'custom';
  /** Per feature column; columns of the schema not listed here are not features. Output follows schema order. */
  columns: Record<string, ColumnFeatureSpec>;
  /** The shared hashed block used by categorical columns with `encoding: 'hash'` (sklearn FeatureHasher). */
  hashing?: { nFeatures: number; alternateSign: boolean };
}

/** Options for {@link defaultFeatureSpec}. */
export interface DefaultFeatureSpecOptions {
  preset?: FeaturePreset;
  /** Hash every categorical column into one block of this width instead of one-hot. */
  hashCategoricals?: { nFeatures: number; alternateSign?: boolean };
  /** One-hot: keep at most this many categories per column (default 50). */
  maxCategories?: number;
  /** One-hot: a category needs at least this many training rows (default 1). */
  minFrequency?: number;
  /** Columns to leave out even though the schema marks them as features. */
  exclude?: string[];
}

/** The missing-value category, as the Python reference writes it. */
export const NA_CATEGORY = '__NA__';
/** Name of the one-hot column collecting rare and unseen categories. */
export const OTHER_CATEGORY = '__other__';

/** Whether a column can be a feature at all: ids, targets and ignored columns never are. */
export const isFeatureColumn = (c: ColumnSpec): boolean => c.role === 'feature' && c.type !== 'id';

/** The spec a schema implies under a preset. */
export function defaultFeatureSpec(
  schema: DatasetSchema,
  options: DefaultFeatureSpecOptions = {},
): FeatureSpec {
  const preset = options.preset ?? 'linear';
  if (!FEATURE_PRESETS.includes(preset)) {
    throw new InputError(
      `unknown feature preset "${String(preset)}"; known presets: ${FEATURE_PRESETS.join(', ')}`,
    );
  }
  const linear = preset === 'linear';
  const exclude = new Set(options.exclude ?? []);
  const columns: Record<string, ColumnFeatureSpec> = {};
  for (const c of schema.columns) {
    if (!isFeatureColumn(c) || exclude.has(c.name)) continue;
    columns[c.name] = columnDefault(c, linear, options);
  }
  const spec: FeatureSpec = { preset, columns };
  if (options.hashCategoricals) {
    spec.hashing = {
      nFeatures: options.hashCategoricals.nFeatures,
      alternateSign: options.hashCategoricals.alternateSign ?? true,
    };
  }
  return spec;
}

function columnDefault(
  c: ColumnSpec,
  linear: boolean,
  options: DefaultFeatureSpecOptions,
): ColumnFeatureSpec {
  const impute = linear ? 'median' : 'none';
  const scale = linear ? 'standard' : 'none';
  switch (c.type) {
    case 'numeric':
    case 'integer':
      return { kind: 'numeric', impute, scale };
    case 'boolean':
      return { kind: 'boolean', impute };
    case 'date':
      return { kind: 'date', parts: [...DATE_PARTS], impute, scale };
    default:
      if (options.hashCategoricals) return { kind: 'categorical', encoding: 'hash' };
      return {
        kind: 'categorical',
        encoding: 'onehot',
        maxCategories: options.maxCategories ?? 50,
        minFrequency: options.minFrequency ?? 1,
      };
  }
}
