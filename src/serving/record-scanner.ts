import type { ColumnSpec, DatasetSchema } from '../data/schema.js';
import { DEFAULT_FALSE_VALUES, DEFAULT_TRUE_VALUES, isRequiredInput } from '../data/schema.js';
import { NA_CATEGORY } from '../features/spec.js';
import { type FittedColumn, type FittedNumericColumn, toBoolean } from '../features/transform.js';
import type { RecordFields } from './prediction-sink/port.js';

/**
 * The fast lane's reader of one JSON record straight from the request bytes into the model's feature row: the
 * same result as `JSON.parse`, the record validator and the record encoder together, without the string, the
 * object or the string-keyed lookups. It takes only the plain case (see {@link compileRecordScanner}) and
 * declines everything else, which the caller then sends down the usual path.
 */
export interface RecordScanner {
  /**
   * Writes the record in `raw` (a JSON object in UTF-8) into `out` and returns true, exactly as the validator
   * accepting `JSON.parse(raw)` and the encoder writing it would; or returns false, leaving `out` untouched,
   * when the body is not one this scanner reads (the caller then takes the usual path, which decides).
   */
  scan(raw: Uint8Array, out: Float64Array): boolean;
  /**
   * Where the fields of the record `scan` accepted last lie in its bytes (reused for every record; `count` is -1
   * after a declined one): the prediction log writes the values without their keys from it.
   */
  readonly fields: RecordFields;
}

/** How a key's value is validated (as record-validator.ts's compileField, for a scored column). */
const Check = {
  None: 0,
  Number: 1,
  Boolean: 2,
  Categorical: 3,
  /** date columns: only null is read here; any other value declines. */
  NullOnly: 4,
} as const;
type Check = (typeof Check)[keyof typeof Check];

/** How a key's value is encoded (as compiled-encoder.ts, for a column of the transform). */
const Encode = { None: 0, Numeric: 1, Boolean: 2, OneHot: 3 } as const;
type Encode = (typeof Encode)[keyof typeof Encode];

/** Value token kinds. */
const Tok = { Number: 0, String: 1, True: 2, False: 3, Null: 4 } as const;
type Tok = (typeof Tok)[keyof typeof Tok];

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const TWO_53 = 9007199254740992;
// 1e0..1e22 are exact doubles: m * 10^e and m / 10^e for an integer m < 2^53 are then correctly rounded
// (Clinger's fast path), so they equal what JSON.parse reads
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/** One known field of the record. */
interface Slot {
  key: Uint8Array;
  check: Check;
  required: boolean;
  min: number;
  max: number;
  integer: boolean;
  /** Boolean spellings the validator accepts (lower-case). */
  spellings: ReadonlySet<string>;
  /** Categorical values the validator accepts, or null for any. */
  allowed: Uint8Array[] | null;
  allowedSet: ReadonlySet<string> | null;
  encode: Encode;
  column: FittedColumn | null;
  /** A numeric column, validated and encoded as a number. */
  plainNumber: boolean;
  /** One-hot: the categories as bytes (a repeated one kept at its last position only), and their positions. */
  categories: Uint8Array[];
  categoryAt: number[];
  categoryIndex: ReadonlyMap<string, number>;
  /** One-hot: the position an unseen category takes (the "other" output), or -1. */
  otherAt: number;
  /** One-hot: the position of a missing value (NA_CATEGORY's, else otherAt). */
  naAt: number;
}

const ascii = (s: string) => Buffer.from(s, 'latin1');
const isPlainAscii = (s: string) => /^[\x20-\x7e]*$/.test(s) && !s.includes('"') && !s.includes('\\');

/** The byte strings of `list` that could appear unescaped in plain ASCII JSON, with their positions (last kept). */
function byteList(list: readonly string[]): { bytes: Uint8Array[]; at: number[] } {
  const bytes: Uint8Array[] = [];
  const at: number[] = [];
  list.forEach((s, j) => {
    if (list.lastIndexOf(s) === j && isPlainAscii(s)) {
      bytes.push(ascii(s));
      at.push(j);
    }
  });
  return { bytes, at };
}

function checkOf(spec: ColumnSpec | undefined): Check {
  if (spec === undefined || spec.role !== 'feature') return Check.None;
  switch (spec.type) {
    case 'numeric':
    case 'integer':
      return Check.Number;
    case 'boolean':
      return Check.Boolean;
    case 'date':
      return Check.NullOnly;
    default:
      return Check.Categorical;
  }
}

