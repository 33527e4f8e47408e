/** Result of {@link padVector}: the vector at the model's width and what was done to get there. */
export interface PaddedVector {
  vector: Float64Array;
  /** The model's width. */
  expected: number;
  /** The length that was sent. */
  received: number;
  /** Zeros appended at the end. */
  padded: number;
  /** Values cut from the end. */
  truncated: number;
}

/**
 * "Dynamic feature padding" for clients sending pre-computed vectors: pads with zeros or cuts to the
 * model's width and says how many values it padded or cut. Non-numbers become NaN (missing).
 */
export function padVector(vector: ArrayLike<number>, width: number): PaddedVector {
  const received = vector.length;
  const out = new Float64Array(width);
  const n = Math.min(received, width);
  for (let i = 0; i < n; i++) {
    const v = vector[i];
    out[i] = typeof v === 'number' ? v : Number.NaN;
  }
  return {
    vector: out,
    expected: width,
    received,
    padded: Math.max(0, width - received),
    truncated: Math.max(0, received - width),
  };
}
