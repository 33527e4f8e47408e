/**
 * Exact decimal-to-double conversion of the numbers a prediction log holds most (16 to 19 significant digits with
 * a fractional part, as JSON.stringify prints a double), without making a string: the quotient is computed in
 * double-double arithmetic to about 2^-101 of its value, and kept only when every value within 2^-90 of it
 * rounds to the same double; anything not certain (a near tie, about one text in 10^11) is left to Number().
 */

// Exact powers of ten (10^22 is the last a double holds exactly), their reciprocals rounded, and Dekker splits.
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));
const INV10 = POW10.map((p) => 1 / p);
const SPLIT = 134217729; // 2^27 + 1 (Dekker)
const P10H = POW10.map((p) => SPLIT * p - (SPLIT * p - p));
const P10L = POW10.map((p, k) => p - P10H[k]!);
const TWO25 = 33554432;
const TWO53 = 9007199254740992;
const MARGIN = 2 ** -90;

/**
 * The double nearest to (hi * 10^loDigits + lo) / 10^k, where 0 <= hi < 10^15, 0 <= lo < 10^loDigits,
 * loDigits <= 4 and 1 <= k <= 22; NaN when it cannot be decided cheaply (a near tie): the caller then converts
 * the text. A profiled hot loop (a third of the monitor's log values go through it): one flat function of locals.
 */
export function decimalQuotient(hi: number, lo: number, loDigits: number, k: number): number {
  // w = hi 10^loDigits + lo exactly as wh + wl: hi split at 2^25 so both partial products are exact
  const s = POW10[loDigits]!;
  const a = Math.floor(hi / TWO25);
  const x = a * s * TWO25;
  const y = (hi - a * TWO25) * s + lo;
  const wh = x + y;
  const wl = y - (wh - x);
  // Clinger: an integer up to 2^53 divided by an exact power of ten is correctly rounded
  if (wl === 0 && wh <= TWO53) return wh / POW10[k]!;
  const inv = INV10[k]!;
  const q0 = wh * inv; // within a few ulps of w / 10^k
  // q0 10^k exactly as ph + pl (Dekker's product, 10^k split beforehand)
  const c = SPLIT * q0;
  const qh = c - (c - q0);
  const ql = q0 - qh;
  const ph = q0 * POW10[k]!;
  const pl = qh * P10H[k]! - ph + qh * P10L[k]! + ql * P10H[k]! + ql * P10L[k]!;
  // the rest (w - q0 10^k) / 10^k: wh - ph is exact (Sterbenz), the rest off by about q0 2^-101
  const t = (wh - ph + wl - pl) * inv;
  const q = q0 + t;
  const margin = q0 * MARGIN;
  return q0 + (t - margin) === q && q0 + (t + margin) === q ? q : Number.NaN;
}
