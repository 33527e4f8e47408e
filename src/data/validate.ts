import { InputError } from '../errors.js';
import type { ColumnData, RawRecord, Table } from './table.js';
import { createTable } from './table.js';
import type { ColumnSpec, DatasetSchema } from './schema.js';
import { DEFAULT_FALSE_VALUES, DEFAULT_TRUE_VALUES } from './schema.js';

/**
 * Cell-level validation and coercion shared by every input path: CSV cells (all strings) and JSON records
 * (serving, `tassel predict`). Nothing is silently coerced: a value that does not fit its column is a
 * {@link ValidationIssue}, and the policy decides whether that fails the input, drops the row or turns the
 * cell into a missing value.
 */

/** One value that does not fit its column. */
export interface ValidationIssue {
  /** 1-based data row: 1 is the first record (for a CSV, the first row after the header). */
  row: number;
  column: string;
  /** The offending value as text (truncated to 80 characters). */
  value: string;
  /** What the column expects, e.g. "an integer in [14, 90]". */
  expected: string;
}

/** What to do with rows that have issues: reject the input, drop the row, or make the bad cells missing. */
export type ValidationPolicy = 'fail' | 'drop' | 'impute';

/** Options of {@link coerceRecords} and {@link createRowCoercer}. */
export interface CoerceOptions {
  /** Default 'fail'. With 'impute', a bad target still drops the row (a label cannot be imputed). */
  policy?: ValidationPolicy;
  /** Whether the target must be present and valid (training: yes; prediction: no). Default true. */
  requireTarget?: boolean;
  /** JSON records only: whether fields the schema does not know are allowed (ignored). Default true. */
  allowUnknownFields?: boolean;
  /** How many issues to keep (all are counted). Default 50. */
  maxIssues?: number;
  /** Expected number of rows, to size the typed columns once (a reader's estimate; growth still works). */
  expectedRows?: number;
}

/** The coerced table plus everything the caller needs to report on it. */
export interface CoerceResult {
  /** Columns of the schema except role 'ignore', in schema order; the target is kept as text. */
  table: Table;
  /** 1 = positive label, 0 = negative; null when the target is not required and absent. */
  y: Uint8Array | null;
  /** The first `maxIssues` issues. */
  issues: ValidationIssue[];
  /** Total number of issues (may exceed issues.length). */
  issueCount: number;
  /** Rows dropped by policy 'drop' (or by 'impute' for a bad target). */
  droppedRows: number;
  /** For every table row, the 0-based index of the input record it came from. */
  sourceRows: Uint32Array;
}

/** Raised when input has validation issues under policy 'fail'; the CLI exits 2, HTTP answers 400. */
export class DataValidationError extends InputError {
  readonly issues: ValidationIssue[];
  readonly issueCount: number;
  readonly source: string;

  constructor(source: string, issues: ValidationIssue[], issueCount = issues.length, shown = 20) {
    super(formatIssues(source, issues, issueCount, shown), {
      details: { issues: issues.slice(0, shown), issue_count: issueCount },
    });
    this.name = 'DataValidationError';
    this.issues = issues;
    this.issueCount = issueCount;
    this.source = source;
  }
}

/** Human-readable summary of issues: file, row (1 = first data row after the header), column, value, expectation. */
export function formatIssues(
  source: string,
  issues: ValidationIssue[],
  issueCount = issues.length,
  shown = 20,
): string {
  const lines = [
    `${source}: ${issueCount} invalid value${issueCount === 1 ? '' : 's'} (rows are data rows, 1 = first row after the header):`,
  ];
  for (const i of issues.slice(0, shown)) {
    lines.push(`  row ${i.row}, column ${i.column}: ${JSON.stringify(i.value)} (expected ${i.expected})`);
  }
  if (issueCount > Math.min(shown, issues.length))
    lines.push(`  ... and ${issueCount - Math.min(shown, issues.length)} more`);
  return lines.join('\n');
}

