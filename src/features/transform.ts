import type { DatasetSchema } from '../data/schema.js';
import { DEFAULT_FALSE_VALUES, DEFAULT_TRUE_VALUES, columnSpec } from '../data/schema.js';
import type { ColumnData, RawRecord, Table } from '../data/table.js';
import { isNumericData, takeRows } from '../data/table.js';
import { TasselError } from '../errors.js';
import { createMatrix, type Matrix } from '../ml/matrix.js';
import { type DatePart, type FeatureSpec, NA_CATEGORY, OTHER_CATEGORY } from './spec.js';
import { dayOfWeekOfDays, monthOfDays, parseDateToDays } from './dates.js';
import { hashSlot, hashSlotPair, type HashedSlot } from './murmurhash.js';

/** Layout version of {@link FittedTransform}; a loader refuses a newer major version. */
export const TRANSFORM_FORMAT_VERSION = 1;

/** A numeric or boolean column after fitting: out = ((isNaN(v) ? impute : v) - center) / scale. */
export interface FittedNumericColumn {
  name: string;
  kind: 'numeric' | 'boolean';
  offset: number;
  /** Value used for missing input; null keeps NaN (tree models handle it). */
  impute: number | null;
  center: number;
  scale: number;
  /** Boolean spellings (lower-case) for records that carry strings. */
  true_values?: string[];
  false_values?: string[];
}

/** A date column: one output per part, each imputed and scaled like a numeric column. */
export interface FittedDateColumn {
  name: string;
  kind: 'date';
  offset: number;
  parts: DatePart[];
  impute: (number | null)[];
  center: number[];
  scale: number[];
  date_format?: 'DMY' | 'MDY' | 'YMD';
}

/** One-hot over `categories` (sorted), plus an "other" column when rare categories were cut. */
export interface FittedOneHotColumn {
  name: string;
  kind: 'categorical';
  encoding: 'onehot';
  offset: number;
  categories: string[];
  other: boolean;
}

/**
 * A categorical column hashed into the shared block (no outputs of its own), or, when it has `offset` and
 * `n_features`, into a block of its own.
 */
export interface FittedHashedColumn {
  name: string;
  kind: 'categorical';
  encoding: 'hash';
  offset?: number;
  n_features?: number;
  alternate_sign?: boolean;
}

/** Where a hashed column's tokens go: its own block or the shared one. */
function hashBlockOf(
  ft: FittedTransform,
  c: FittedHashedColumn,
): { offset: number; n_features: number; alternate_sign: boolean } {
  if (c.offset !== undefined && c.n_features !== undefined) {
    return { offset: c.offset, n_features: c.n_features, alternate_sign: c.alternate_sign ?? true };
  }
  if (!ft.hashing)
    throw new TasselError('DATA_LOSS', `feature transform: hashed column ${c.name} has no block`);
  return ft.hashing;
}

export type FittedColumn = FittedNumericColumn | FittedDateColumn | FittedOneHotColumn | FittedHashedColumn;

/** The fitted feature transform: plain JSON, stored in model bundles. */
export interface FittedTransform {
  format_version: number;
  preset: string;
  columns: FittedColumn[];
  /** The hashed block (sklearn FeatureHasher semantics), placed after all other outputs. */
  hashing: { n_features: number; alternate_sign: boolean; offset: number } | null;
  /** Number of output features. */
  width: number;
  feature_names: string[];
  /**
   * Mean of each output over the rows the transform was fitted on (missing outputs left out): the background
   * linear SHAP measures contributions from. Absent in transforms fitted before Tassel stored it.
   */
  output_mean?: number[];
}

const median = (values: Float64Array): number => {
  const buf = new Float64Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isNaN(v)) buf[n++] = v;
  }
  const finite = buf.subarray(0, n).sort();
  if (n === 0) return Number.NaN;
  return n % 2 ? finite[(n - 1) >> 1]! : (finite[n / 2 - 1]! + finite[n / 2]!) / 2;
};

