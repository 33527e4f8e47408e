/**
 * The columnar table every reader produces and every fit consumes.
 * Numeric-like columns (numeric, integer, boolean as 0/1, date as days since 1970-01-01) are
 * Float64Array with NaN for missing; categorical and id columns are string arrays with null for missing.
 */
export type NumericData = Float64Array;
export type StringData = (string | null)[];
export type ColumnData = NumericData | StringData;

export interface Table {
  readonly nRows: number;
  /** Column names in file order. */
  readonly names: string[];
  readonly columns: Record<string, ColumnData>;
}

/** One raw record as it arrives over HTTP or from a CSV row: field name -> value. */
export type RawRecord = Record<string, unknown>;

export const isNumericData = (c: ColumnData): c is NumericData => c instanceof Float64Array;

/** Build a table from columns, checking that they all have the same length. */
export function createTable(
  columns: Record<string, ColumnData>,
  names: string[] = Object.keys(columns),
): Table {
  let nRows = -1;
  for (const name of names) {
    const col = columns[name];
    if (!col) throw new Error(`createTable: column ${name} is missing`);
    if (nRows === -1) nRows = col.length;
    else if (col.length !== nRows)
      throw new Error(`createTable: column ${name} has ${col.length} rows, expected ${nRows}`);
  }
  return { nRows: Math.max(nRows, 0), names, columns };
}

/** Rows of `table` selected by `indices`, in that order. */
export function takeRows(table: Table, indices: ArrayLike<number>): Table {
  const columns: Record<string, ColumnData> = {};
  for (const name of table.names) {
    const col = table.columns[name]!;
    if (isNumericData(col)) {
      const out = new Float64Array(indices.length);
      for (let i = 0; i < indices.length; i++) out[i] = col[indices[i]!]!;
      columns[name] = out;
    } else {
      const out: StringData = new Array(indices.length);
      for (let i = 0; i < indices.length; i++) out[i] = col[indices[i]!] ?? null;
      columns[name] = out;
    }
  }
  return { nRows: indices.length, names: [...table.names], columns };
}