/** Throws DataValidationError when `result` has issues (use after coerceRecords with policy 'fail'). */
export function assertNoIssues(source: string, result: Pick<CoerceResult, 'issues' | 'issueCount'>): void {
  if (result.issueCount > 0) throw new DataValidationError(source, result.issues, result.issueCount);
}

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const MISSING_TOKENS = new Set(['', 'NA', 'N/A', 'NaN', 'nan', 'null', 'NULL', 'None']);
const ISO_DATE_RE = /^(\d{4})-(\d{1,2})-(\d{1,2})$/;
const SEP_DATE_RE = /^(\d{1,4})[/.-](\d{1,2})[/.-](\d{1,4})$/;
const MS_PER_DAY = 86_400_000;

/** Days since 1970-01-01 of a valid calendar date, or undefined. */
function epochDays(y: number, m: number, d: number): number | undefined {
  if (m < 1 || m > 12 || d < 1 || d > 31 || y < 1000 || y > 9999) return undefined;
  const t = Date.UTC(y, m - 1, d);
  const check = new Date(t);
  if (check.getUTCDate() !== d || check.getUTCMonth() !== m - 1) return undefined;
  return t / MS_PER_DAY;
}

/**
 * What a date column expects, in words: its format as the data writes it first (the course-completion data
 * writes day-first dates as DD-MM-YYYY), then the other spellings parseDate accepts.
 */
export function dateExpectation(format: 'DMY' | 'MDY' | 'YMD'): string {
  if (format === 'DMY') return 'a date DD-MM-YYYY (or DD/MM/YYYY, or YYYY-MM-DD)';
  if (format === 'MDY') return 'a date MM/DD/YYYY (or MM-DD-YYYY, or YYYY-MM-DD)';
  return 'a date YYYY-MM-DD';
}

/** Parses `s` as a date in the given field order (ISO YYYY-MM-DD always accepted); undefined if invalid. */
export function parseDate(s: string, format: 'DMY' | 'MDY' | 'YMD' = 'YMD'): number | undefined {
  const iso = ISO_DATE_RE.exec(s);
  if (iso) return epochDays(Number(iso[1]), Number(iso[2]), Number(iso[3]));
  const m = SEP_DATE_RE.exec(s);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = Number(m[2]);
  const c = Number(m[3]);
  if (format === 'DMY') return m[3]!.length === 4 ? epochDays(c, b, a) : undefined;
  if (format === 'MDY') return m[3]!.length === 4 ? epochDays(c, a, b) : undefined;
  return m[1]!.length === 4 ? epochDays(a, b, c) : undefined;
}

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16];

/** Parses a strict decimal number (no hex, no blanks, no Infinity); undefined if it is not one. */
export function parseStrictNumber(s: string): number | undefined {
  const n = s.length;
  // Fast path: up to 15 characters of [sign] digits [. digits] is exact as integer / power of ten.
  if (n === 0 || n > 15) return slowNumber(s);
  let i = 0;
  let neg = false;
  let c = s.charCodeAt(0);
  if (c === 45) {
    neg = true;
    i = 1;
  } else if (c === 43) i = 1;
  let mant = 0;
  let digits = 0;
  let frac = -1;
  for (; i < n; i++) {
    c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      mant = mant * 10 + (c - 48);
      digits++;
      if (frac >= 0) frac++;
    } else if (c === 46 && frac < 0) frac = 0;
    else return slowNumber(s);
  }
  if (digits === 0) return undefined;
  const v = frac > 0 ? mant / POW10[frac]! : mant;
  return neg ? -v : v;
}

/**
 * Fast path of {@link parseStrictNumber} on `text[start, end)` without making a string: undefined when the
 * field is not a plain decimal of up to 15 characters (the caller then falls back to the string path).
 */
