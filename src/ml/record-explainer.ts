import type { RawRecord, Table } from '../data/table.js';
import { createFieldGrouper, type FieldGrouper } from '../features/field-groups.js';
import { type FittedTransform, transformTable } from '../features/transform.js';
import {
  type ExplainMethod,
  createModelExplainer,
  type ModelExplainer,
  type ModelExplainerOptions,
} from './explain.js';
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
  // every field at 0 in a fast-mode object (JSON.parse builds one): see explain()
  const zeros: Record<string, number> = JSON.parse(
    JSON.stringify(Object.fromEntries(fields.map((f) => [f, 0]))),
  );
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
  return {
    method: model.method,
    baseValue: model.baseValue,
    fields,
    encoded,
    explainFields,
    fieldInteractions,
    explain(row, record, top = topN, views = {}, known?: number) {
      const margin = explainFields(row, values, record, known);
      // a copy of `zeros` shares its hidden class: filled key by key, a fresh {} of this many fields turns into a
      // dictionary, slower to build and to serialize (4-8 us of an explained record with its JSON, load 10)
      const contributions: Record<string, number> = { ...zeros };
      for (let i = 0; i < fields.length; i++) contributions[fields[i]!] = values[i]!;
      const largest: TopContribution[] = [];
      const p = model.probability(margin);
      const n = Math.min(Math.max(0, Math.floor(top)), fields.length);
      let picked = 0;
      // the n largest |values| by selection (n is small): ties to the earlier field, zeros never listed
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
        largest.push({
          field: fields[i]!,
          contribution: values[i]!,
          probability_delta: p - model.probability(margin - values[i]!),
          value: record ? (record[fields[i]!] ?? null) : null,
        });
      }
      for (let k = 0; k < picked; k++) taken[chosen[k]!] = 0;
      const out: Explanation = {
        method: model.method,
        base_value: model.baseValue,
        base_probability: model.probability(model.baseValue),
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
