/**
 * XGBoost's float32 arithmetic, reproduced bit for bit in float64 JavaScript: the probability of a margin as
 * XGBoost 1.7's `common::Sigmoid(float)` computes it (with glibc's `expf`), and the float64 threshold that
 * sends a float64 value the way XGBoost's float32 comparison does.
 */

const fround = Math.fround;

/** C's hex float 0x1.<fraction>p<exponent> from its 53-bit significand as an integer (0x1<fraction>) and exponent. */
const hexFloat = (significand: number, exponent: number): number => significand * 2 ** (exponent - 52);

/**
 * 2^(i/32) for i = 0..31, rounded to float64: the table of glibc's `expf` (sysdeps/ieee754/flt-32, from Arm's
 * optimized-routines), which stores each value's bits minus i << 47 so that adding k << 47 for k = 32q + i
 * also multiplies by 2^q; here the bits are restored once and the 2^q is a multiplication (exact).
 */
const EXP2_TABLE = new Float64Array(
  BigUint64Array.from(
    [
      0x3ff0000000000000n,
      0x3fefd9b0d3158574n,
      0x3fefb5586cf9890fn,
      0x3fef9301d0125b51n,
      0x3fef72b83c7d517bn,
      0x3fef54873168b9aan,
      0x3fef387a6e756238n,
      0x3fef1e9df51fdee1n,
      0x3fef06fe0a31b715n,
      0x3feef1a7373aa9cbn,
      0x3feedea64c123422n,
      0x3feece086061892dn,
      0x3feebfdad5362a27n,
      0x3feeb42b569d4f82n,
      0x3feeab07dd485429n,
      0x3feea47eb03a5585n,
      0x3feea09e667f3bcdn,
      0x3fee9f75e8ec5f74n,
      0x3feea11473eb0187n,
      0x3feea589994cce13n,
      0x3feeace5422aa0dbn,
      0x3feeb737b0cdc5e5n,
      0x3feec49182a3f090n,
      0x3feed503b23e255dn,
      0x3feee89f995ad3adn,
      0x3feeff76f2fb5e47n,
      0x3fef199bdd85529cn,
      0x3fef3720dcef9069n,
      0x3fef5818dcfba487n,
      0x3fef7c97337b9b5fn,
      0x3fefa4afa2a490dan,
      0x3fefd0765b6e4540n,
    ],
    (bits, i) => bits + (BigInt(i) << 47n),
  ).buffer,
);

/** 32 / ln 2, the polynomial's coefficients (scaled by 1/32 per power of r) and the rounding shift 1.5 * 2^52. */
const INV_LN2_N = hexFloat(0x171547652b82fe, 0) * 32;
const C0 = hexFloat(0x1c6af84b912394, -5) / 32 ** 3;
const C1 = hexFloat(0x1ebfce50fac4f3, -3) / 32 ** 2;
const C2 = hexFloat(0x162e42ff0c52d6, -1) / 32;
const SHIFT = hexFloat(0x18000000000000, 52);
/** 2^q for the q = k >> 5 that expf's domain reaches (-150..128), at q + 151. */
const POW2 = Float64Array.from({ length: 280 }, (_, i) => 2 ** (i - 151));
/** Below log(2^-150): glibc's expf returns 0 (-0x1.9fe368p6f). */
const UNDERFLOW = -0x19fe368 / 2 ** 18;
/** Above log(2^128): glibc's expf overflows (0x1.62e42ep6f). */
const OVERFLOW = 0x162e42e / 2 ** 18;

/**
 * glibc's `expf` (2.28+, the algorithm of Arm's optimized-routines, 0.502 ULP): x = k/32 ln 2 + r/32 ln 2,
 * exp(x) = 2^(k/32) * 2^(r/32) with a cubic in r, all in float64, rounded once to float32. Math.exp rounded to
 * float32 is the correctly rounded result, which this one misses for about 1 float32 input in 13,000 (measured
 * against glibc 2.36 over 23 million inputs); those misses change XGBoost's probabilities.
 */
export function expf(x: number): number {
  x = fround(x);
  if (!(x >= UNDERFLOW)) return Number.isNaN(x) ? x : 0;
  if (x > OVERFLOW) return Number.POSITIVE_INFINITY;
  const z = INV_LN2_N * x;
  const kd = z + SHIFT - SHIFT;
  const r = z - kd;
  const k = kd | 0;
  const s = EXP2_TABLE[k & 31]! * POW2[(k >> 5) + 151]!;
  const p = C0 * r + C1;
  const r2 = r * r;
  const y = p * r2 + (C2 * r + 1);
  return fround(y * s);
}

/** 88.7f: XGBoost clamps -margin there so that expf cannot overflow. */
const MAX_EXPONENT = fround(88.7);
/** 1e-16f, XGBoost's guard against a zero denominator (never changes a sum that is at least 1). */
const EPS = fround(1e-16);