export function numberAt(text: string, start: number, end: number): number | undefined {
  if (end - start > 15) return undefined;
  let i = start;
  let neg = false;
  let c = text.charCodeAt(i);
  if (c === 45) {
    neg = true;
    i++;
  } else if (c === 43) i++;
  let mant = 0;
  let digits = 0;
  let frac = -1;
  for (; i < end; i++) {
    c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      mant = mant * 10 + (c - 48);
      digits++;
      if (frac >= 0) frac++;
    } else if (c === 46 && frac < 0) frac = 0;
    else return undefined;
  }
  if (digits === 0) return undefined;
  const v = frac > 0 ? mant / POW10[frac]! : mant;
  return neg ? -v : v;
}

function slowNumber(s: string): number | undefined {
  if (!NUMBER_RE.test(s)) return undefined;
  const v = Number(s);
  return Number.isFinite(v) ? v : undefined;
}

const BAD = undefined;

/** A compiled column: parses one value and says what it expects. */
interface CompiledColumn {
  spec: ColumnSpec;
  numeric: boolean;
  nullable: boolean;
  expected: string;
  /** Parse a CSV cell: number (NaN = missing) for numeric kinds, string|null for text; undefined = invalid. */
  parseText: (s: string) => number | string | null | undefined;
  /** Parse a JSON value. */
  parseValue: (v: unknown) => number | string | null | undefined;
  /** numeric/integer only: range (and integrality) check of a parsed number; undefined = invalid. */
  check?: (v: number) => number | undefined;
  /** numeric/integer only: what `check` checks. */
  range?: NumberRange;
  /** Low-cardinality text columns: valid parses by cell text, looked up without slicing the CSV buffer. */
  cache?: RangeCache;
}

interface CacheEntry {
  key: string;
  value: number | string | null;
}

/**
 * Parsed values of a column keyed by their text, looked up by a range of the CSV buffer with no string made
 * (hash of the characters, then a length check and startsWith). Holds at most `cap` entries.
 */
class RangeCache {
  private readonly buckets = new Map<number, CacheEntry[]>();
  private size = 0;
  constructor(private readonly cap: number) {}

