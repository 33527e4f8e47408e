/**
 * Exact decimal-to-double conversion of the numbers a prediction log holds most (16 to 19 significant digits with
 * a fractional part, as JSON.stringify prints a double), without making a string: the candidate quotient is
 * checked against the exact remainder in double-double arithmetic, and anything not certain is left to Number().
 */

// Exact powers of ten (10^22 is the last a double holds exactly).
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));
const SPLIT = 134217729; // 2^27 + 1 (Dekker)

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
const HI = new Uint8Array(Float64Array.of(1).buffer)[7] === 0x3f ? 1 : 0; // the word with the exponent
const LO = 1 - HI;

let productLow = 0;
/** a * b rounded; the exact rest in `productLow` (Dekker's product, no fused multiply-add needed). */
function twoProduct(a: number, b: number): number {
  const p = a * b;
  let c = SPLIT * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = SPLIT * b;
  const bh = c - (c - b);
  const bl = b - bh;
  productLow = ah * bh - p + ah * bl + al * bh + al * bl;
  return p;
}

/** The sign of a + b + c when it is certain (1 or -1), else 0. */
function signOfSum(a: number, b: number, c: number): number {
  const t = a + b;
  let bb = t - a;
  const te = a - (t - bb) + (b - bb);
  const s = t + c;
  bb = s - t;
  const se = t - (s - bb) + (c - bb);
  const rest = Math.abs(se) + Math.abs(te);
  if (Math.abs(s) > 2 * rest) return s > 0 ? 1 : s < 0 ? -1 : 0;
  return 0;
}

/**
 * The double nearest to (hi * 10^loDigits + lo) / 10^k, where hi < 10^15, lo < 10^loDigits, loDigits <= 4 and
 * 1 <= k <= 22; NaN when the check cannot decide (a near tie, a power of two, a tiny quotient): the caller then
 * converts the text.
 */
export function decimalQuotient(hi: number, lo: number, loDigits: number, k: number): number {
  const p10 = POW10[k]!;
  // w = hi * 10^loDigits + lo exactly, as wh + wl
  const ph = twoProduct(hi, POW10[loDigits]!);
  const pl = productLow;
  const wh = ph + lo;
  const bb = wh - ph;
  const wl = ph - (wh - bb) + (lo - bb) + pl;
  // a first quotient, corrected once by its remainder (rounded): then checked exactly
  const q0 = wh / p10;
  const q0h = twoProduct(q0, p10);
  const q = q0 + (wh - q0h + wl - productLow) / p10;
  F64[0] = q;
  const top = U32[HI]!;
  const exponent = (top >>> 20) & 0x7ff;
  if (exponent < 60 || exponent === 0x7ff || ((top & 0xfffff) === 0 && U32[LO] === 0)) return Number.NaN;
  U32[HI] = (exponent - 52) << 20;
  U32[LO] = 0;
  const halfUlp = 0.5 * F64[0]! * p10; // exact: 10^k = 5^k 2^k and 5^k fits in 52 bits
  // the remainder w - q 10^k = (wh - qh) + wl - ql; q is the nearest double when |remainder| < 10^k ulp(q) / 2
  const qh = twoProduct(q, p10);
  const ql = productLow;
  const d = wh - qh + wl;
  return signOfSum(d, -halfUlp, -ql) < 0 && signOfSum(d, halfUlp, -ql) > 0 ? q : Number.NaN;
}