/** Impute value, centre and scale for one numeric series (the StandardScaler rule: ddof 0, zero std -> 1). */
function fitNumeric(
  values: Float64Array,
  impute: 'median' | 'none',
  scale: 'standard' | 'none',
): { impute: number | null; center: number; scale: number } {
  let fill: number | null = null;
  if (impute === 'median') {
    const m = median(values);
    fill = Number.isNaN(m) ? 0 : m;
  }
  if (scale === 'none') return { impute: fill, center: 0, scale: 1 };
  let n = 0;
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < values.length; i++) {
    let v = values[i]!;
    if (Number.isNaN(v)) {
      if (fill === null) continue;
      v = fill;
    }
    n++;
    const d = v - mean;
    mean += d / n;
    m2 += d * (v - mean);
  }
  if (n === 0) return { impute: fill, center: 0, scale: 1 };
  const std = Math.sqrt(m2 / n);
  return { impute: fill, center: mean, scale: std > 1e-12 * Math.max(1, Math.abs(mean)) ? std : 1 };
}

const columnOf = (table: Table, name: string): ColumnData => {
  const col = table.columns[name];
  if (!col)
    throw new TasselError(
      'INVALID_PARAMETER_VALUE',
      `the data has no column "${name}" needed by the feature transform`,
    );
  return col;
};

const numericColumnOf = (table: Table, name: string): Float64Array => {
  const col = columnOf(table, name);
  if (!isNumericData(col)) {
    throw new TasselError(
      'INVALID_PARAMETER_VALUE',
      `column "${name}" must be numeric for the feature transform`,
    );
  }
  return col;
};

/** The category a raw value counts as (missing values are {@link NA_CATEGORY}); shared with compiled-encoder.ts. */
export const categoryOf = (v: unknown): string =>
  v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v)) || v === ''
    ? NA_CATEGORY
    : String(v);

function datePartValues(days: Float64Array, part: DatePart): Float64Array {
  const out = new Float64Array(days.length);
  for (let i = 0; i < days.length; i++) out[i] = datePart(days[i]!, part);
  return out;
}

function datePart(days: number, part: DatePart): number {
  if (Number.isNaN(days)) return Number.NaN;
  if (part === 'days') return days;
  if (part === 'dow') return dayOfWeekOfDays(days);
  return monthOfDays(days);
}