  private static hash(text: string, s: number, e: number): number {
    let h = e - s;
    for (let i = s; i < e; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
    return h;
  }

  get(text: string, s: number, e: number): CacheEntry | undefined {
    const bucket = this.buckets.get(RangeCache.hash(text, s, e));
    if (bucket === undefined) return undefined;
    const len = e - s;
    for (let k = 0; k < bucket.length; k++) {
      const entry = bucket[k]!;
      if (entry.key.length === len && text.startsWith(entry.key, s)) return entry;
    }
    return undefined;
  }

  set(key: string, value: number | string | null): void {
    if (this.size >= this.cap) return;
    const h = RangeCache.hash(key, 0, key.length);
    const bucket = this.buckets.get(h);
    if (bucket) bucket.push({ key, value });
    else this.buckets.set(h, [{ key, value }]);
    this.size++;
  }
}

function rangeText(spec: ColumnSpec): string {
  if (spec.min !== undefined && spec.max !== undefined) return ` in [${spec.min}, ${spec.max}]`;
  if (spec.min !== undefined) return ` >= ${spec.min}`;
  if (spec.max !== undefined) return ` <= ${spec.max}`;
  return '';
}

function listText(values: readonly string[], max = 12): string {
  const shown = values.slice(0, max).map((v) => JSON.stringify(v));
  return values.length > max
    ? `one of ${shown.join(', ')}, ... (${values.length} values)`
    : `one of ${shown.join(', ')}`;
}

function compileColumn(spec: ColumnSpec): CompiledColumn {
  const c = compileColumnParsers(spec);
  if (!c.numeric || spec.type === 'boolean' || spec.type === 'date') {
    if (spec.type !== 'id') c.cache = new RangeCache(spec.type === 'date' ? 20_000 : 2_000);
  }
  return c;
}

function compileColumnParsers(spec: ColumnSpec): CompiledColumn {
  const nullable = spec.nullable ?? spec.role !== 'target';
  const min = spec.min ?? Number.NEGATIVE_INFINITY;
  const max = spec.max ?? Number.POSITIVE_INFINITY;
  switch (spec.type) {
    case 'numeric':
    case 'integer': {
      const integer = spec.type === 'integer';
      const expected = `${integer ? 'an integer' : 'a number'}${rangeText(spec)}`;
      const check = (v: number): number | undefined =>
        v < min || v > max || (integer && !Number.isInteger(v)) ? BAD : v;
      return {
        spec,
        numeric: true,
        nullable,
        expected,
        check,
        range: { min, max, integer },
        parseText: (s) => {
          if (s.length === 0) return Number.NaN;
          const v = parseStrictNumber(s);
          if (v === undefined) return MISSING_TOKENS.has(s) ? Number.NaN : BAD;
          return check(v);
        },
        parseValue: (v) => {
          if (v === null || v === undefined) return Number.NaN;
          if (typeof v === 'number') return Number.isFinite(v) ? check(v) : BAD;
          if (typeof v === 'string') {
            const t = v.trim();
            if (t === '') return Number.NaN;
            const n = parseStrictNumber(t);
            return n === undefined ? BAD : check(n);
          }
          return BAD;
        },
      };
    }
    case 'boolean': {
      const trues = new Set((spec.trueValues ?? DEFAULT_TRUE_VALUES).map((s) => s.toLowerCase()));
      const falses = new Set((spec.falseValues ?? DEFAULT_FALSE_VALUES).map((s) => s.toLowerCase()));
      const expected = `a boolean (${[...(spec.trueValues ?? DEFAULT_TRUE_VALUES), ...(spec.falseValues ?? DEFAULT_FALSE_VALUES)].join('/')})`;
      const parseText = (s: string): number | undefined => {
        if (s === '') return Number.NaN;
        const l = s.toLowerCase();
        if (trues.has(l)) return 1;
        if (falses.has(l)) return 0;
        return MISSING_TOKENS.has(s) ? Number.NaN : BAD;
      };
      return {
        spec,
        numeric: true,
        nullable,
        expected,
        parseText,
        parseValue: (v) => {
          if (v === null || v === undefined) return Number.NaN;
          if (typeof v === 'boolean') return v ? 1 : 0;
          if (v === 0 || v === 1) return v;
          if (typeof v === 'string') return parseText(v.trim());
          return BAD;
        },
      };
    }
    case 'date': {
      const format = spec.dateFormat ?? 'YMD';
      const expected = dateExpectation(format);
      const cache = new Map<string, number | undefined>();
      const parseText = (s: string): number | undefined => {
        if (MISSING_TOKENS.has(s)) return Number.NaN;
        let v = cache.get(s);
        if (v === undefined && !cache.has(s)) {
          v = parseDate(s, format);
          if (cache.size < 100_000) cache.set(s, v);
        }
        return v;
      };
      return {
        spec,
        numeric: true,
        nullable,
        expected,
        parseText,
        parseValue: (v) => {
          if (v === null || v === undefined) return Number.NaN;
          return typeof v === 'string' ? parseText(v.trim()) : BAD;
        },
      };
    }
    default: {
      // categorical, id, and the target (kept as text)
      const allowed = spec.allowed ? new Set(spec.allowed) : null;
      const expected = allowed
        ? listText(spec.allowed!)
        : spec.type === 'id'
          ? 'an identifier'
          : 'a category';
      const parseText = (s: string): string | null | undefined => {
        if (s === '') return null;
        if (allowed && !allowed.has(s)) return BAD;
        return s;
      };
      return {
        spec,
        numeric: false,
        nullable,
        expected,
        parseText,
        parseValue: (v) => {
          if (v === null || v === undefined) return null;
          if (typeof v === 'string') return parseText(v);
          if (typeof v === 'number' && Number.isFinite(v)) return parseText(String(v));
          return BAD;
        },
      };
    }
  }
}

const clip = (s: string): string => (s.length > 80 ? `${s.slice(0, 77)}...` : s);
const show = (v: unknown): string =>
  typeof v === 'string'
    ? clip(v)
    : v === undefined
      ? ''
      : clip(typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? String(v)));

