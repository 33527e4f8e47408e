import type { ColumnSpec, DatasetSchema } from '../data/schema.js';
import { DEFAULT_FALSE_VALUES, DEFAULT_TRUE_VALUES, isRequiredInput } from '../data/schema.js';
import type { RawRecord } from '../data/table.js';
import { dateExpectation, parseDate, parseStrictNumber } from '../data/validate.js';
import { numberLiteral } from '../features/compiled-encoder.js';

/**
 * The per-request record check of the serving hot path, compiled once per model from its dataset schema.
 * It applies the same rules as `coerceRecords` (src/data/validate.ts), so a record `tassel predict` accepts
 * is accepted here and vice versa, but it allocates nothing for a valid record; a refused record gets one
 * message naming every problem it has (a bad value and the missing fields together, not one per round trip).
 *
 * - numeric/integer: a finite JSON number (or a numeric string) within the column's [min, max]; integers whole.
 *   NaN and Infinity are rejected (JSON cannot carry them, but 1e999 parses to Infinity).
 * - boolean: true/false, 0/1 or the column's spellings (e.g. "Yes"/"No").
 * - date: a string in the column's format or ISO YYYY-MM-DD.
 * - categorical: a string (or a finite number, read as its text); when the column lists `allowed` values only
 *   those pass, otherwise an unseen category passes and the feature transform maps it as in training.
 * - required fields (features the schema does not mark optional, MLflow's `required`) must be present and
 *   not null; a record missing any is refused with one message naming every missing field. An optional field
 *   may be absent or null and is scored as a missing value.
 * - fields the schema does not know are refused (400 naming the field) unless `allowUnknownFields`.
 *   Identifier, target and ignored columns are known to the schema and accepted (not used for scoring).
 */
export interface RecordValidator {
  /**
   * Null when `record` is acceptable, else one message naming every problem (each bad or unknown field, then
   * the missing required ones), joined by "; ".
   */
  check(record: unknown): string | null;
  /** The fields a record may carry (features and ids), for docs and /model. */
  readonly fields: readonly ColumnSpec[];
}

/** Options of {@link createRecordValidator}. */
export interface RecordValidatorOptions {
  /** Accept (and ignore) fields the schema does not know. Default false: they are refused with a 400. */
  allowUnknownFields?: boolean;
  /**
   * Generate the accepting pass as code once per schema (default true; see compileAcceptingCheck). False keeps the
   * interpreted pass (the agreement test compares the two).
   */
  compiled?: boolean;
}

type FieldCheck = (v: unknown) => string | null;

const NOT_AN_OBJECT = 'a record must be a JSON object (field name -> value)';

