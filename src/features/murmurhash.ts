/**
 * MurmurHash3, x86 32-bit variant (Austin Appleby's public-domain reference), as scikit-learn's
 * `murmurhash3_32` computes it: over the UTF-8 bytes of a string, returning a signed int32 by default.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const encoder = new TextEncoder();

/** Hash raw bytes; returns the unsigned 32-bit hash. */
export function murmurhash3x86_32Bytes(bytes: Uint8Array, seed = 0): number {
  const len = bytes.length;
  let h = seed >>> 0;
  const nBlocks = len >>> 2;
  let i = 0;
  for (let b = 0; b < nBlocks; b++, i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = len & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[i + 2]! << 16;
    if (tail >= 2) k ^= bytes[i + 1]! << 8;
    k ^= bytes[i]!;
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * scikit-learn's `murmurhash3_32(key, seed=0, positive=False)`: the hash of the UTF-8 bytes of `key`
 * as a signed int32 (or unsigned with `positive`).
 */
export function murmurhash3_32(key: string, seed = 0, positive = false): number {
  const h = murmurhash3_32String(key, seed);
  return positive ? h >>> 0 : h;
}

/** The hash of `key`'s UTF-8 bytes through an explicit TextEncoder pass (reference for tests). */
export const murmurhash3_32Utf8Reference = (key: string, seed = 0): number =>
  murmurhash3x86_32Bytes(encoder.encode(key), seed) | 0;

/** Where a token lands in a hashed feature space, as scikit-learn's FeatureHasher places it. */
export interface HashedSlot {
  index: number;
  /** +1 or -1 (always +1 when alternate_sign is false). */
  sign: number;
}

/**
 * FeatureHasher's rule: h = murmurhash3_32(token, seed 0) as int32; index = abs(h) mod n;
 * value sign = sign of h (h >= 0 -> +1) when alternateSign, else +1. Tokens repeated in a row add up.
 */
export function hashSlot(
  token: string,
  nFeatures: number,
  alternateSign = true,
  out?: HashedSlot,
): HashedSlot {
  return hashSlotPair(token, '', nFeatures, alternateSign, out);
}

/** {@link hashSlot} of the token `prefix + value` without building it (the serving path: "column=" + value). */
export function hashSlotPair(
  prefix: string,
  value: string,
  nFeatures: number,
  alternateSign = true,
  out?: HashedSlot,
): HashedSlot {
  const h = murmurhash3_32Pair(prefix, value);
  const slot = out ?? { index: 0, sign: 1 };
  slot.index = absModInt32(h, nFeatures);
  slot.sign = alternateSign && h < 0 ? -1 : 1;
  return slot;
}

function absModInt32(h: number, n: number): number {
  if (h === -2147483648) {
    // abs(INT32_MIN) overflows in C; sklearn's _hashing_fast defines it as 2^31 mod n, as here.
    return 2147483648 % n;
  }
  return Math.abs(h) % n;
}

/**
 * MurmurHash3 x86 32-bit (seed 0 by default) of the UTF-8 encoding of `s`, computed straight from the
 * string's UTF-16 code units so the serving path allocates nothing. Same result as
 * `murmurhash3x86_32Bytes(new TextEncoder().encode(s))` (lone surrogates encode as U+FFFD, as TextEncoder does).
 * Returns the signed int32 hash, as scikit-learn's `murmurhash3_32`. Hashes `first` followed by `second` as
 * one string without building it (each part's lone surrogates are encoded on their own).
 */
export function murmurhash3_32Pair(first: string, second: string, seed = 0): number {
  let h = seed | 0;
  let acc = 0;
  let nAcc = 0;
  let len = 0;
  const push = (byte: number): void => {
    acc |= byte << (nAcc * 8);
    nAcc++;
    len++;
    if (nAcc === 4) {
      let k = Math.imul(acc, C1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, C2);
      h ^= k;
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
      acc = 0;
      nAcc = 0;
    }
  };
  for (let part = 0; part < 2; part++) {
    const s = part === 0 ? first : second;
    const n = s.length;
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        push(c);
        continue;
      }
      if (c < 0x800) {
        push(0xc0 | (c >> 6));
        push(0x80 | (c & 0x3f));
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          push(0xf0 | (c >> 18));
          push(0x80 | ((c >> 12) & 0x3f));
          push(0x80 | ((c >> 6) & 0x3f));
          push(0x80 | (c & 0x3f));
          continue;
        }
        c = 0xfffd;
      }
      push(0xe0 | (c >> 12));
      push(0x80 | ((c >> 6) & 0x3f));
      push(0x80 | (c & 0x3f));
    }
  }
  if (nAcc > 0) {
    let k = Math.imul(acc, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** MurmurHash3 x86 32-bit of the UTF-8 bytes of `s` (signed int32). */
export const murmurhash3_32String = (s: string, seed = 0): number => murmurhash3_32Pair(s, '', seed);