/**
 * A streaming row coercer: feed rows one at a time (CSV cells via {@link RowCoercer.addCells}, JSON records via
 * {@link RowCoercer.addRecord}) and take the typed table at the end. Growable typed arrays, no per-cell objects.
 */
export interface RowCoercer {
  /** Adds one CSV row; `cells` are in the order of the `header` given to createRowCoercer. */
  addCells(cells: string[]): void;
  /** Adds one JSON record (numbers as numbers or strings, booleans as true/false or their spellings). */
  addRecord(record: RawRecord): void;
  /**
   * Adds one unquoted CSV row given as field bounds into `text` (see csv-split's FieldsCallback); numbers are
   * parsed in place, the result is the same as addCells with the sliced fields.
   */
  addFields(text: string, bounds: Int32Array, count: number): void;
  /** Records an issue for the current row that is not about one cell (e.g. wrong number of fields). */
  rowIssue(column: string, value: string, expected: string): void;
  finish(): CoerceResult;
}

/**
 * Creates a {@link RowCoercer} for `schema`. For CSV input pass the file's `header`: schema columns absent from it
 * are treated as missing in every row (the caller decides beforehand whether that is an error).
 */
export function createRowCoercer(
  schema: DatasetSchema,
  options: CoerceOptions = {},
  header?: string[],
  precompiled?: CompiledSchema,
): RowCoercer {
  const policy = options.policy ?? 'fail';
  const requireTarget = options.requireTarget ?? true;
  const allowUnknown = options.allowUnknownFields ?? true;
  const maxIssues = options.maxIssues ?? 50;
  const { kept, compiled, known } = precompiled ?? compileSchema(schema);
  const headerIndex = kept.map((c) => (header ? header.indexOf(c.name) : -1));
  const targetPos = kept.findIndex((c) => c.name === schema.target);
  const positive = schema.positiveLabel;
  const negative = schema.negativeLabel;
  const targetExpected =
    negative === undefined
      ? `a label (positive: ${JSON.stringify(positive)})`
      : listText([positive, negative]);

  let capacity = Math.max(16, Math.min(options.expectedRows ?? 1024, 50_000_000) | 0);
  const numCols: (Float64Array | null)[] = compiled.map((c) =>
    c.numeric ? new Float64Array(capacity) : null,
  );
  const strCols: ((string | null)[] | null)[] = compiled.map((c) => (c.numeric ? null : []));
  let y = new Uint8Array(capacity);
  let src = new Uint32Array(capacity);
  let n = 0;
  let inputRow = 0;
  let targetSeen = false;
  let targetUnusable = false;
  const issues: ValidationIssue[] = [];
  let issueCount = 0;
  let dropped = 0;
  let rowBad = false;
  let rowTargetBad = false;

  const issue = (column: string, value: unknown, expected: string) => {
    issueCount++;
    rowBad = true;
    if (issues.length < maxIssues) issues.push({ row: inputRow + 1, column, value: show(value), expected });
  };

  const grow = () => {
    capacity *= 2;
    for (let j = 0; j < numCols.length; j++) {
      const old = numCols[j];
      if (old) {
        const next = new Float64Array(capacity);
        next.set(old);
        numCols[j] = next;
      }
    }
    const ny = new Uint8Array(capacity);
    ny.set(y);
    y = ny;
    const ns = new Uint32Array(capacity);
    ns.set(src);
    src = ns;
  };

  const store = (j: number, parsed: number | string | null | undefined, raw: unknown) => {
    const c = compiled[j]!;
    if (j === targetPos) {
      const label = parsed as string | null | undefined;
      let value: 0 | 1 | -1 = -1;
      if (label === positive) value = 1;
      else if (typeof label === 'string' && (negative === undefined || label === negative)) value = 0;
      if (value >= 0) {
        y[n] = value;
        targetSeen = true;
      } else if (requireTarget) {
        issue(c.spec.name, raw, label === null ? `a label (${targetExpected})` : targetExpected);
        rowTargetBad = true;
      } else {
        // Scoring does not need the label: an absent or unknown one only means y cannot be returned.
        targetUnusable = true;
      }
      strCols[j]![n] = typeof label === 'string' ? label : typeof raw === 'string' && raw !== '' ? raw : null;
      return;
    }
    if (parsed === undefined) {
      issue(c.spec.name, raw, c.expected);
      parsed = c.numeric ? Number.NaN : null;
    } else if (!c.nullable && (parsed === null || (typeof parsed === 'number' && Number.isNaN(parsed)))) {
      issue(
        c.spec.name,
        raw,
        `${c.expected} (the column ${c.spec.role === 'feature' ? 'is required and ' : ''}may not be empty or missing)`,
      );
    }
    if (c.numeric) numCols[j]![n] = parsed as number;
    else strCols[j]![n] = parsed as string | null;
  };

  // An identifier column absent from a file's header or from a record is only not echoed (ids are never
  // required of a caller); an empty id in a column that is there still breaks a non-nullable id's contract.
  const storeAbsentId = (j: number) => {
    if (compiled[j]!.numeric) numCols[j]![n] = Number.NaN;
    else strCols[j]![n] = null;
  };

  const endRow = () => {
    const keep = !rowBad || policy === 'fail' || (policy === 'impute' && !rowTargetBad);
    if (keep) {
      src[n] = inputRow;
      n++;
    } else dropped++;
    inputRow++;
    rowBad = false;
    rowTargetBad = false;
  };

  return {
    rowIssue(column, value, expected) {
      issue(column, value, expected);
      rowTargetBad = true; // a structurally broken row cannot be imputed
    },
    addCells(cells) {
      if (n === capacity) grow();
      for (let j = 0; j < compiled.length; j++) {
        const h = headerIndex[j]!;
        if (h < 0 && compiled[j]!.spec.role === 'id') {
          storeAbsentId(j);
          continue;
        }
        const raw = h >= 0 ? (cells[h] ?? '') : '';
        store(j, compiled[j]!.parseText(raw), raw);
      }
      endRow();
    },
    addFields(text, bounds, count) {
      if (n === capacity) grow();
      for (let j = 0; j < compiled.length; j++) {
        const h = headerIndex[j]!;
        const c = compiled[j]!;
        if (h < 0 && c.spec.role === 'id') {
          storeAbsentId(j);
          continue;
        }
        if (h < 0 || h >= count) {
          store(j, c.parseText(''), '');
          continue;
        }
        const s = bounds[2 * h]!;
        const e = bounds[2 * h + 1]!;
        if (c.check !== undefined) {
          if (s === e) {
            store(j, Number.NaN, '');
            continue;
          }
          const v = numberAt(text, s, e);
          if (v !== undefined) {
            const checked = c.check(v);
            if (checked !== undefined) {
              store(j, checked, '');
              continue;
            }
          }
        }
        const cache = c.cache;
        if (cache !== undefined && s !== e) {
          const hit = cache.get(text, s, e);
          if (hit !== undefined) {
            store(j, hit.value, hit.key);
            continue;
          }
          const raw = text.slice(s, e);
          const parsed = c.parseText(raw);
          if (parsed !== undefined) cache.set(raw, parsed);
          store(j, parsed, raw);
          continue;
        }
        const raw = text.slice(s, e);
        store(j, c.parseText(raw), raw);
      }
      endRow();
    },
    addRecord(record) {
      if (n === capacity) grow();
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        issue('*', record, 'a JSON object (field name -> value)');
        rowTargetBad = true;
        for (let j = 0; j < compiled.length; j++) {
          if (compiled[j]!.numeric) numCols[j]![n] = Number.NaN;
          else strCols[j]![n] = null;
        }
        if (targetPos >= 0) y[n] = 0;
        endRow();
        return;
      }
      for (let j = 0; j < compiled.length; j++) {
        const c = compiled[j]!;
        const v = record[c.spec.name];
        if (v === undefined && c.spec.role === 'id') storeAbsentId(j);
        else store(j, c.parseValue(v), v);
      }
      if (!allowUnknown) {
        for (const key of Object.keys(record))
          if (!known.has(key)) issue(key, record[key], 'no such field in the schema');
      }
      endRow();
    },
    finish() {
      const columns: Record<string, ColumnData> = {};
      const names: string[] = [];
      for (let j = 0; j < compiled.length; j++) {
        const name = compiled[j]!.spec.name;
        names.push(name);
        const num = numCols[j];
        if (num) columns[name] = num.slice(0, n);
        else {
          const s = strCols[j]!;
          s.length = n;
          columns[name] = s;
        }
      }
      const hasTarget = targetPos >= 0 && (requireTarget || (targetSeen && !targetUnusable));
      return {
        table: createTable(columns, names),
        y: hasTarget ? y.slice(0, n) : null,
        issues,
        issueCount,
        droppedRows: dropped,
        sourceRows: src.slice(0, n),
      };
    },
  };
}

