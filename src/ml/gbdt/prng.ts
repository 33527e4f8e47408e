import { createSfc32 } from '../../data/random.js';

/** A seeded PRNG (sfc32 seeded through splitmix32): identical sequences for a seed on every platform. */
export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/** Creates a {@link Prng} from a 32-bit seed. */
export function createPrng(seed: number): Prng {
  const u32 = createSfc32(seed, 0);
  const next = () => u32() / 4294967296;
  return { next, int: (n) => Math.floor(next() * n) };
}

/** k distinct items of `from` chosen uniformly (partial Fisher-Yates), returned in ascending order. */
export function sampleSorted(from: Int32Array, k: number, rng: Prng): Int32Array {
  if (k >= from.length) return from.slice();
  const pool = from.slice();
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(pool.length - i);
    const t = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = t;
  }
  return pool.subarray(0, k).sort();
}
