import type { RawRecord, Table } from '../data/table.js';
import { createFieldGrouper, type FieldGrouper } from '../features/field-groups.js';
import { type FittedTransform, transformTable } from '../features/transform.js';
import {
  type ExplainMethod,
  createModelExplainer,
  type ModelExplainer,
  type ModelExplainerOptions,
} from './explain.js';
import { sigmoid } from './gbdt/ensemble.js';
import type { Classifier } from './model.js';

/** One of the largest contributions, with the input value that produced it. */
export interface TopContribution {
  field: string;
  /** Margin (log-odds) units. */
  contribution: number;
  /**
   * The same contribution in probability: sigmoid(margin) - sigmoid(margin - contribution), how much this field
   * moved the predicted probability given all the others (probability deltas do not add up; margins do).
   */
  probability_delta: number;
  /** The field's value in the request. */
  value: unknown;
}

/**
 * A prediction's explanation in the user's fields, in margin (log-odds) units:
 * `base_value + sum(contributions) = margin` and `sigmoid(margin)` is the predicted probability.
 */
export interface Explanation {
  method: ExplainMethod;
  base_value: number;
  /** sigmoid(base_value): the probability before any field is known. */
  base_probability: number;
  margin: number;
  contributions: Record<string, number>;
  /** The `top` largest contributions by absolute value, largest first. */
  top: TopContribution[];
  /** The encoded view (when asked for): the contribution of each column the transform produced, by its name. */
  encoded?: Record<string, number>;
  /** Interaction values between input fields (when asked for); see {@link FieldInteractions}. */
  interactions?: FieldInteractions;
}

/**
 * SHAP interaction values summed to input fields (margin units): `values[a][b]` is the interaction of fields a
 * and b (symmetric), `values[a][a]` field a's main effect, and each row sums to the field's contribution.
 */
export interface FieldInteractions {
  fields: string[];
  values: number[][];
}

/** Optional views of an explanation beyond the per-field contributions. */
export interface ExplanationViews {
  /** Add the contributions of the encoded columns (one-hot categories, hashed buckets, date parts) by name. */
  encoded?: boolean;
  /** Add SHAP interaction values between fields (costs about one explanation per feature a tree splits on). */
  interactions?: boolean;
}

/** Options of {@link createRecordExplainer}. */
export interface RecordExplainerOptions {
  /** How many fields `top` lists (default 5). */
  top?: number;
  /** Compact (float32) GBDT tables: see {@link ModelExplainerOptions.compact}. Serving sets it. */
  compact?: boolean;
}

/** Explains encoded rows of one model in raw-field terms; reuses its buffers (not re-entrant). */
export interface RecordExplainer {
  readonly method: ExplainMethod;
  readonly baseValue: number;
  /** Input fields, in transform order (the keys of `contributions`). */
  readonly fields: readonly string[];
  /** Encoded-column contributions of the last explained row (the encoded view), one per transform output. */
  readonly encoded: Float64Array;
  /**
   * Field contributions of one encoded row into `out` (length fields.length); returns the margin.
   * `record` (the raw input) lets shared hashed buckets go to the fields that hit them.
   */
  explainFields(row: Float64Array, out: Float64Array, record?: RawRecord | null, margin?: number): number;
  /**
   * The full explanation of one row, listing the `top` largest contributions (default: the option's).
   * `margin`: the row's margin when the caller has just scored it (see {@link ModelExplainer.explain}).
   */
  explain(
    row: Float64Array,
    record: RawRecord | null,
    top?: number,
    views?: ExplanationViews,
    margin?: number,
  ): Explanation;
  /**
   * `JSON.stringify(explain(row, record, top, {}, margin))`, written as text directly: the fixed parts (method,
   * base values, every field's key) are built once per explainer, so a request formats only its numbers. Why:
   * building the objects and serializing them cost about as much again as TreeSHAP on an explained /predict.
   */
  explainJson(row: Float64Array, record: RawRecord | null, top?: number, margin?: number): string;
  /** Interaction values of one encoded row, summed to fields (rows and columns in `fields` order). */
  fieldInteractions(row: Float64Array, record?: RawRecord | null): FieldInteractions;
}