/** Fits a feature spec on a training table. The result is plain JSON. */
export function fitTransform(spec: FeatureSpec, table: Table, schema: DatasetSchema): FittedTransform {
  const columns: FittedColumn[] = [];
  let offset = 0;
  for (const c of schema.columns) {
    const s = spec.columns[c.name];
    if (!s) continue;
    if (s.kind === 'numeric' || s.kind === 'boolean') {
      const values = numericColumnOf(table, c.name);
      const fitted = fitNumeric(values, s.impute, s.kind === 'numeric' ? s.scale : 'none');
      const col: FittedNumericColumn = { name: c.name, kind: s.kind, offset, ...fitted };
      if (s.kind === 'boolean') {
        col.true_values = (c.trueValues ?? DEFAULT_TRUE_VALUES).map((v) => v.toLowerCase());
        col.false_values = (c.falseValues ?? DEFAULT_FALSE_VALUES).map((v) => v.toLowerCase());
      }
      columns.push(col);
      offset++;
    } else if (s.kind === 'date') {
      const days = numericColumnOf(table, c.name);
      const fits = s.parts.map((p) => fitNumeric(datePartValues(days, p), s.impute, s.scale));
      const col: FittedDateColumn = {
        name: c.name,
        kind: 'date',
        offset,
        parts: [...s.parts],
        impute: fits.map((f) => f.impute),
        center: fits.map((f) => f.center),
        scale: fits.map((f) => f.scale),
      };
      if (c.dateFormat) col.date_format = c.dateFormat;
      columns.push(col);
      offset += s.parts.length;
    } else if (s.encoding === 'onehot') {
      const values = columnOf(table, c.name);
      const counts = new Map<string, number>();
      for (let i = 0; i < values.length; i++) {
        const k = categoryOf(values[i]);
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      const ranked = [...counts.entries()]
        .filter(([, n]) => n >= s.minFrequency)
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const kept = ranked.slice(0, Math.max(0, s.maxCategories)).map(([k]) => k);
      kept.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const other = kept.length < counts.size;
      columns.push({
        name: c.name,
        kind: 'categorical',
        encoding: 'onehot',
        offset,
        categories: kept,
        other,
      });
      offset += kept.length + (other ? 1 : 0);
    } else {
      columnOf(table, c.name);
      if (s.nFeatures !== undefined) {
        if (!(Number.isInteger(s.nFeatures) && s.nFeatures >= 1)) {
          throw new TasselError(
            'INVALID_PARAMETER_VALUE',
            `column ${c.name}: hash nFeatures must be an integer >= 1`,
          );
        }
        columns.push({
          name: c.name,
          kind: 'categorical',
          encoding: 'hash',
          offset,
          n_features: s.nFeatures,
          alternate_sign: s.alternateSign ?? true,
        });
        offset += s.nFeatures;
      } else columns.push({ name: c.name, kind: 'categorical', encoding: 'hash' });
    }
  }
  let hashing: FittedTransform['hashing'] = null;
  if (columns.some((c) => c.kind === 'categorical' && c.encoding === 'hash' && c.offset === undefined)) {
    if (!spec.hashing || !(spec.hashing.nFeatures >= 1)) {
      throw new TasselError(
        'INVALID_PARAMETER_VALUE',
        'hashed categorical columns need spec.hashing.nFeatures >= 1',
      );
    }
    hashing = { n_features: spec.hashing.nFeatures, alternate_sign: spec.hashing.alternateSign, offset };
    offset += spec.hashing.nFeatures;
  }
  const ft: FittedTransform = {
    format_version: TRANSFORM_FORMAT_VERSION,
    preset: spec.preset,
    columns,
    hashing,
    width: offset,
    feature_names: [],
  };
  ft.feature_names = computeFeatureNames(ft);
  ft.output_mean = outputMeans(ft, table);
  return ft;
}

/** Mean of every output column over `table` (NaN outputs skipped), transforming a bounded chunk of rows at a time. */
export function outputMeans(ft: FittedTransform, table: Table): number[] {
  const w = ft.width;
  const sum = new Float64Array(w);
  const count = new Float64Array(w);
  const chunk = Math.max(1, Math.floor(2 ** 21 / Math.max(1, w)));
  for (let start = 0; start < table.nRows; start += chunk) {
    const end = Math.min(table.nRows, start + chunk);
    const idx = Int32Array.from({ length: end - start }, (_, k) => start + k);
    const part = start === 0 && end === table.nRows ? table : takeRows(table, idx);
    const m = transformTable(ft, part).data;
    for (let k = 0; k < m.length; k++) {
      const v = m[k]!;
      if (!Number.isNaN(v)) {
        sum[k % w] += v;
        count[k % w]++;
      }
    }
  }
  return Array.from(sum, (v, j) => (count[j]! > 0 ? v / count[j]! : 0));
}

/**
 * For each hashed column writing into the shared block (in `sharedHashedColumns` order), the block slot its
 * token takes for `record`. Lets explanations give a shared bucket's contribution to the fields that hit it.
 */
export function sharedHashSlots(ft: FittedTransform, record: RawRecord, out: Int32Array): Int32Array {
  const block = ft.hashing;
  if (!block) return out;
  const slot: HashedSlot = { index: 0, sign: 1 };
  sharedHashedColumns(ft).forEach((name, k) => {
    hashSlotPair(`${name}=`, categoryOf(record[name]), block.n_features, block.alternate_sign, slot);
    out[k] = slot.index;
  });
  return out;
}

/** Names of the categorical columns hashed into the shared block, in transform order. */
export const sharedHashedColumns = (ft: FittedTransform): string[] =>
  ft.columns
    .filter((c) => c.kind === 'categorical' && c.encoding === 'hash' && c.offset === undefined)
    .map((c) => c.name);

function computeFeatureNames(ft: FittedTransform): string[] {
  const names: string[] = [];
  for (const c of ft.columns) {
    if (c.kind === 'numeric' || c.kind === 'boolean') names.push(c.name);
    else if (c.kind === 'date') for (const p of c.parts) names.push(`${c.name}__${p}`);
    else if (c.kind === 'categorical' && c.encoding === 'onehot') {
      for (const k of c.categories) names.push(`${c.name}=${k}`);
      if (c.other) names.push(`${c.name}=${OTHER_CATEGORY}`);
    } else if (c.kind === 'categorical' && c.n_features !== undefined) {
      for (let i = 0; i < c.n_features; i++) names.push(`${c.name}#hash_${i}`);
    }
  }
  if (ft.hashing) for (let i = 0; i < ft.hashing.n_features; i++) names.push(`hash_${i}`);
  return names;
}

/** Output feature names, in column order. */
export const featureNames = (ft: FittedTransform): string[] => [...ft.feature_names];

/** The input columns a fitted transform reads. */
export const transformInputColumns = (ft: FittedTransform): string[] => ft.columns.map((c) => c.name);

/** Transforms a whole table into a dense matrix (column-wise loops: the batch path). */
export function transformTable(ft: FittedTransform, table: Table): Matrix {
  const n = table.nRows;
  const w = ft.width;
  const out = new Float64Array(n * w);
  for (const c of ft.columns) {
    if (c.kind === 'numeric' || c.kind === 'boolean') {
      const values = numericColumnOf(table, c.name);
      writeNumeric(values, out, n, w, c.offset, c.impute, c.center, c.scale);
    } else if (c.kind === 'date') {
      const days = numericColumnOf(table, c.name);
      c.parts.forEach((p, j) => {
        writeNumeric(
          datePartValues(days, p),
          out,
          n,
          w,
          c.offset + j,
          c.impute[j]!,
          c.center[j]!,
          c.scale[j]!,
        );
      });
    } else if (c.kind === 'categorical' && c.encoding === 'onehot') {
      const values = columnOf(table, c.name);
      const index = new Map(c.categories.map((k, j) => [k, j]));
      const otherAt = c.other ? c.categories.length : -1;
      for (let i = 0; i < n; i++) {
        const j = index.get(categoryOf(values[i])) ?? otherAt;
        if (j >= 0) out[i * w + c.offset + j] = 1;
      }
    }
  }
  {
    const slot: HashedSlot = { index: 0, sign: 1 };
    for (const c of ft.columns) {
      if (c.kind !== 'categorical' || c.encoding !== 'hash') continue;
      const { n_features, alternate_sign, offset } = hashBlockOf(ft, c);
      const values = columnOf(table, c.name);
      const cache = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        const token = `${c.name}=${categoryOf(values[i])}`;
        let code = cache.get(token);
        if (code === undefined) {
          hashSlot(token, n_features, alternate_sign, slot);
          code = slot.sign < 0 ? -(slot.index + 1) : slot.index + 1;
          cache.set(token, code);
        }
        if (code > 0) out[i * w + offset + code - 1] += 1;
        else out[i * w + offset - code - 1] -= 1;
      }
    }
  }
  return createMatrix(n, w, out);
}