const isNum = (x: unknown): x is number => typeof x === 'number';

/** The slot of one schema column, or null when this column cannot be read by a scanner. */
function slotOf(spec: ColumnSpec, column: FittedColumn | null): Slot | null {
  const check = checkOf(spec);
  if (check === Check.Number) {
    if ((spec.min !== undefined && !isNum(spec.min)) || (spec.max !== undefined && !isNum(spec.max)))
      return null;
  }
  let encode: Encode = Encode.None;
  let categories: Uint8Array[] = [];
  let categoryAt: number[] = [];
  let categoryIndex = new Map<string, number>();
  let otherAt = -1;
  let naAt = -1;
  if (column !== null) {
    if (column.kind === 'numeric' || column.kind === 'boolean') {
      if (![column.center, column.scale].every(isNum) || !(column.impute === null || isNum(column.impute)))
        return null;
      encode = column.kind === 'numeric' ? Encode.Numeric : Encode.Boolean;
    } else if (column.kind === 'categorical' && column.encoding === 'onehot') {
      if (!column.categories.every((k) => typeof k === 'string')) return null;
      encode = Encode.OneHot;
      ({ bytes: categories, at: categoryAt } = byteList(column.categories));
      categoryIndex = new Map(column.categories.map((k, j) => [k, j]));
      otherAt = column.other ? column.categories.length : -1;
      naAt = categoryIndex.get(NA_CATEGORY) ?? otherAt;
    } else return null;
  }
  const allowedList = check === Check.Categorical && spec.allowed ? spec.allowed : null;
  return {
    key: ascii(spec.name),
    check,
    required: isRequiredInput(spec),
    min: spec.min ?? Number.NEGATIVE_INFINITY,
    max: spec.max ?? Number.POSITIVE_INFINITY,
    integer: spec.type === 'integer',
    spellings: new Set(
      [...(spec.trueValues ?? DEFAULT_TRUE_VALUES), ...(spec.falseValues ?? DEFAULT_FALSE_VALUES)].map((s) =>
        s.toLowerCase(),
      ),
    ),
    allowed: allowedList === null ? null : byteList(allowedList).bytes,
    allowedSet: allowedList === null ? null : new Set(allowedList),
    encode,
    column,
    plainNumber: check === Check.Number && (encode === Encode.Numeric || encode === Encode.None),
    categories,
    categoryAt,
    categoryIndex,
    otherAt,
    naAt,
  };
}

/**
 * A scanner for records of `schema` encoded by the fitted `columns`, or null when this model is not one a
 * scanner reads (no schema, feature steps, date or hashed columns, names that are not plain ASCII or are
 * repeated, `__proto__`, `features`, or a name Object.prototype has).
 *
 * What it reads: one JSON object with JSON whitespace anywhere between tokens; keys of the schema (each once,
 * in any order, fastest in schema order) without escapes; values that are numbers, `true`, `false`, `null` or
 * strings of printable ASCII without escapes. A numeric column takes numbers and null, a boolean column
 * true/false/0/1/null or its spellings, a categorical column strings, numbers and null; ids and other unscored
 * columns any of these. Anything else (an unknown or repeated key, an escape, non-ASCII, a nested value, a
 * value the validator refuses, a missing required field, a string in a numeric column, malformed JSON)
 * declines.
 */
export function compileRecordScanner(
  schema: DatasetSchema | null,
  columns: readonly FittedColumn[],
): RecordScanner | null {
  if (schema === null) return null;
  const names = schema.columns.map((c) => c.name);
  const ok = (name: unknown) =>
    typeof name === 'string' &&
    isPlainAscii(name) &&
    name !== '__proto__' &&
    name !== 'features' &&
    !(name in Object.prototype);
  if (!names.every(ok) || new Set(names).size !== names.length) return null;
  const columnNames = columns.map((c) => c.name);
  if (!columnNames.every(ok) || new Set(columnNames).size !== columnNames.length) return null;
  const byName = new Map(columns.map((c) => [c.name, c]));
  const slots: Slot[] = [];
  for (const spec of schema.columns) {
    const slot = slotOf(spec, byName.get(spec.name) ?? null);
    if (slot === null) return null;
    slots.push(slot);
  }
  // a transform column the schema does not know is always absent (its key would be refused): encoded as missing
  for (const c of columns) {
    if (names.includes(c.name)) continue;
    const slot = slotOf({ name: c.name, type: 'id', role: 'ignore' }, c);
    if (slot === null) return null;
    slot.key = new Uint8Array(0); // never matched: an empty key is no column name here
    slots.push(slot);
  }
  const order = columns.map((c) => slots.findIndex((s) => s.column === c));
  return createScanner(slots, order);
}

