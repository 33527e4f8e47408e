import type { PredictionRecord } from '../port.js';

/**
 * The local log's compact form of a single-record prediction whose body a record scanner read: the values without
 * their keys. A segment holds, besides record and batch lines, shape lines
 *
 *   {"shape":{"id":N,"model_name":...,"model_version":...,"route":...,"fallback":...,"keys":["k1",...,"kn"]}}
 *
 * and rows that refer to a shape of the same segment by its id, each a JSON array
 *
 *   [N,"<request_id>",<time, epoch ms>,<probability>,<label>,v1,...,vn]
 *
 * which stands for the record `{request_id, time: <ISO 8601 of the ms>, model_name, model_version,
 * inputs: {k1: v1, ..., kn: vn}, probability, label, fallback, route}`; the values are the request's own JSON
 * text, so they read back as the request's fields did (the scanner takes no repeated keys, escapes or nested
 * values). Why: the keys were three quarters of a logged request's bytes, and the kernel's copy of fresh
 * page-cache pages, paid per byte, was most of what logging cost the server. A shape line precedes its rows in
 * every segment (the writer repeats the shapes at the start of each segment), so each segment reads on its own;
 * a row whose shape is unknown (its shape line lost with a failed write) is skipped, as a torn line is. Ids are
 * per segment: readers keep a {@link ShapeTable} per file.
 */
export interface LogShape {
  id: number;
  model_name: string;
  model_version: string | null;
  route: string;
  fallback: boolean;
  keys: string[];
}

/** The shapes of one segment (or log file) by id, as its shape lines defined them so far. */
export type ShapeTable = Map<number, LogShape>;

/** Fixed items of a compact row before its values: shape, request id, time, probability, label. */
export const ROW_HEAD = 5;

/** Whether a compact row's time is one: integer epoch ms that a Date holds. */
export const isRowTime = (t: unknown): t is number =>
  typeof t === 'number' && Number.isInteger(t) && Math.abs(t) <= 8.64e15;

/** The shape line of a shape (with its newline). */
export function shapeLine(shape: LogShape): string {
  const { id, model_name, model_version, route, fallback, keys } = shape;
  return `${JSON.stringify({ shape: { id, model_name, model_version, route, fallback, keys } })}\n`;
}

/** The shape a parsed shape line defines, or null when it is not a well-formed one. */
export function shapeOfLine(value: unknown): LogShape | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const s = (value as { shape?: unknown }).shape;
  if (s === null || typeof s !== 'object') return null;
  const { id, model_name, model_version, route, fallback, keys } = s as Record<string, unknown>;
  const ok =
    Number.isSafeInteger(id) &&
    typeof model_name === 'string' &&
    (model_version === null || typeof model_version === 'string') &&
    typeof route === 'string' &&
    typeof fallback === 'boolean' &&
    Array.isArray(keys) &&
    keys.every((k) => typeof k === 'string');
  if (!ok) return null;
  return {
    id: id as number,
    model_name,
    model_version: model_version as string | null,
    route,
    fallback,
    keys: keys as string[],
  };
}

/** Whether a parsed line is a shape line (well-formed or not): a line with a top-level `shape` key. */
export function isShapeLine(value: object): boolean {
  return !Array.isArray(value) && 'shape' in value;
}

/**
 * The record a compact row stands for, or null when it is not one this table can read (unknown shape, wrong
 * arity, a request id that is not a string or a time that is not a number).
 */
export function compactRecord(row: readonly unknown[], shapes: ShapeTable): PredictionRecord | null {
  const [id, request_id, time, probability, label] = row;
  const shape = typeof id === 'number' ? shapes.get(id) : undefined;
  if (shape === undefined || row.length !== ROW_HEAD + shape.keys.length) return null;
  if (typeof request_id !== 'string' || !isRowTime(time)) return null;
  const inputs: Record<string, unknown> = {};
  shape.keys.forEach((key, i) => {
    // as JSON.parse makes it: an own property, even for "__proto__" (a hand-made shape; scanners refuse it)
    if (key === '__proto__')
      Object.defineProperty(inputs, key, {
        value: row[ROW_HEAD + i],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else inputs[key] = row[ROW_HEAD + i];
  });
  return {
    request_id,
    time: new Date(time).toISOString(),
    model_name: shape.model_name,
    model_version: shape.model_version,
    inputs,
    probability: typeof probability === 'number' ? probability : Number.NaN,
    label: label === 1 ? 1 : 0,
    fallback: shape.fallback,
    route: shape.route,
  };
}

/**
 * Reads a parsed line of the compact form with a segment's shapes: a shape line is added to `shapes` (no
 * records), a row gives its record (none when unreadable). Returns null for any other line (a record or batch
 * line), which the caller reads as before.
 */
export function compactLineRecords(value: unknown, shapes: ShapeTable): PredictionRecord[] | null {
  if (Array.isArray(value)) {
    const r = compactRecord(value, shapes);
    return r === null ? [] : [r];
  }
  if (value === null || typeof value !== 'object' || !isShapeLine(value)) return null;
  const shape = shapeOfLine(value);
  if (shape !== null) shapes.set(shape.id, shape);
  return [];
}
