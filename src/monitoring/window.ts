import { createRecordCoercer } from '../data/validate.js';
import { isNumericData } from '../data/table.js';
import type { WindowData } from './drift.js';
import type { OutcomeRecord, PredictionRecord } from './records.js';
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
  for await (const o of outcomes) {
    if (o.request_id !== undefined) byRequest.set(o.request_id, o.outcome);
    else if (
      o.entity_id !== undefined &&
      (o.entity_field === undefined || entityField === undefined || o.entity_field === entityField)
    )
      byEntity.set(String(o.entity_id), o.outcome);
  }
  return { byRequest, byEntity };
}

/** Options of {@link buildWindow}. */
export interface BuildWindowOptions {
  outcomes?: OutcomeIndex;
  /** Input field holding the entity id outcomes may be attached by (e.g. Student_ID). */
  entityField?: string;
}

const CHUNK = 10_000;

/** Columns of a window of records for the reference's features. */
export function buildWindow(
  ref: PreparedReference,
  records: readonly PredictionRecord[],
  options: BuildWindowOptions = {},
): WindowData {
  const scored = records.filter(
    (r) => !r.refused && r.probability !== null && Number.isFinite(r.probability),
  );
  const n = scored.length;
  const numeric = new Map<string, Float64Array>();
  const categorical = new Map<string, Array<string | null>>();
  const invalid = new Map<string, number>();
  for (const f of ref.features) {
    if (f.type === 'numeric') numeric.set(f.name, new Float64Array(n).fill(Number.NaN));
    else categorical.set(f.name, new Array<string | null>(n).fill(null));
    invalid.set(f.name, 0);
  }
  if (ref.inputSchema) {
    const coercer = createRecordCoercer(ref.inputSchema, {
      policy: 'impute',
      requireTarget: false,
      allowUnknownFields: true,
      maxIssues: CHUNK * 4,
    });
    for (let start = 0; start < n; start += CHUNK) {
      const chunk = scored.slice(start, start + CHUNK);
      const res = coercer.coerce(chunk.map((r) => r.inputs));
      for (const issue of res.issues)
        if (invalid.has(issue.column)) invalid.set(issue.column, invalid.get(issue.column)! + 1);
      for (const [name, out] of numeric) {
        const col = res.table.columns[name];
        if (!col || !isNumericData(col)) continue;
        for (let k = 0; k < res.sourceRows.length; k++) out[start + res.sourceRows[k]!] = col[k]!;
      }
      for (const [name, out] of categorical) {
        const col = res.table.columns[name];
        if (!col || isNumericData(col)) continue;
        for (let k = 0; k < res.sourceRows.length; k++) out[start + res.sourceRows[k]!] = col[k] ?? null;
      }
    }
  } else {
    scored.forEach((r, i) => {
      for (const [name, out] of numeric) {
        const v = r.inputs[name];
        if (v === null || v === undefined || v === '') continue;
        const x = typeof v === 'number' ? v : Number(v);
        if (Number.isFinite(x)) out[i] = x;
        else invalid.set(name, invalid.get(name)! + 1);
      }
      for (const [name, out] of categorical) {
        const v = r.inputs[name];
        if (v !== null && v !== undefined && v !== '') out[i] = String(v);
      }
    });
  }
  const scores = new Float64Array(n);
  const outcomes = new Float64Array(n).fill(Number.NaN);
  const { outcomes: index, entityField } = options;
  scored.forEach((r, i) => {
    scores[i] = r.probability!;
    if (!index) return;
    let y = index.byRequest.get(r.request_id);
    if (y === undefined && entityField !== undefined) {
      const id = r.inputs[entityField];
      if (id !== undefined && id !== null) y = index.byEntity.get(String(id));
    }
    if (y !== undefined) outcomes[i] = y;
  });
  return { n, numeric, categorical, scores, outcomes, refused: records.length - n, invalid };
}
