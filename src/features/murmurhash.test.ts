import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  hashSlot,
  hashSlotPair,
  murmurhash3_32,
  murmurhash3_32Pair,
  murmurhash3_32Utf8Reference,
  murmurhash3x86_32Bytes,
} from './murmurhash.js';

interface HashingFixture {
  sklearn_version: string;
  tokens: string[];
  murmurhash3_32_seed0: number[];
  murmurhash3_32_seed42_first50: number[];
  feature_hasher: { n_features: number; alternate_sign: boolean; placed: ([number, number] | null)[] }[];
  feature_hasher_rows: { n_features: number; alternate_sign: boolean; rows: string[][]; dense: number[][] };
}

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/hashing.json', import.meta.url), 'utf8'),
) as HashingFixture;

describe('murmurhash3_32 (scikit-learn fixture)', () => {
  test('fixture is big and has non-ASCII tokens', () => {
    assert.ok(fixture.tokens.length >= 400);
    assert.ok(fixture.tokens.some((t) => [...t].some((ch) => ch.codePointAt(0)! > 0x7f)));
    assert.ok(
      fixture.tokens.some((t) => /[\u{10000}-\u{10ffff}]/u.test(t)),
      'astral-plane characters',
    );
  });

  test('every token hashes as sklearn.utils.murmurhash3_32(seed=0)', () => {
    fixture.tokens.forEach((t, i) => {
      assert.equal(murmurhash3_32(t), fixture.murmurhash3_32_seed0[i], `token ${JSON.stringify(t)}`);
    });
  });

  test('seeded hashes match too', () => {
    fixture.murmurhash3_32_seed42_first50.forEach((h, i) => {
      assert.equal(murmurhash3_32(fixture.tokens[i]!, 42), h);
    });
  });

  test('the allocation-free string path equals the TextEncoder byte path', () => {
    for (const t of [...fixture.tokens, 'lone \ud800 surrogate', '\udc00x', 'end\ud83d']) {
      assert.equal(murmurhash3_32(t), murmurhash3_32Utf8Reference(t), JSON.stringify(t));
    }
  });

  test('hashing two parts equals hashing their concatenation', () => {
    for (const t of fixture.tokens) {
      const chars = [...t]; // split between code points, never inside a surrogate pair
      for (const cut of [0, Math.floor(chars.length / 3), chars.length]) {
        const a = chars.slice(0, cut).join('');
        const b = chars.slice(cut).join('');
        assert.equal(
          murmurhash3_32Pair(a, b),
          murmurhash3_32(t),
          `${JSON.stringify(a)} + ${JSON.stringify(b)}`,
        );
      }
    }
    assert.deepEqual(hashSlotPair('gender=', 'F', 1024, false), hashSlot('gender=F', 1024, false));
  });

  test('positive=true gives the unsigned value', () => {
    const h = murmurhash3_32('gender=F');
    assert.equal(murmurhash3_32('gender=F', 0, true), h >>> 0);
    assert.equal(murmurhash3x86_32Bytes(new Uint8Array(0)), 0);
  });
});

describe('hashSlot (FeatureHasher placement)', () => {
  test('anchor test vectors (n=1024, alternate_sign=False)', () => {
    assert.equal(hashSlot('code_module=AAA', 1024, false).index, 263);
    assert.equal(hashSlot('gender=F', 1024, false).index, 604);
    assert.equal(hashSlot('imd_band=__NA__', 1024, false).index, 230);
  });

  for (const c of fixture.feature_hasher) {
    test(`n_features=${c.n_features} alternate_sign=${c.alternate_sign}`, () => {
      let negatives = 0;
      fixture.tokens.forEach((t, i) => {
        const expected = c.placed[i];
        assert.ok(expected, `sklearn placed ${JSON.stringify(t)}`);
        const slot = hashSlot(t, c.n_features, c.alternate_sign);
        assert.deepEqual([slot.index, slot.sign], expected, JSON.stringify(t));
        if (slot.sign < 0) negatives++;
      });
      if (c.alternate_sign) assert.ok(negatives > 50, 'signs alternate');
      else assert.equal(negatives, 0);
    });
  }
});