/** The scanner over its slots (the per-request state is reused: scanning is synchronous). */
function createScanner(slots: readonly Slot[], encoded: readonly number[]): RecordScanner {
  const n = slots.length;
  const seen = new Float64Array(n);
  const filled = new Float64Array(n);
  const num = new Float64Array(n);
  const cat = new Int32Array(n);
  const required = slots.flatMap((s, k) => (s.required ? [k] : []));
  const fields: RecordFields = {
    raw: null,
    count: -1,
    slot: new Int32Array(n),
    layout: 0,
    start: new Int32Array(n),
    end: new Int32Array(n),
    keys: slots.map((s) => Buffer.from(s.key).toString('latin1')),
  };
  let gen = 0;
  let firstGuess = 0;
  // the last number token read by readNumber (a closure variable, not an object per token)
  let numberValue = 0;

  /** The end of the JSON number starting at `i`, its value left in numberValue; -1 when it is not one. */
  const readNumber = (raw: Uint8Array, i: number, end: number): number => {
    const start = i;
    const neg = raw[i] === 0x2d;
    if (neg) i++;
    if (i >= end) return -1;
    let d = raw[i]! - 0x30;
    let m = d;
    if (d === 0) i++;
    else if (d > 0 && d <= 9) for (i++; i < end && (d = raw[i]! - 0x30) >= 0 && d <= 9; i++) m = m * 10 + d;
    else return -1;
    let e = 0;
    if (i < end && raw[i] === 0x2e) {
      const from = ++i;
      for (; i < end && (d = raw[i]! - 0x30) >= 0 && d <= 9; i++) m = m * 10 + d;
      if (i === from) return -1;
      e = from - i;
    }
    if (i < end && (raw[i]! | 0x20) === 0x65) {
      i++;
      const sign = raw[i] === 0x2d ? -1 : 1;
      if (raw[i] === 0x2d || raw[i] === 0x2b) i++;
      const from = i;
      let x = 0;
      for (; i < end && (d = raw[i]! - 0x30) >= 0 && d <= 9; i++) if (x < 1e6) x = x * 10 + d;
      if (i === from) return -1;
      e += sign * x;
    }
    // m grew digit by digit, so it is exact when it ends below 2^53 (every step was then below it too)
    if (m === 0) numberValue = neg ? -0 : 0;
    else if (m < TWO_53 && e >= -22 && e <= 22) {
      const x = e >= 0 ? m * POW10[e]! : m / POW10[-e]!;
      numberValue = neg ? -x : x;
    } else numberValue = Number(latin1(raw, start, i));
    return i;
  };

  /** The slot whose key is raw[a..b), or -1. */
  const slotOfKey = (raw: Uint8Array, a: number, b: number): number => {
    for (let k = 0; k < n; k++) {
      const s = slots[k]!;
      if (s.key.length === b - a && b > a && bytesEqual(raw, a, s.key)) return k;
    }
    return -1;
  };

  /** Validates and stages value token `tok` (number in numberValue, string raw[a..b)) of slot k; false: decline. */
  const take = (k: number, tok: Tok, raw: Uint8Array, a: number, b: number): boolean => {
    const s = slots[k]!;
    if (tok === Tok.Null) {
      // the validator passes null in any column (a required one is caught at the end); the encoder's missing value
      num[k] = Number.NaN;
      cat[k] = s.naAt;
      return true;
    }
    filled[k] = gen;
    switch (s.check) {
      case Check.Number: {
        if (tok !== Tok.Number) return false;
        const x = numberValue;
        if (!(x - x === 0 && x >= s.min && x <= s.max && (!s.integer || Number.isInteger(x)))) return false;
        break;
      }
      case Check.Boolean:
        if (tok === Tok.Number && numberValue !== 0 && numberValue !== 1) return false;
        if (tok === Tok.String) {
          const t = latin1(raw, a, b).trim();
          if (t !== '' && !s.spellings.has(t.toLowerCase())) return false;
        }
        break;
      case Check.Categorical:
        if (tok === Tok.True || tok === Tok.False) return false;
        if (tok === Tok.Number && !(numberValue - numberValue === 0)) return false;
        if (s.allowed !== null) {
          if (tok === Tok.Number && !s.allowedSet!.has(String(numberValue))) return false;
          if (tok === Tok.String && b > a && indexOfBytes(raw, a, b, s.allowed) < 0) return false;
        }
        break;
      case Check.NullOnly:
        return false;
    }
    if (tok === Tok.String && b === a) filled[k] = 0;
    return stage(s, k, tok, raw, a, b);
  };

  /** Stages the encoder's reading of a non-null value of slot k; false when this scanner does not read it. */
  const stage = (s: Slot, k: number, tok: Tok, raw: Uint8Array, a: number, b: number): boolean => {
    switch (s.encode) {
      case Encode.None:
        return true;
      case Encode.Numeric:
        if (tok === Tok.String) return false;
        num[k] = tok === Tok.Number ? numberValue : tok === Tok.True ? 1 : 0;
        return true;
      case Encode.Boolean:
        num[k] =
          tok === Tok.True
            ? 1
            : tok === Tok.False
              ? 0
              : toBoolean(
                  tok === Tok.Number ? numberValue : latin1(raw, a, b),
                  s.column as FittedNumericColumn,
                );
        return true;
      case Encode.OneHot: {
        if (tok === Tok.String) {
          if (b === a) cat[k] = s.naAt;
          else {
            const j = indexOfBytes(raw, a, b, s.categories);
            cat[k] = j < 0 ? s.otherAt : s.categoryAt[j]!;
          }
          return true;
        }
        if (tok !== Tok.Number) return false;
        cat[k] = s.categoryIndex.get(String(numberValue)) ?? s.otherAt;
        return true;
      }
    }
  };

  /** Writes the staged record into out (absent fields as missing values), column by column in transform order. */
  const write = (out: Float64Array) => {
    for (let e = 0; e < encoded.length; e++) {
      const k = encoded[e]!;
      const s = slots[k]!;
      const present = seen[k] === gen;
      const c = s.column!;
      if (c.kind === 'numeric' || c.kind === 'boolean') {
        let x = present ? num[k]! : Number.NaN;
        if (Number.isNaN(x)) x = c.impute ?? Number.NaN;
        out[c.offset] = (x - c.center) / c.scale;
      } else if (c.kind === 'categorical' && c.encoding === 'onehot') {
        // a loop, not out.fill: TypedArray fill is a runtime call, slower than a few stores
        for (let o = c.offset, last = o + c.categories.length + (c.other ? 1 : 0); o < last; o++) out[o] = 0;
        const j = present ? cat[k]! : s.naAt;
        if (j >= 0) out[c.offset + j] = 1;
      }
    }
  };

  // The hot loop of the lane: one pass over the bytes, long because it is the JSON grammar of a flat object.
  const scan = (raw: Uint8Array, out: Float64Array): boolean => {
    const end = raw.length;
    fields.raw = raw;
    fields.count = -1;
    let at = 0; // fields read (each key once, so at most n)
    if (++gen > 2 ** 52) {
      gen = 1;
      seen.fill(0);
      filled.fill(0);
    }
    let i = skipWs(raw, 0, end);
    if (raw[i] !== 0x7b) return false;
    i++;
    if (raw[i]! <= 0x20) i = skipWs(raw, i, end);
    let guess = firstGuess;
    let first = true;
    if (raw[i] === 0x7d) i++;
    else
      for (;;) {
        if (raw[i] !== QUOTE) return false;
        const a = i + 1;
        let k = -1;
        if (guess < n) {
          const s = slots[guess]!;
          const len = s.key.length;
          if (len > 0 && a + len < end && raw[a + len] === QUOTE && bytesEqual(raw, a, s.key)) k = guess;
        }
        let b: number;
        if (k >= 0) b = a + slots[k]!.key.length;
        else {
          b = stringEnd(raw, a, end);
          if (b < 0) return false;
          k = slotOfKey(raw, a, b);
          if (k < 0) return false;
        }
        if (seen[k] === gen) return false;
        seen[k] = gen;
        if (first) {
          firstGuess = k;
          first = false;
        }
        guess = k + 1;
        i = b + 1;
        if (raw[i]! <= 0x20) i = skipWs(raw, i, end);
        if (raw[i] !== 0x3a) return false;
        i++;
        if (raw[i]! <= 0x20) i = skipWs(raw, i, end);
        const c = raw[i];
        if (fields.slot[at] !== k) {
          fields.slot[at] = k;
          fields.layout++;
        }
        fields.start[at] = i;
        let tok: Tok;
        let va = 0;
        let vb = 0;
        if (c === QUOTE) {
          va = i + 1;
          vb = stringEnd(raw, va, end);
          if (vb < 0) return false;
          tok = Tok.String;
          i = vb + 1;
        } else if (c === 0x74) {
          if (!(raw[i + 1] === 0x72 && raw[i + 2] === 0x75 && raw[i + 3] === 0x65)) return false;
          tok = Tok.True;
          i += 4;
        } else if (c === 0x66) {
          if (!(raw[i + 1] === 0x61 && raw[i + 2] === 0x6c && raw[i + 3] === 0x73 && raw[i + 4] === 0x65))
            return false;
          tok = Tok.False;
          i += 5;
        } else if (c === 0x6e) {
          if (!(raw[i + 1] === 0x75 && raw[i + 2] === 0x6c && raw[i + 3] === 0x6c)) return false;
          tok = Tok.Null;
          i += 4;
        } else {
          i = readNumber(raw, i, end);
          if (i < 0) return false;
          tok = Tok.Number;
        }
        const slot = slots[k]!;
        if (tok === Tok.Number && slot.plainNumber) {
          // take()'s case of a number in a numeric column, inline: most fields of a record are this
          const x = numberValue;
          if (!(x - x === 0 && x >= slot.min && x <= slot.max && (!slot.integer || Number.isInteger(x))))
            return false;
          num[k] = x;
          filled[k] = gen;
        } else if (!take(k, tok, raw, va, vb)) return false;
        fields.end[at++] = i;
        if (raw[i]! <= 0x20) i = skipWs(raw, i, end);
        if (raw[i] === 0x2c) {
          i++;
          if (raw[i]! <= 0x20) i = skipWs(raw, i, end);
          continue;
        }
        if (raw[i] !== 0x7d) return false;
        i++;
        break;
      }
    if (skipWs(raw, i, end) !== end) return false;
    for (let r = 0; r < required.length; r++) {
      const k = required[r]!;
      if (seen[k] !== gen || filled[k] !== gen) return false;
    }
    write(out);
    fields.count = at;
    return true;
  };
  return { scan, fields };
}