const show = (v: unknown): string => {
  const s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

function rangeText(spec: ColumnSpec): string {
  if (spec.min !== undefined && spec.max !== undefined) return ` in [${spec.min}, ${spec.max}]`;
  if (spec.min !== undefined) return ` >= ${spec.min}`;
  if (spec.max !== undefined) return ` <= ${spec.max}`;
  return '';
}

function compileField(spec: ColumnSpec): FieldCheck {
  const name = spec.name;
  const fail = (v: unknown, expected: string) => `field "${name}": ${show(v)} is not ${expected}`;
  switch (spec.type) {
    case 'numeric':
    case 'integer': {
      const integer = spec.type === 'integer';
      const min = spec.min ?? Number.NEGATIVE_INFINITY;
      const max = spec.max ?? Number.POSITIVE_INFINITY;
      const expected = `${integer ? 'an integer' : 'a finite number'}${rangeText(spec)}`;
      const checkNumber = (n: number, raw: unknown): string | null =>
        n >= min && n <= max && (!integer || Number.isInteger(n)) ? null : fail(raw, expected);
      return (v) => {
        if (typeof v === 'number') return Number.isFinite(v) ? checkNumber(v, v) : fail(v, expected);
        if (typeof v === 'string') {
          const t = v.trim();
          if (t === '') return null;
          const n = parseStrictNumber(t);
          return n === undefined ? fail(v, expected) : checkNumber(n, v);
        }
        return fail(v, expected);
      };
    }
    case 'boolean': {
      const trues = spec.trueValues ?? DEFAULT_TRUE_VALUES;
      const falses = spec.falseValues ?? DEFAULT_FALSE_VALUES;
      const words = new Set([...trues, ...falses].map((s) => s.toLowerCase()));
      const expected = `a boolean (true/false or ${[...trues, ...falses].join('/')})`;
      return (v) => {
        if (typeof v === 'boolean' || v === 0 || v === 1) return null;
        if (typeof v === 'string') {
          const t = v.trim();
          return t === '' || words.has(t.toLowerCase()) ? null : fail(v, expected);
        }
        return fail(v, expected);
      };
    }
    case 'date': {
      const format = spec.dateFormat ?? 'YMD';
      const expected = dateExpectation(format);
      return (v) => {
        if (typeof v !== 'string') return fail(v, expected);
        const t = v.trim();
        return t === '' || parseDate(t, format) !== undefined ? null : fail(v, expected);
      };
    }
    default: {
      const allowed = spec.allowed && spec.role !== 'target' ? new Set(spec.allowed) : null;
      const expected = allowed
        ? `one of ${spec
            .allowed!.slice(0, 12)
            .map((a) => JSON.stringify(a))
            .join(', ')}${spec.allowed!.length > 12 ? ', ...' : ''}`
        : 'a string';
      return (v) => {
        let s: string;
        if (typeof v === 'string') s = v;
        else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
        else return fail(v, expected);
        return allowed === null || s === '' || allowed.has(s) ? null : fail(v, expected);
      };
    }
  }
}

/** Compiles the validator for `schema`; with a null schema every JSON object is accepted. */
export function createRecordValidator(
  schema: DatasetSchema | null,
  options: RecordValidatorOptions = {},
): RecordValidator {
  if (!schema) {
    return {
      fields: [],
      check: (record) =>
        record !== null && typeof record === 'object' && !Array.isArray(record) ? null : NOT_AN_OBJECT,
    };
  }
  const allowUnknown = options.allowUnknownFields ?? false;
  const checks = new Map<string, FieldCheck | null>();
  const compiled: (FieldCheck | null)[] = [];
  const required: string[] = [];
  for (const spec of schema.columns) {
    // ids, the target and ignored columns are known (accepted) but never checked nor scored
    const scored = spec.role === 'feature';
    const check = scored ? compileField(spec) : null;
    checks.set(spec.name, check);
    compiled.push(check);
    if (isRequiredInput(spec)) required.push(spec.name);
  }
  const fields = schema.columns.filter((c) => c.role === 'feature' || c.role === 'id');
  const optional = schema.columns.filter((c) => c.role === 'feature' && !isRequiredInput(c));
  const optionalText =
    optional.length === 0
      ? 'every input is required'
      : `only ${optional.map((c) => c.name).join(', ')} may be absent or null`;
  const isMissing = (v: unknown) => v === undefined || v === null || v === '';
  const missingMessage = (r: RawRecord): string => {
    const names = required.filter((name) => isMissing(r[name])).map((n) => `"${n}"`);
    const one = names.length === 1;
    return `required field${one ? '' : 's'} ${names.join(', ')} ${one ? 'is' : 'are'} missing or null (${optionalText})`;
  };
  const unknownMessage = (key: string) =>
    `field "${key}" is not an input of this model (known fields: ${fields.map((f) => f.name).join(', ')})`;
  /** Every problem of a record found bad: each bad or unknown field, then the missing ones, in one message. */
  const allProblems = (r: RawRecord): string => {
    const problems: string[] = [];
    for (const key in r) {
      const check = checks.get(key);
      if (check === undefined) {
        if (!allowUnknown) problems.push(unknownMessage(key));
        continue;
      }
      const v = r[key];
      const problem = check === null || v === null ? null : check(v);
      if (problem !== null) problems.push(problem);
    }
    if (required.some((name) => isMissing(r[name]))) problems.push(missingMessage(r));
    return problems.join('; ');
  };
  if (options.compiled !== false) {
    const check = compileAcceptingCheck(schema, compiled, required, allowUnknown, allProblems);
    if (check !== null) return { fields, check };
  }
  return {
    fields,
    check(record) {
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        return NOT_AN_OBJECT;
      }
      // the happy path allocates nothing; the first problem sends the record to allProblems for the message
      const r = record as RawRecord;
      for (const key in r) {
        const check = checks.get(key);
        if (check === undefined) {
          if (allowUnknown) continue;
          return allProblems(r);
        }
        const v = r[key];
        if (check === null || v === null) continue;
        if (check(v) !== null) return allProblems(r);
      }
      for (let i = 0; i < required.length; i++) {
        if (isMissing(r[required[i]!])) return allProblems(r);
      }
      return null;
    },
  };
}