/** A schema's column parsers, compiled once and reusable across many batches (see {@link createRecordCoercer}). */
export interface CompiledSchema {
  readonly kept: ColumnSpec[];
  readonly compiled: CompiledColumn[];
  readonly known: Set<string>;
}

/** Compiles the parsers of every non-ignored column of `schema`. */
export function compileSchema(schema: DatasetSchema): CompiledSchema {
  const kept = schema.columns.filter((c) => c.role !== 'ignore');
  return { kept, compiled: kept.map(compileColumn), known: new Set(schema.columns.map((c) => c.name)) };
}

/**
 * {@link coerceRecords} with the schema compiled once: for a service that validates many small batches.
 * `coerce(records)` gives exactly what coerceRecords(records, schema, options) gives.
 */
export function createRecordCoercer(
  schema: DatasetSchema,
  options: CoerceOptions = {},
): { coerce(records: readonly RawRecord[]): CoerceResult } {
  const compiled = compileSchema(schema);
  return {
    coerce(records) {
      const coercer = createRowCoercer(
        schema,
        { ...options, expectedRows: records.length },
        undefined,
        compiled,
      );
      for (const r of records) coercer.addRecord(r);
      return coercer.finish();
    },
  };
}

/**
 * Validates and coerces JSON records against `schema` with the same rules as CSV cells. Never throws for data
 * problems: it returns the issues (use {@link assertNoIssues} for policy 'fail'). Unseen categories are kept
 * (the feature transform maps them) unless the column declares `allowed` values.
 */