/** The record explainer of a model and the transform that feeds it. */
export function createRecordExplainer(
  parts: { model: Classifier; transform: FittedTransform },
  options: RecordExplainerOptions = {},
): RecordExplainer {
  const model: ModelExplainer = createModelExplainer(parts.model, {
    featureMeans: parts.transform.output_mean ?? null,
    compact: options.compact === true,
  });
  const grouper: FieldGrouper = createFieldGrouper(parts.transform);
  const topN = Math.max(0, Math.floor(options.top ?? 5));
  const fields = grouper.fields;
  const encoded = new Float64Array(parts.transform.width);
  const values = new Float64Array(fields.length);
  const slots = new Int32Array(grouper.sharedFields);
  const taken = new Uint8Array(fields.length);
  const chosen = new Int32Array(fields.length);
  const names = parts.transform.feature_names;
  const fieldInteractions = (row: Float64Array, record: RawRecord | null = null): FieldInteractions => {
    const nf = fields.length;
    const w = model.width;
    const values = Array.from({ length: nf }, () => new Array<number>(nf).fill(0));
    if (w === 0) return { fields: [...fields], values };
    const m = model.interactions(row);
    const s = record && grouper.sharedFields > 0 ? grouper.slotsOfRecord(record, slots) : null;
    // SHAP interaction values are additive in both indices: group each encoded row's columns to fields,
    // then each field column's encoded rows
    const byColumn = new Float64Array(w * nf);
    const fieldRow = new Float64Array(nf);
    for (let i = 0; i < w; i++) {
      grouper.group(m, fieldRow, s, i * w);
      byColumn.set(fieldRow, i * nf);
    }
    const column = new Float64Array(w);
    for (let b = 0; b < nf; b++) {
      for (let i = 0; i < w; i++) column[i] = byColumn[i * nf + b]!;
      grouper.group(column, fieldRow, s);
      for (let a = 0; a < nf; a++) values[a]![b] = fieldRow[a]!;
    }
    return { fields: [...fields], values };
  };
  const explainFields = (
    row: Float64Array,
    out: Float64Array,
    record: RawRecord | null = null,
    known?: number,
  ): number => {
    const margin = model.explain(row, encoded, 0, known);
    if (model.width === 0) {
      out.fill(0, 0, fields.length);
      return margin;
    }
    const s = record && grouper.sharedFields > 0 ? grouper.slotsOfRecord(record, slots) : null;
    grouper.group(encoded, out, s);
    return margin;
  };
  /** The n largest |values| by selection into `chosen` (n is small): ties to the earlier field, zeros never listed. */
  const pickTop = (top: number): number => {
    const n = Math.min(Math.max(0, Math.floor(top)), fields.length);
    let picked = 0;
    for (; picked < n; picked++) {
      let i = -1;
      let best = 0;
      for (let j = 0; j < fields.length; j++) {
        const a = Math.abs(values[j]!);
        if (taken[j] === 0 && a > best) {
          best = a;
          i = j;
        }
      }
      if (i < 0) break;
      taken[i] = 1;
      chosen[picked] = i;
    }
    for (let k = 0; k < picked; k++) taken[chosen[k]!] = 0;
    return picked;
  };
  const baseProbability = sigmoid(model.baseValue);
  const json = jsonPieces(model.method, model.baseValue, baseProbability, fields);
  return {
    method: model.method,
    baseValue: model.baseValue,
    fields,
    encoded,
    explainFields,
    fieldInteractions,
    explain(row, record, top = topN, views = {}, known?: number) {
      const margin = explainFields(row, values, record, known);
      const contributions: Record<string, number> = {};
      for (let i = 0; i < fields.length; i++) contributions[fields[i]!] = values[i]!;
      const p = sigmoid(margin);
      const picked = pickTop(top);
      const largest: TopContribution[] = [];
      for (let k = 0; k < picked; k++) {
        const i = chosen[k]!;
        largest.push({
          field: fields[i]!,
          contribution: values[i]!,
          probability_delta: p - sigmoid(margin - values[i]!),
          value: record ? (record[fields[i]!] ?? null) : null,
        });
      }
      const out: Explanation = {
        method: model.method,
        base_value: model.baseValue,
        base_probability: baseProbability,
        margin,
        contributions,
        top: largest,
      };
      if (views.encoded) {
        const byName: Record<string, number> = {};
        for (let j = 0; j < model.width; j++) byName[names[j]!] = encoded[j]!;
        out.encoded = byName;
      }
      if (views.interactions) out.interactions = fieldInteractions(row, record);
      return out;
    },
    explainJson(row, record, top = topN, known?: number) {
      const margin = explainFields(row, values, record, known);
      let text = `${json.head}${jsonNumber(margin)},"contributions":{`;
      const order = json.order;
      for (let k = 0; k < order.length; k++) text += `${json.keys[k]!}${jsonNumber(values[order[k]!]!)}`;
      text += '},"top":[';
      const p = sigmoid(margin);
      const picked = pickTop(top);
      for (let k = 0; k < picked; k++) {
        const i = chosen[k]!;
        const v = values[i]!;
        const value = record ? (record[fields[i]!] ?? null) : null;
        text += `${k === 0 ? '' : ','}${json.top[i]!}${jsonNumber(v)},"probability_delta":${jsonNumber(p - sigmoid(margin - v))},"value":${JSON.stringify(value)}}`;
      }
      return `${text}]}`;
    },
  };
}

