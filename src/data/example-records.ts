import type { ColumnSpec, DatasetSchema } from './schema.js';
import type { RawRecord, Table } from './table.js';

/**
 * Table rows back as the raw records a caller sends (the values as they appear in the data file): dates in
 * the column's own format (`DD-MM-YYYY` for a day-first column, as the course-completion data writes them),
 * booleans as the column's spellings ("Yes"/"No") or JSON true/false, numbers as numbers, categories and
 * ids as strings, missing values as null. Model bundles save their input examples with it, so a bundle's
 * `input_example.json` and `serving_input_example.json` pass its own validation.
 */

const pad2 = (n: number) => String(n).padStart(2, '0');

/** A date stored as days since 1970-01-01, written in the column's format. */
export function formatDate(days: number, format: ColumnSpec['dateFormat'] = 'YMD'): string {
  const d = new Date(days * 86_400_000);
  const y = String(d.getUTCFullYear()).padStart(4, '0');
  const m = pad2(d.getUTCMonth() + 1);
  const day = pad2(d.getUTCDate());
  if (format === 'DMY') return `${day}-${m}-${y}`;
  if (format === 'MDY') return `${m}/${day}/${y}`;
  return `${y}-${m}-${day}`;
}

/** One stored cell as the raw value a caller would send for `spec`. */
export function rawValue(spec: ColumnSpec, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number') return v;
  if (Number.isNaN(v)) return null;
  if (spec.type === 'date') return formatDate(v, spec.dateFormat);
  if (spec.type === 'boolean') {
    const spelling = v ? spec.trueValues?.[0] : spec.falseValues?.[0];
    return spelling ?? v === 1;
  }
  if (spec.type === 'categorical' || spec.type === 'id') return String(v);
  return v;
}

/** Up to `n` rows of `table` as raw records of the schema's feature (and, by default, id) columns. */
export function exampleRecords(
  table: Table,
  schema: DatasetSchema,
  options: { n?: number; ids?: boolean } = {},
): RawRecord[] {
  const n = options.n ?? 3;
  const specs = schema.columns.filter(
    (c) => c.role === 'feature' || (options.ids !== false && c.role === 'id'),
  );
  const out: RawRecord[] = [];
  for (let i = 0; i < Math.min(n, table.nRows); i++) {
    const rec: RawRecord = {};
    for (const spec of specs) {
      const col = table.columns[spec.name];
      if (col) rec[spec.name] = rawValue(spec, col[i]);
    }
    out.push(rec);
  }
  return out;
}