/**
 * The JavaScript condition under which value `v` (not null) of a scored column passes: the common case inline (a
 * JSON number in range, a string for a free categorical, a JSON boolean), anything else through the column's
 * interpreted check `checks[k]`. Throws when a bound is not a number (the interpreted validator then serves).
 */
function passCondition(spec: ColumnSpec, k: number): string {
  const viaCheck = `checks[${k}](v) === null`;
  switch (spec.type) {
    case 'numeric':
    case 'integer': {
      const parts = [spec.type === 'integer' ? 'Number.isInteger(v)' : 'v - v === 0'];
      if (spec.min !== undefined) parts.push(`v >= ${numberLiteral(spec.min)}`);
      if (spec.max !== undefined) parts.push(`v <= ${numberLiteral(spec.max)}`);
      return `typeof v === "number" ? ${parts.join(' && ')} : ${viaCheck}`;
    }
    case 'boolean':
      return `typeof v === "boolean" || ${viaCheck}`;
    case 'date':
      return viaCheck;
    default:
      return spec.allowed && spec.role !== 'target' ? viaCheck : `typeof v === "string" || ${viaCheck}`;
  }
}

/**
 * The validator's accepting pass generated once per schema (as ajv does): one loop over the record's keys with a
 * switch on the key (column names enter the code only through JSON.stringify), the common checks inline, then
 * the required fields read by name. It answers null exactly when the interpreted pass does; on the first problem
 * it hands the record to `allProblems` for the message. Null when the schema cannot be compiled.
 */
function compileAcceptingCheck(
  schema: DatasetSchema,
  checks: readonly (FieldCheck | null)[],
  required: readonly string[],
  allowUnknown: boolean,
  allProblems: (r: RawRecord) => string,
): ((record: unknown) => string | null) | null {
  const cases: string[] = [];
  const names = schema.columns.map((c) => c.name);
  try {
    schema.columns.forEach((spec, k) => {
      if (typeof spec.name !== 'string') throw new TypeError('a column name is not a string');
      // a repeated name is checked by its last column, as the interpreted validator's Map does
      if (names.lastIndexOf(spec.name) !== k) return;
      // parenthesised: a numeric condition is a ternary, which `||` would otherwise swallow (null then failed)
      const pass = checks[k] === null ? 'true' : `v === null || (${passCondition(spec, k)})`;
      cases.push(`case ${JSON.stringify(spec.name)}: if (!(${pass})) return allProblems(r); break;`);
    });
    const requiredChecks = required.map(
      (name) =>
        `v = r[${JSON.stringify(name)}]; if (v === undefined || v === null || v === "") return allProblems(r);`,
    );
    const source = [
      '"use strict";',
      'return function check(r) {',
      'if (r === null || typeof r !== "object" || Array.isArray(r)) return notAnObject;',
      'let v;',
      'for (const key in r) {',
      'v = r[key];',
      'switch (key) {',
      ...cases,
      allowUnknown ? 'default: break;' : 'default: return allProblems(r);',
      '}',
      '}',
      ...requiredChecks,
      'return null;',
      '};',
    ].join('\n');
    return new Function('checks', 'allProblems', 'notAnObject', source)(checks, allProblems, NOT_AN_OBJECT);
  } catch {
    return null;
  }
}
