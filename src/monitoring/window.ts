import { columnSpec, type DatasetSchema } from '../data/schema.js';
import { compileValueParser } from '../data/validate.js';
import { ColumnsBuilder, columnsOfRecords } from '../serving/prediction-sink/columns.js';
import type { ColumnField, PredictionColumns } from '../serving/prediction-sink/port.js';
import type { WindowData } from './drift.js';
import type { OutcomeRecord, PredictionQuery, PredictionRecord, PredictionSource } from './records.js';
import type { PreparedReference } from './reference.js';

/**
 * Turns logged predictions into a window's columns: raw inputs coerced with the training schema's rules
 * (the profile's input schema: booleans, dates, integers exactly as in training), invalid cells counted and
 * treated as missing, outcomes joined by request id or by an entity id field.
 */

/** Outcomes by request id and by entity id. */
export interface OutcomeIndex {
  byRequest: Map<string, 0 | 1>;
  byEntity: Map<string, 0 | 1>;
  /** When the latest outcome was recorded (epoch ms; -Infinity when none carries a time). */
  latest: number;
}

/**
 * Indexes outcomes (in recording order, so the latest per id wins and a corrected label replaces an earlier
 * one). Entity outcomes recorded for another entity field than `entityField` are left out.
 */
export async function indexOutcomes(
  outcomes: AsyncIterable<OutcomeRecord> | Iterable<OutcomeRecord>,
  entityField?: string,
): Promise<OutcomeIndex> {
  const byRequest = new Map<string, 0 | 1>();
  const byEntity = new Map<string, 0 | 1>();
  let latest = Number.NEGATIVE_INFINITY;
  for await (const o of outcomes) {
    const t = o.time === undefined ? Number.NaN : typeof o.time === 'number' ? o.time : Date.parse(o.time);
    if (t > latest) latest = t;
    if (o.request_id !== undefined) byRequest.set(o.request_id, o.outcome);
    else if (
      o.entity_id !== undefined &&
      (o.entity_field === undefined || entityField === undefined || o.entity_field === entityField)
    )
      byEntity.set(String(o.entity_id), o.outcome);
  }
  return { byRequest, byEntity, latest };
}

/** Options of {@link buildWindow}. */
export interface BuildWindowOptions {
  outcomes?: OutcomeIndex;
  /** Input field holding the entity id outcomes may be attached by (e.g. Student_ID). */
  entityField?: string;
}

/**
 * The input fields a window needs, each parsed with the training schema's rules (the profile's input schema:
 * booleans, dates, integers exactly as in training; a value invalid for it counts as invalid and missing), or
 * plainly (numbers / text) for profiles without a schema; plus the entity id field when outcomes use it.
 */
export function windowFields(ref: WindowFieldsSource, entityField?: string): ColumnField[] {
  const fields: ColumnField[] = ref.features.map((f) => {
    const numeric = f.type === 'numeric';
    if (ref.inputSchema) {
      const spec = columnSpec(ref.inputSchema, f.name);
      const parser = spec ? compileValueParser(spec) : null;
      // a feature the schema lacks, or types differently than the profile: always missing, never invalid
      if (!parser || parser.numeric !== numeric)
        return { name: f.name, numeric, nullable: true, parse: () => (numeric ? Number.NaN : null) };
      return {
        name: f.name,
        numeric,
        nullable: parser.nullable,
        parse: parser.parseValue,
        ...(parser.parseNumber ? { parseNumber: parser.parseNumber } : {}),
        ...(parser.numberRange ? { numberRange: parser.numberRange } : {}),
      };
    }
    return numeric
      ? {
          name: f.name,
          numeric,
          nullable: true,
          parse: plainNumber,
          parseNumber: finiteNumber,
          numberRange: ANY_NUMBER,
        }
      : { name: f.name, numeric, nullable: true, parse: plainText };
  });
  // an entity field that is also a feature is read once, as the feature (see entityIds)
  if (entityField !== undefined && !fields.some((f) => f.name === entityField))
    fields.push({
      name: entityField,
      numeric: false,
      nullable: true,
      parse: (v) => (v === undefined || v === null ? null : String(v)),
    });
  return fields;
}