/** Number as JSON.stringify writes it: its shortest round-trip text, null when not finite. */
const jsonNumber = (x: number): string => (Number.isFinite(x) ? `${x}` : 'null');

/**
 * The fixed text of a record explainer's JSON explanations: everything before the margin, the fields in the
 * order JSON.stringify lists them in `contributions` (an object's: integer-like names first) with each one's
 * key and separator, and each field's `top` entry up to its contribution.
 */
function jsonPieces(
  method: ExplainMethod,
  baseValue: number,
  baseProbability: number,
  fields: readonly string[],
): { head: string; order: Int32Array; keys: string[]; top: string[] } {
  const head = JSON.stringify({
    method,
    base_value: baseValue,
    base_probability: baseProbability,
    margin: 0,
  });
  const index = new Map(fields.map((f, i) => [f, i]));
  // the keys of the object explain() builds, assigned the same way
  const contributions: Record<string, number> = {};
  for (const f of fields) contributions[f] = 0;
  const names = Object.keys(contributions).filter((f) => index.has(f));
  return {
    head: head.slice(0, head.length - 2),
    order: Int32Array.from(names, (f) => index.get(f)!),
    keys: names.map((f, k) => `${k === 0 ? '' : ','}${JSON.stringify(f)}:`),
    top: fields.map((f) => `{"field":${JSON.stringify(f)},"contribution":`),
  };
}

/** Field contributions of every row of a table, and their global summary. */
export interface TableExplanation {
  method: ExplainMethod;
  base_value: number;
  fields: string[];
  /** rows x fields, row-major, margin units. */
  values: Float64Array;
  /** Margin of each row (base_value + its row of values). */
  margins: Float64Array;
  /** Mean |contribution| per field over the rows, largest first (the global explanation). */
  global: { field: string; mean_abs: number }[];
}

/**
 * Explains every row of a table (already through the bundle's feature steps, if any): the transform encodes it,
 * the model's explainer explains each row, and hashed buckets are attributed with each row's own tokens.
 */
export function explainTable(
  parts: { model: Classifier; transform: FittedTransform },
  table: Table,
): TableExplanation {
  const explainer = createModelExplainer(parts.model, { featureMeans: parts.transform.output_mean ?? null });
  const grouper = createFieldGrouper(parts.transform);
  const X = transformTable(parts.transform, table);
  const nf = grouper.fields.length;
  const values = new Float64Array(X.rows * nf);
  const margins = new Float64Array(X.rows);
  const encoded = new Float64Array(X.cols);
  const slots = grouper.sharedFields > 0 ? grouper.slotsOfTable(table) : null;
  const fieldRow = new Float64Array(nf);
  const sums = new Float64Array(nf);
  for (let i = 0; i < X.rows; i++) {
    margins[i] = explainer.explain(X.data.subarray(i * X.cols, (i + 1) * X.cols), encoded);
    if (explainer.width === 0) continue;
    const s = slots ? slots.subarray(i * grouper.sharedFields, (i + 1) * grouper.sharedFields) : null;
    grouper.group(encoded, fieldRow, s);
    values.set(fieldRow, i * nf);
    for (let j = 0; j < nf; j++) sums[j] += Math.abs(fieldRow[j]!);
  }
  const global = grouper.fields
    .map((field, j) => ({ field, mean_abs: X.rows > 0 ? sums[j]! / X.rows : 0 }))
    .sort((a, b) => b.mean_abs - a.mean_abs || (a.field < b.field ? -1 : 1));
  return {
    method: explainer.method,
    base_value: explainer.baseValue,
    fields: [...grouper.fields],
    values,
    margins,
    global,
  };
}

/**
 * A model's global explanation as the pipeline logs it (`explanation/global.json`) and the web UI reads it:
 * mean |SHAP| per input field over a data set, largest first, in margin units.
 */
export interface GlobalExplanation {
  model_kind: string;
  base_value: number;
  features: { field: string; mean_abs: number }[];
}

/** The global explanation of a table explanation. */
export const globalExplanationOf = (modelKind: string, ex: TableExplanation): GlobalExplanation => ({
  model_kind: modelKind,
  base_value: ex.base_value,
  features: ex.global.map((f) => ({ field: f.field, mean_abs: f.mean_abs })),
});