function writeNumeric(
  values: Float64Array,
  out: Float64Array,
  n: number,
  w: number,
  at: number,
  impute: number | null,
  center: number,
  scale: number,
): void {
  const fill = impute ?? Number.NaN;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    out[i * w + at] = ((Number.isNaN(v) ? fill : v) - center) / scale;
  }
}

/** Encodes one raw record into a preallocated feature row (the serving hot path). */
export interface RecordEncoder {
  readonly width: number;
  /** Writes all `width` outputs of `record` into `out` (which must hold at least `width` values). */
  encode(record: RawRecord, out: Float64Array): void;
}

/** A raw value read as a number, leniently (missing or unreadable: NaN); shared with compiled-encoder.ts. */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v.trim() === '') return Number.NaN;
    const x = Number(v);
    return x;
  }
  if (typeof v === 'boolean') return v ? 1 : 0;
  return Number.NaN;
}

/** A raw value read as 1/0 by the column's spellings (else NaN); shared with compiled-encoder.ts. */
export function toBoolean(v: unknown, c: FittedNumericColumn): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v === 1 ? 1 : v === 0 ? 0 : Number.NaN;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (c.true_values?.includes(s) ?? DEFAULT_TRUE_VALUES.includes(s)) return 1;
    if (c.false_values?.includes(s) ?? DEFAULT_FALSE_VALUES.includes(s)) return 0;
  }
  return Number.NaN;
}

function toDays(v: unknown, c: FittedDateColumn): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return parseDateToDays(v, c.date_format ?? 'YMD');
  if (v instanceof Date) return v.getTime() / 86_400_000;
  return Number.NaN;
}

/**
 * A record encoder for a fitted transform. Values are read leniently (numbers or numeric strings,
 * booleans or their spellings, dates as day numbers or strings); anything unreadable counts as missing
 * and gets the training imputation. Validate records first (coerceRecords) when errors must be reported.
 * Unseen categories go to "other" when the column has one, else all its one-hot outputs stay 0.
 */