const plainNumber = (v: unknown): number | undefined => {
  if (v === null || v === undefined || v === '') return Number.NaN;
  const x = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(x) ? x : undefined;
};
const ANY_NUMBER = { min: Number.NEGATIVE_INFINITY, max: Number.POSITIVE_INFINITY, integer: false };
const finiteNumber = (v: number): number | undefined => (Number.isFinite(v) ? v : undefined);
const plainText = (v: unknown): string | null =>
  v !== null && v !== undefined && v !== '' ? String(v) : null;

/** What {@link windowFields} needs of a reference: its features' names and types, its input schema. */
export interface WindowFieldsSource {
  features: ReadonlyArray<{ name: string; type: 'numeric' | 'categorical' }>;
  inputSchema: DatasetSchema | null;
}

/** {@link windowFields} of plain data (how a worker thread of the columnar read rebuilds the fields). */
export function windowFieldsOf(args: { source: WindowFieldsSource; entityField?: string }): ColumnField[] {
  return windowFields(args.source, args.entityField);
}

/** Options of {@link readWindowColumns}. */
export interface ReadColumnsOptions extends BuildWindowOptions {
  query: PredictionQuery;
}

/**
 * Reads the logged predictions of a query as columns of the reference's features: straight from the store's
 * columnar read when it has one (local segments), else record by record with the same parsers.
 */
export async function readWindowColumns(
  source: PredictionSource,
  ref: PreparedReference,
  options: ReadColumnsOptions,
): Promise<PredictionColumns> {
  const fields = windowFields(ref, options.entityField);
  const fieldsSource: WindowFieldsSource = {
    features: ref.features.map((f) => ({ name: f.name, type: f.type })),
    inputSchema: ref.inputSchema,
  };
  const read = {
    requestIds: (options.outcomes?.byRequest.size ?? 0) > 0,
    fieldsRecipe: {
      module: import.meta.url,
      exportName: 'windowFieldsOf',
      args: {
        source: fieldsSource,
        ...(options.entityField !== undefined ? { entityField: options.entityField } : {}),
      },
    },
  };
  if (source.predictionColumns) return source.predictionColumns(options.query, fields, read);
  return columnsOfRecords(source.predictions(options.query), fields, read);
}

/** Columns of records already in memory (see {@link readWindowColumns}). */
export function columnsOf(
  ref: PreparedReference,
  records: readonly PredictionRecord[],
  options: BuildWindowOptions = {},
): PredictionColumns {
  const builder = new ColumnsBuilder(windowFields(ref, options.entityField), {
    requestIds: (options.outcomes?.byRequest.size ?? 0) > 0,
  });
  for (const r of records) {
    if (r.refused) builder.addRecord({ ...r, probability: null });
    else builder.addRecord(r);
  }
  return builder.finish();
}

/** The first index of the ascending `rows` at or after `row`. */
function lowerBound(rows: readonly number[], row: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rows[mid]! < row) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The window of rows [from, to) of `cols`: rows without a finite probability are refused (counted by data
 * quality, never scored), outcomes are joined by request id or by the entity id field. Columns are views, not
 * copies, when no row of the range was refused.
 */
