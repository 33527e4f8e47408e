/** A dense row-major matrix: row i, column j is data[i * cols + j]. NaN means missing. */
export interface Matrix {
  readonly data: Float64Array;
  readonly rows: number;
  readonly cols: number;
}

export function createMatrix(rows: number, cols: number, data: Float64Array = new Float64Array(rows * cols)): Matrix {
  if (data.length !== rows * cols) throw new Error(`createMatrix: ${data.length} values for ${rows}x${cols}`);
  return { data, rows, cols };
}

/** A view of row i (no copy). */
export const rowView = (m: Matrix, i: number): Float64Array => m.data.subarray(i * m.cols, (i + 1) * m.cols);

/** Rows of m selected by indices (copy). */
export function takeMatrixRows(m: Matrix, indices: ArrayLike<number>): Matrix {
  const out = new Float64Array(indices.length * m.cols);
  for (let k = 0; k < indices.length; k++) out.set(rowView(m, indices[k]!), k * m.cols);
  return { data: out, rows: indices.length, cols: m.cols };
}
