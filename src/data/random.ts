/**
 * A small seeded PRNG (sfc32 seeded through splitmix32), so generated data and splits are byte-identical
 * for a seed on every platform. Never Math.random.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
  /** One element of `items`, uniformly, or by `weights` when given. */
  pick<T>(items: readonly T[], weights?: readonly number[]): T;
}

/** Creates a seeded {@link Random}; the same seed always gives the same sequence. */
export function createRandom(seed: number): Random {
  const u32 = createSfc32(seed, 12);
  let spare: number | null = null;
  const next = () => u32() / 4294967296;
  return {
    next,
    int: (n) => Math.floor(next() * n),
    normal() {
      if (spare !== null) {
        const v = spare;
        spare = null;
        return v;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    pick<T>(items: readonly T[], weights?: readonly number[]): T {
      if (!weights) return items[Math.floor(next() * items.length)]!;
      let total = 0;
      for (const w of weights) total += w;
      let r = next() * total;
      for (let i = 0; i < items.length; i++) {
        r -= weights[i]!;
        if (r < 0) return items[i]!;
      }
      return items[items.length - 1]!;
    },
  };
}

/**
 * The raw sfc32 generator seeded through splitmix32: a function returning uniform 32-bit unsigned integers.
 * `warmup` outputs are discarded first (the data generator uses 12; the GBDT engine none, to keep its
 * sequences). Shared by every seeded component so there is one implementation.
 */
export function createSfc32(seed: number, warmup = 12): () => number {
  let s = seed >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const u32 = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < warmup; i++) u32();
  return u32;
}