/** The first index from `i` that is not JSON whitespace. */
function skipWs(raw: Uint8Array, i: number, end: number): number {
  let b: number;
  while (i < end && ((b = raw[i]!) === 0x20 || b === 0x0a || b === 0x0d || b === 0x09)) i++;
  return i;
}

/** The index of the quote closing the string whose text starts at `a`; -1 for an escape, a control or non-ASCII byte. */
function stringEnd(raw: Uint8Array, a: number, end: number): number {
  for (let i = a; i < end; i++) {
    const b = raw[i]!;
    if (b === QUOTE) return i;
    if (b === BACKSLASH || b < 0x20 || b >= 0x80) return -1;
  }
  return -1;
}

/** True when raw holds `key` at `a`. */
function bytesEqual(raw: Uint8Array, a: number, key: Uint8Array): boolean {
  for (let j = 0; j < key.length; j++) if (raw[a + j] !== key[j]) return false;
  return true;
}

/** The index in `list` of the bytes raw[a..b), or -1. */
function indexOfBytes(raw: Uint8Array, a: number, b: number, list: readonly Uint8Array[]): number {
  for (let j = 0; j < list.length; j++) {
    const s = list[j]!;
    if (s.length === b - a && bytesEqual(raw, a, s)) return j;
  }
  return -1;
}

/** raw[a..b) as a string (the bytes are ASCII: the string JSON.parse would give). */
function latin1(raw: Uint8Array, a: number, b: number): string {
  return Buffer.from(raw.buffer, raw.byteOffset + a, b - a).toString('latin1');
}