export function coerceRecords(
  records: readonly RawRecord[],
  schema: DatasetSchema,
  options: CoerceOptions = {},
): CoerceResult {
  const coercer = createRowCoercer(schema, { expectedRows: records.length, ...options });
  for (const r of records) coercer.addRecord(r);
  return coercer.finish();
}

/**
 * One column's JSON-value parser, exactly as {@link createRecordCoercer} applies it: `parseValue` gives a number
 * (NaN = missing) for numeric kinds (numeric, integer, boolean, date), a string or null otherwise, undefined when
 * the value is invalid; `nullable` false when a missing value breaks the column's contract.
 */
export function compileValueParser(spec: ColumnSpec): {
  numeric: boolean;
  nullable: boolean;
  parseValue: (v: unknown) => number | string | null | undefined;
  /** parseValue of a number, for numeric and integer columns (their range and integrality check). */
  parseNumber?: (v: number) => number | undefined;
  /** What parseNumber checks, for readers that check inline (given with parseNumber). */
  numberRange?: NumberRange;
} {
  const c = compileColumnParsers(spec);
  const check = c.check;
  return {
    numeric: c.numeric,
    nullable: c.nullable,
    parseValue: c.parseValue,
    ...(check ? { parseNumber: (v: number) => (Number.isFinite(v) ? check(v) : undefined) } : {}),
    ...(check && c.range ? { numberRange: c.range } : {}),
  };
}

/**
 * The values a numeric or integer column takes from a JSON number: finite, not below `min`, not above `max`,
 * an integer when `integer`.
 */
export interface NumberRange {
  min: number;
  max: number;
  integer: boolean;
}