export function windowFromColumns(
  ref: PreparedReference,
  cols: PredictionColumns,
  from = 0,
  to = cols.n,
  options: BuildWindowOptions = {},
): WindowData {
  const p = cols.probability;
  let keep: Int32Array | null = null;
  let n = to - from;
  for (let i = from; i < to; i++)
    if (!Number.isFinite(p[i]!)) {
      keep = new Int32Array(to - from);
      n = 0;
      for (let k = from; k < to; k++) if (Number.isFinite(p[k]!)) keep[n++] = k;
      keep = keep.slice(0, n);
      break;
    }
  const numericOf = (a: Float64Array) => {
    if (keep === null) return a.subarray(from, to);
    const out = new Float64Array(n);
    for (let k = 0; k < n; k++) out[k] = a[keep[k]!]!;
    return out;
  };
  const textOf = (a: ReadonlyArray<string | null>) => {
    if (keep === null) return a.slice(from, to);
    const out = new Array<string | null>(n);
    for (let k = 0; k < n; k++) out[k] = a[keep[k]!]!;
    return out;
  };
  const numeric = new Map<string, Float64Array>();
  const categorical = new Map<string, ReadonlyArray<string | null>>();
  const invalid = new Map<string, number>();
  const kept = keep;
  for (const f of ref.features) {
    const col = cols.columns.get(f.name)!;
    if (f.type === 'numeric') numeric.set(f.name, numericOf(col as Float64Array));
    else categorical.set(f.name, textOf(col as ReadonlyArray<string | null>));
    const rows = cols.invalid.get(f.name) ?? [];
    let count = 0;
    for (let k = lowerBound(rows, from); k < rows.length && rows[k]! < to; k++)
      if (kept === null || Number.isFinite(p[rows[k]!]!)) count++;
    invalid.set(f.name, count);
  }
  const scores = numericOf(p).slice();
  const outcomes = new Float64Array(n).fill(Number.NaN);
  const { outcomes: index, entityField } = options;
  if (index && (index.byRequest.size > 0 || index.byEntity.size > 0)) {
    const ids = cols.requestIds;
    const entity = entityField !== undefined ? entityIds(cols.columns.get(entityField)) : undefined;
    for (let k = 0; k < n; k++) {
      const row = kept === null ? from + k : kept[k]!;
      let y = ids !== null ? index.byRequest.get(ids[row]!) : undefined;
      if (y === undefined && entity !== undefined) {
        const id = entity(row);
        if (id !== null && id !== undefined) y = index.byEntity.get(id);
      }
      if (y !== undefined) outcomes[k] = y;
    }
  }
  return { n, numeric, categorical, scores, outcomes, refused: to - from - n, invalid };
}

/** The entity id of a row, as text (a numeric feature's finite values as String() gives them). */
function entityIds(
  col: Float64Array | ReadonlyArray<string | null> | undefined,
): ((row: number) => string | null | undefined) | undefined {
  if (col === undefined) return undefined;
  if (col instanceof Float64Array) return (row) => (Number.isFinite(col[row]!) ? String(col[row]) : null);
  return (row) => col[row];
}

/** The rows of `cols` whose indices are listed (ascending), as columns of their own. */
export function selectRows(cols: PredictionColumns, rows: ArrayLike<number>): PredictionColumns {
  const n = rows.length;
  const gather = (a: Float64Array) => {
    const out = new Float64Array(n);
    for (let k = 0; k < n; k++) out[k] = a[rows[k]!]!;
    return out;
  };
  const columns = new Map<string, Float64Array | Array<string | null>>();
  for (const [name, col] of cols.columns) {
    if (col instanceof Float64Array) columns.set(name, gather(col));
    else
      columns.set(
        name,
        Array.from({ length: n }, (_, k) => col[rows[k]!] ?? null),
      );
  }
  const position = new Map<number, number>();
  for (let k = 0; k < n; k++) position.set(rows[k]!, k);
  const invalid = new Map<string, number[]>();
  for (const [name, list] of cols.invalid)
    invalid.set(
      name,
      list.flatMap((row) => (position.has(row) ? [position.get(row)!] : [])),
    );
  return {
    n,
    time: gather(cols.time),
    probability: gather(cols.probability),
    requestIds: cols.requestIds ? Array.from({ length: n }, (_, k) => cols.requestIds![rows[k]!]!) : null,
    columns,
    invalid,
  };
}

/** Columns of a window of records for the reference's features (see {@link windowFromColumns}). */
export function buildWindow(
  ref: PreparedReference,
  records: readonly PredictionRecord[],
  options: BuildWindowOptions = {},
): WindowData {
  return windowFromColumns(ref, columnsOf(ref, records, options), 0, records.length, options);
}
