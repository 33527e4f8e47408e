import { InputError } from '../errors.js';

/**
 * Declarative data contracts: what a dataset's columns are, which one is the target and
 * what each may hold. One schema drives CSV reading, JSON record validation (serving and
 * `tassel predict`) and the feature transform, and is stored as plain JSON in model bundles.
 */

/** Storage/semantic type of a column. numeric/integer/boolean/date are stored as Float64Array (NaN = missing). */
export type ColumnType = 'numeric' | 'integer' | 'categorical' | 'boolean' | 'date' | 'id';

/** What a column is used for. Only `feature` columns reach a model; `id` columns are echoed in predictions. */
export type ColumnRole = 'feature' | 'target' | 'id' | 'ignore';

/** All column types, for validation of user input. */
export const COLUMN_TYPES: readonly ColumnType[] = [
  'numeric',
  'integer',
  'categorical',
  'boolean',
  'date',
  'id',
];
/** All column roles, for validation of user input. */
export const COLUMN_ROLES: readonly ColumnRole[] = ['feature', 'target', 'id', 'ignore'];

/** One column of a dataset. */
export interface ColumnSpec {
  name: string;
  type: ColumnType;
  role: ColumnRole;
  /** Categorical (or target) values that are valid; others are validation issues. Absent = any value. */
  allowed?: string[];
  /** Inclusive lower bound for numeric/integer columns. */
  min?: number;
  /** Inclusive upper bound for numeric/integer columns. */
  max?: number;
  /**
   * Whether the column is optional: an empty cell, null or an absent field is acceptable (and is a missing
   * value). Default true for features, false for the target. A feature with `nullable: false` is required
   * (see {@link isRequiredInput}).
   */
  nullable?: boolean;
  /** Field order of a date written with separators (e.g. 31/12/2024 is DMY). ISO YYYY-MM-DD is always accepted. */
  dateFormat?: 'DMY' | 'MDY' | 'YMD';
  /** Boolean spellings read as 1 (case-insensitive); default yes/true/1/y. */
  trueValues?: string[];
  /** Boolean spellings read as 0 (case-insensitive); default no/false/0/n. */
  falseValues?: string[];
}

/** A whole dataset: its columns in file order, the target column and the label counted as positive (1). */
export interface DatasetSchema {
  name: string;
  columns: ColumnSpec[];
  /** Name of the target column (its spec has role 'target'). */
  target: string;
  /** Target value that maps to 1. */
  positiveLabel: string;
  /** Target value that maps to 0. When absent, every non-positive value of the target is negative. */
  negativeLabel?: string;
}

/** Default boolean spellings (compared lower-cased). */
export const DEFAULT_TRUE_VALUES: readonly string[] = ['yes', 'true', '1', 'y', 't'];
/** Default boolean spellings (compared lower-cased). */
export const DEFAULT_FALSE_VALUES: readonly string[] = ['no', 'false', '0', 'n', 'f'];

/** The columns a model sees, in schema order. */
export function featureColumns(schema: DatasetSchema): ColumnSpec[] {
  return schema.columns.filter((c) => c.role === 'feature');
}

/**
 * Whether a caller must send `spec`'s column (MLflow's signature `required`): a feature the schema does not
 * mark as optional (`nullable: false`). Such a field absent from a record, null or empty is refused; an
 * optional one may be absent or null and is scored as missing. Ids, the target and ignored columns are never
 * required of a caller (they are not scored).
 */
export function isRequiredInput(spec: ColumnSpec): boolean {
  return spec.role === 'feature' && spec.nullable === false;
}

/** The identifier columns (echoed next to predictions, never features). */
export function idColumns(schema: DatasetSchema): ColumnSpec[] {
  return schema.columns.filter((c) => c.role === 'id');
}

