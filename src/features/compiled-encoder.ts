import type { RawRecord } from '../data/table.js';
import {
  categoryOf,
  createRecordEncoder,
  type FittedColumn,
  type FittedNumericColumn,
  type FittedOneHotColumn,
  type FittedTransform,
  type RecordEncoder,
  toBoolean,
  toNumber,
} from './transform.js';

/** Most one-hot outputs cleared by single writes in the generated code; a wider column calls `fill`. */
const INLINE_CLEAR = 16;

/**
 * The JavaScript text of a number taken from a fitted transform (bundle JSON): only a real number passes, so no
 * text from a bundle ever reaches the generated code except through JSON.stringify.
 */
export function numberLiteral(x: unknown): string {
  if (typeof x !== 'number') throw new TypeError(`expected a number, got ${typeof x}`);
  if (Number.isNaN(x)) return 'NaN';
  if (x === Number.POSITIVE_INFINITY) return 'Infinity';
  if (x === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (Object.is(x, -0)) return '-0';
  return `(${String(x)})`;
}

const nameLiteral = (x: unknown): string => {
  if (typeof x !== 'string') throw new TypeError(`expected a column name, got ${typeof x}`);
  return JSON.stringify(x);
};

const indexLiteral = (x: unknown): string => {
  if (!Number.isInteger(x) || (x as number) < 0) throw new TypeError(`expected an output index, got ${x}`);
  return String(x);
};

/** The statements encoding one numeric or boolean column; boolean spellings go to a helper. */
function numericSource(c: FittedNumericColumn, k: number): string {
  const read =
    c.kind === 'numeric'
      ? 'typeof v === "number" ? v : toNumber(v)'
      : `typeof v === "boolean" ? (v ? 1 : 0) : toBoolean(v, columns[${k}])`;
  const fill = c.impute === null || c.impute === undefined ? 'NaN' : numberLiteral(c.impute);
  const scaled =
    Object.is(c.center, 0) && c.scale === 1
      ? 'x'
      : `(x - ${numberLiteral(c.center)}) / ${numberLiteral(c.scale)}`;
  return [
    `v = r[${nameLiteral(c.name)}];`,
    `x = ${read};`,
    `if (x !== x) x = ${fill};`,
    `out[${indexLiteral(c.offset)}] = ${scaled};`,
  ].join('\n');
}

/** The statements encoding one one-hot column: clear its outputs, then a switch over its categories. */
function oneHotSource(c: FittedOneHotColumn): string {
  const n = c.categories.length + (c.other ? 1 : 0);
  const at = (j: number) => indexLiteral(c.offset + j);
  const clear =
    n <= INLINE_CLEAR
      ? Array.from({ length: n }, (_, j) => `out[${at(j)}] = 0;`).join(' ')
      : `out.fill(0, ${at(0)}, ${at(n)});`;
  const cases: string[] = [];
  c.categories.forEach((k, j) => {
    if (typeof k !== 'string') throw new TypeError(`column ${c.name}: a category is not a string`);
    // a repeated category takes its last position, as the interpreted encoder's Map does
    if (c.categories.lastIndexOf(k) === j) cases.push(`case ${JSON.stringify(k)}: out[${at(j)}] = 1; break;`);
  });
  if (c.other) cases.push(`default: out[${at(c.categories.length)}] = 1;`);
  return [
    `v = r[${nameLiteral(c.name)}];`,
    clear,
    `switch (typeof v === "string" && v !== "" ? v : categoryOf(v)) {`,
    ...cases,
    '}',
  ].join('\n');
}

/**
 * Builds the encode function's body for the columns it writes itself (numeric, boolean, one-hot); dates and
 * hashed columns are left to `rest`, the interpreted encoder of just those columns.
 */
function encoderSource(columns: readonly FittedColumn[], hasRest: boolean): string {
  const parts = ['let v, x;'];
  columns.forEach((c, k) => {
    if (c.kind === 'numeric' || c.kind === 'boolean') parts.push(numericSource(c, k));
    else if (c.kind === 'categorical' && c.encoding === 'onehot') parts.push(oneHotSource(c));
  });
  if (hasRest) parts.push('rest(r, out);');
  return parts.join('\n');
}

/**
 * A record encoder generated once per fitted transform (as ajv and fast-json-stringify generate code per
 * schema): one straight-line function reading each field by name, with the fitted constants inlined and each
 * one-hot column a switch over its categories. Same outputs, bit for bit, as {@link createRecordEncoder} (an
 * agreement property test checks it); about half its time per record. Date and hashed columns are encoded by
 * the interpreted encoder of just those columns. Names and categories enter the code only through
 * JSON.stringify and constants only as numbers; a transform whose values are not of the documented types gets
 * the interpreted encoder.
 */
export function compileRecordEncoder(ft: FittedTransform): RecordEncoder {
  const columns = ft.columns;
  const restColumns = columns.filter(
    (c) => c.kind === 'date' || (c.kind === 'categorical' && c.encoding === 'hash'),
  );
  const rest = restColumns.length === 0 ? null : createRecordEncoder({ ...ft, columns: restColumns });
  let encode: (record: RawRecord, out: Float64Array) => void;
  try {
    const body = encoderSource(columns, rest !== null);
    encode = new Function(
      'columns',
      'toNumber',
      'toBoolean',
      'categoryOf',
      'rest',
      `"use strict";\nreturn function encode(r, out) {\n${body}\n};`,
    )(columns, toNumber, toBoolean, categoryOf, rest === null ? null : rest.encode) as typeof encode;
  } catch {
    return createRecordEncoder(ft);
  }
  return { width: ft.width, encode };
}
