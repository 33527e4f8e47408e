import type { RawRecord, Table } from '../data/table.js';
import { type FittedTransform, sharedHashedColumns, sharedHashSlots } from './transform.js';

/**
 * Sums contributions of the columns a fitted transform produced back to the input field that produced them:
 * one-hot categories, a column's own hashed block and date parts each go to their field, so `gender` gets one
 * number. SHAP values are additive, so the sum is the field's exact contribution.
 *
 * The shared hashed block mixes fields: a bucket's contribution goes to the fields whose token fell into it for
 * this row (shared equally on a collision); buckets no token of this row hit (their effect is "this row's
 * value is not one that hashes here") are shared equally by all fields of the block. Without the row's slots
 * every bucket is shared equally. Either way the field values still sum to the total.
 */
export interface FieldGrouper {
  /** Input fields in transform order. */
  readonly fields: readonly string[];
  /** Number of shared-block fields (the length of a slots vector, see {@link slotsOfRecord}). */
  readonly sharedFields: number;
  /**
   * Field contributions of one row: `encoded[encodedAt + j]` for output column j, summed into
   * `out[0 .. fields.length)` (overwritten). `slots` are the row's shared-block slots, when known.
   */
  group(
    encoded: ArrayLike<number>,
    out: Float64Array,
    slots?: ArrayLike<number> | null,
    encodedAt?: number,
  ): Float64Array;
  /** The shared-block slot of each shared hashed field for a record (empty when there is no shared block). */
  slotsOfRecord(record: RawRecord, out?: Int32Array): Int32Array;
  /** {@link slotsOfRecord} for every row of a table: rows x sharedFields. */
  slotsOfTable(table: Table): Int32Array;
}

/** The grouper of a fitted transform. */
export function createFieldGrouper(ft: FittedTransform): FieldGrouper {
  const fields = ft.columns.map((c) => c.name);
  const index = new Map(fields.map((f, i) => [f, i]));
  // output column -> field index, -1 for the shared hashed block
  const fieldOf = new Int32Array(ft.width).fill(-1);
  for (const c of ft.columns) {
    const k = index.get(c.name)!;
    let n = 0;
    if (c.kind === 'date') n = c.parts.length;
    else if (c.kind !== 'categorical') n = 1;
    else if (c.encoding === 'onehot') n = c.categories.length + (c.other ? 1 : 0);
    else if (c.offset !== undefined && c.n_features !== undefined) n = c.n_features;
    if (n > 0) fieldOf.fill(k, c.offset!, c.offset! + n);
  }
  const shared = sharedHashedColumns(ft);
  const sharedField = Int32Array.from(shared, (name) => index.get(name)!);
  const block = ft.hashing;
  const hits = new Int32Array(block ? block.n_features : 0);
  const ownSlots = new Int32Array(shared.length);

  return {
    fields,
    sharedFields: shared.length,
    group(encoded, out, slots = null, encodedAt = 0) {
      out.fill(0, 0, fields.length);
      for (let j = 0; j < fieldOf.length; j++) {
        const f = fieldOf[j]!;
        if (f >= 0) out[f] += encoded[encodedAt + j]!;
      }
      if (!block || shared.length === 0) return out;
      const nShared = shared.length;
      if (slots) for (let k = 0; k < nShared; k++) hits[slots[k]!]++;
      let unhit = 0;
      for (let s = 0; s < block.n_features; s++) {
        const v = encoded[encodedAt + block.offset + s]!;
        if (v === 0) continue;
        if (hits[s]! === 0) {
          unhit += v;
          continue;
        }
        const share = v / hits[s]!;
        for (let k = 0; k < nShared; k++) if (slots![k] === s) out[sharedField[k]!] += share;
      }
      if (slots) for (let k = 0; k < nShared; k++) hits[slots[k]!] = 0;
      if (unhit !== 0) for (let k = 0; k < nShared; k++) out[sharedField[k]!] += unhit / nShared;
      return out;
    },
    slotsOfRecord(record, out = ownSlots) {
      return sharedHashSlots(ft, record, out);
    },
    slotsOfTable(table) {
      const n = table.nRows;
      const out = new Int32Array(n * shared.length);
      if (shared.length === 0) return out;
      const record: RawRecord = {};
      const row = new Int32Array(shared.length);
      for (let i = 0; i < n; i++) {
        for (const name of shared) record[name] = table.columns[name]?.[i] ?? null;
        sharedHashSlots(ft, record, row);
        out.set(row, i * shared.length);
      }
      return out;
    },
  };
}