export function createRecordEncoder(ft: FittedTransform): RecordEncoder {
  const w = ft.width;
  // category -> one-hot position, by column position (undefined for other columns)
  const oneHotIndex = ft.columns.map((c) =>
    c.kind === 'categorical' && c.encoding === 'onehot'
      ? new Map(c.categories.map((k, j) => [k, j]))
      : undefined,
  );
  const hashedCols = ft.columns.filter(
    (c): c is FittedHashedColumn => c.kind === 'categorical' && c.encoding === 'hash',
  );
  const hashed = hashedCols.map((c) => c.name);
  const hashedPrefix = hashed.map((name) => `${name}=`);
  const hashedBlock = hashedCols.map((c) => hashBlockOf(ft, c));
  const slot: HashedSlot = { index: 0, sign: 1 };
  const columns = ft.columns;
  const hashing = ft.hashing;
  return {
    width: w,
    encode(record: RawRecord, out: Float64Array): void {
      for (let k = 0; k < columns.length; k++) {
        const c = columns[k]!;
        const v = record[c.name];
        if (c.kind === 'numeric' || c.kind === 'boolean') {
          let x = c.kind === 'numeric' ? toNumber(v) : toBoolean(v, c);
          if (Number.isNaN(x)) x = c.impute ?? Number.NaN;
          out[c.offset] = (x - c.center) / c.scale;
        } else if (c.kind === 'date') {
          const days = toDays(v, c);
          for (let j = 0; j < c.parts.length; j++) {
            let x = datePart(days, c.parts[j]!);
            if (Number.isNaN(x)) x = c.impute[j] ?? Number.NaN;
            out[c.offset + j] = (x - c.center[j]!) / c.scale[j]!;
          }
        } else if (c.kind === 'categorical' && c.encoding === 'onehot') {
          const n = c.categories.length + (c.other ? 1 : 0);
          out.fill(0, c.offset, c.offset + n);
          const j = oneHotIndex[k]!.get(categoryOf(v)) ?? (c.other ? c.categories.length : -1);
          if (j >= 0) out[c.offset + j] = 1;
        }
      }
      if (hashing) out.fill(0, hashing.offset, hashing.offset + hashing.n_features);
      for (let k = 0; k < hashed.length; k++) {
        const b = hashedBlock[k]!;
        if (b !== hashing) out.fill(0, b.offset, b.offset + b.n_features);
      }
      for (let k = 0; k < hashed.length; k++) {
        const b = hashedBlock[k]!;
        hashSlotPair(hashedPrefix[k]!, categoryOf(record[hashed[k]!]), b.n_features, b.alternate_sign, slot);
        out[b.offset + slot.index] += slot.sign;
      }
    },
  };
}

/** Encodes many records into a matrix through the record encoder. */
export function transformRecords(ft: FittedTransform, records: readonly RawRecord[]): Matrix {
  const m = createMatrix(records.length, ft.width);
  const enc = createRecordEncoder(ft);
  for (let i = 0; i < records.length; i++)
    enc.encode(records[i]!, m.data.subarray(i * ft.width, (i + 1) * ft.width));
  return m;
}

/**
 * Checks a parsed JSON object is a fitted transform this version can use; throws TasselError
 * (DATA_LOSS for damage, INVALID_PARAMETER_VALUE for a newer major format).
 */
export function fittedTransformFromJSON(json: unknown): FittedTransform {
  if (!json || typeof json !== 'object')
    throw new TasselError('DATA_LOSS', 'feature transform: expected an object');
  const o = json as FittedTransform;
  if (typeof o.format_version !== 'number')
    throw new TasselError('DATA_LOSS', 'feature transform: missing format_version');
  if (Math.floor(o.format_version) > TRANSFORM_FORMAT_VERSION) {
    throw new TasselError(
      'INVALID_PARAMETER_VALUE',
      `feature transform format ${o.format_version} is newer than this Tassel (supports ${TRANSFORM_FORMAT_VERSION}.x)`,
    );
  }
  if (!Array.isArray(o.columns) || typeof o.width !== 'number' || !Array.isArray(o.feature_names)) {
    throw new TasselError('DATA_LOSS', 'feature transform: columns, width or feature_names missing');
  }
  if (o.feature_names.length !== o.width) {
    throw new TasselError(
      'DATA_LOSS',
      `feature transform: ${o.feature_names.length} feature names for width ${o.width}`,
    );
  }
  return o;
}

/** Whether a schema column referenced by the transform exists (for error messages in callers). */
export const transformColumnsMissingFrom = (ft: FittedTransform, schema: DatasetSchema): string[] =>
  ft.columns.filter((c) => !columnSpec(schema, c.name)).map((c) => c.name);