/**
 * P(y=1) of a margin exactly as XGBoost 1.7's binary:logistic computes it from its float32 margin
 * (src/common/math.h `Sigmoid(float)`): `x = min(-margin, 88.7f); 1.0f / (expf(x) + 1.0f + 1e-16f)`, every
 * step rounded to float32. Not symmetric, unlike the float64 logistic: the smallest probability is 1 / expf(88.7),
 * about 3.0e-39, and margins above 103.97 give exactly 1.
 */
export function xgboostSigmoid(margin: number): number {
  // std::min(-x, 88.7f); Math.min gives the same for NaN (NaN) and -0 (-0)
  const x = Math.min(-fround(margin), MAX_EXPONENT);
  return fround(1 / fround(fround(expf(x) + 1) + EPS));
}

/** XGBoost's floor on a hessian, 1e-16f. */
const HESS_EPS = fround(1e-16);

/**
 * Logistic-loss gradients and hessians of rows [start, end) as XGBoost 1.7 computes them (RegLossObj::GetGradient
 * with LogisticRegression) from its float32 margins: p = Sigmoid(margin), grad = (p - y) * w and
 * hess = max(p * (1 - p), 1e-16f) * w, all float32, a positive row's weight times scale_pos_weight in float32.
 * Why float32: XGBoost's leaves are sums of these, so Tassel's trees get XGBoost's leaves to the bit.
 */
export function xgboostGradients(
  margin: ArrayLike<number>,
  y: ArrayLike<number>,
  w: ArrayLike<number> | null,
  spw: number,
  grad: Float64Array,
  hess: Float64Array,
  start: number,
  end: number,
): void {
  if (w === null && spw === 1) {
    // Unweighted: every weight is 1, so the products by it are left out (the same float32 results).
    for (let i = start; i < end; i++) {
      const p = xgboostSigmoid(margin[i]!);
      grad[i] = fround(p - y[i]!);
      hess[i] = fround(Math.max(fround(p * fround(1 - p)), HESS_EPS));
    }
    return;
  }
  const spw32 = fround(spw);
  for (let i = start; i < end; i++) {
    const p = xgboostSigmoid(margin[i]!);
    let wi = w === null ? 1 : fround(w[i]!);
    if (y[i] === 1) wi = fround(wi * spw32);
    grad[i] = fround(fround(p - y[i]!) * wi);
    hess[i] = fround(Math.max(fround(p * fround(1 - p)), HESS_EPS) * wi);
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/** The largest float32 below the float32 `t` (-Infinity below -FLT_MAX). */
function float32Below(t: number): number {
  if (t === 0) return -(2 ** -149);
  f32[0] = t;
  u32[0] = t > 0 ? u32[0]! - 1 : u32[0]! + 1;
  return f32[0]!;
}

/** The smallest float64 above `x` (finite, non-zero). */
function float64Above(x: number): number {
  f64[0] = x;
  u64[0] = x > 0 ? u64[0]! + 1n : u64[0]! - 1n;
  return f64[0]!;
}

/**
 * The float64 bound d of a float32 threshold t such that `x < d` exactly when XGBoost's `float(x) < t`, for
 * every float64 x (infinities too): the smallest float64 that rounds to t or above. Why: a walk comparing
 * against d takes XGBoost's branches without rounding each input to float32 on its critical path.
 */
export function float32CompareBound(threshold: number): number {
  const t = fround(threshold);
  if (Number.isNaN(t) || t === Number.NEGATIVE_INFINITY) return t;
  const below = float32Below(t);
  // midway between the two float32 values around the boundary (exact in float64); past FLT_MAX, where float32
  // rounding reaches infinity: 2^128 - 2^103
  const overflow = 2 ** 128 - 2 ** 103;
  const mid =
    below === Number.NEGATIVE_INFINITY
      ? -overflow
      : t === Number.POSITIVE_INFINITY
        ? overflow
        : (below + t) / 2;
  return fround(mid) >= t ? mid : float64Above(mid);
}

/**
 * This module's gradient code as plain JavaScript for the GBDT worker threads (threads.ts), which run text:
 * its constants written out (numbers print as their shortest round-trip form) and its functions by their text.
 */
export const FLOAT32_MATH_SOURCE = `
const fround = Math.fround;
const EXP2_TABLE = Float64Array.of(${Array.from(EXP2_TABLE).join(', ')});
const POW2 = Float64Array.from({ length: 280 }, (_, i) => 2 ** (i - 151));
const INV_LN2_N = ${INV_LN2_N}, C0 = ${C0}, C1 = ${C1}, C2 = ${C2}, SHIFT = ${SHIFT};
const UNDERFLOW = ${UNDERFLOW}, OVERFLOW = ${OVERFLOW}, MAX_EXPONENT = ${MAX_EXPONENT}, EPS = ${EPS};
const HESS_EPS = ${HESS_EPS};
${expf.toString()}
${xgboostSigmoid.toString()}
${xgboostGradients.toString()}
`;