/** The spec of the target column; throws InputError if the schema has none. */
export function targetColumn(schema: DatasetSchema): ColumnSpec {
  const spec = schema.columns.find((c) => c.name === schema.target);
  if (!spec)
    throw new InputError(`schema ${schema.name}: target column ${schema.target} is not among its columns`);
  return spec;
}

/** Look up a column spec by name. */
export function columnSpec(schema: DatasetSchema, name: string): ColumnSpec | undefined {
  return schema.columns.find((c) => c.name === name);
}

/** Plain JSON form of a schema (stored in model bundles); a deep copy without undefined fields. */
export function schemaToJSON(schema: DatasetSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify({ version: 1, ...schema })) as Record<string, unknown>;
}

const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Parse and check a schema from JSON (as written by {@link schemaToJSON}); throws InputError on a damaged one. */
export function schemaFromJSON(json: unknown): DatasetSchema {
  const bad = (why: string): never => {
    throw new InputError(`invalid dataset schema: ${why}`);
  };
  if (typeof json === 'string') {
    try {
      json = JSON.parse(json);
    } catch {
      bad('not valid JSON');
    }
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return bad('expected an object');
  const o = json as Record<string, unknown>;
  if (o.version !== undefined && o.version !== 1) bad(`unsupported schema version ${String(o.version)}`);
  if (typeof o.name !== 'string') bad('"name" must be a string');
  if (typeof o.target !== 'string') bad('"target" must be a string');
  if (typeof o.positiveLabel !== 'string') bad('"positiveLabel" must be a string');
  if (o.negativeLabel !== undefined && typeof o.negativeLabel !== 'string')
    bad('"negativeLabel" must be a string');
  if (!Array.isArray(o.columns)) return bad('"columns" must be an array');
  const seen = new Set<string>();
  const columns: ColumnSpec[] = o.columns.map((raw, i) => {
    if (!raw || typeof raw !== 'object') return bad(`columns[${i}] must be an object`);
    const c = raw as Record<string, unknown>;
    if (typeof c.name !== 'string' || c.name === '')
      return bad(`columns[${i}].name must be a non-empty string`);
    if (seen.has(c.name)) bad(`column ${c.name} appears twice`);
    seen.add(c.name);
    if (!COLUMN_TYPES.includes(c.type as ColumnType)) bad(`column ${c.name}: unknown type ${String(c.type)}`);
    if (!COLUMN_ROLES.includes(c.role as ColumnRole)) bad(`column ${c.name}: unknown role ${String(c.role)}`);
    const spec: ColumnSpec = { name: c.name, type: c.type as ColumnType, role: c.role as ColumnRole };
    if (c.allowed !== undefined)
      spec.allowed = isStringArray(c.allowed) ? c.allowed : bad(`column ${c.name}: allowed`);
    for (const k of ['min', 'max'] as const) {
      if (c[k] !== undefined)
        spec[k] = typeof c[k] === 'number' ? c[k] : bad(`column ${c.name}: ${k} must be a number`);
    }
    if (c.nullable !== undefined)
      spec.nullable = typeof c.nullable === 'boolean' ? c.nullable : bad('nullable');
    if (c.dateFormat !== undefined) {
      if (c.dateFormat !== 'DMY' && c.dateFormat !== 'MDY' && c.dateFormat !== 'YMD')
        bad(`column ${c.name}: dateFormat`);
      spec.dateFormat = c.dateFormat as 'DMY' | 'MDY' | 'YMD';
    }
    for (const k of ['trueValues', 'falseValues'] as const) {
      if (c[k] !== undefined) spec[k] = isStringArray(c[k]) ? c[k] : bad(`column ${c.name}: ${k}`);
    }
    return spec;
  });
  const schema: DatasetSchema = {
    name: o.name as string,
    columns,
    target: o.target as string,
    positiveLabel: o.positiveLabel as string,
  };
  if (o.negativeLabel !== undefined) schema.negativeLabel = o.negativeLabel as string;
  targetColumn(schema);
  return schema;
}
