import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decimalQuotient } from './decimal.js';

/** hi, lo, loDigits, k of a decimal text of 16 to 19 significant digits with k fraction digits. */
function parts(digits: string, k: number) {
  const sig = digits.replace(/^0+/, '');
  return { hi: Number(sig.slice(0, 15)), lo: Number(sig.slice(15) || '0'), loDigits: sig.length - 15, k };
}

test('decimalQuotient is the double Number() reads, or NaN (left to Number())', () => {
  let decided = 0;
  let runs = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 16, max: 19 }),
      fc.integer({ min: 1, max: 22 }),
      fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 19, maxLength: 19 }),
      fc.integer({ min: 1, max: 9 }),
      (n, k, rest, first) => {
        const digits = `${first}${rest.slice(0, n - 1).join('')}`;
        const text =
          k >= digits.length
            ? `0.${'0'.repeat(k - digits.length)}${digits}`
            : `${digits.slice(0, digits.length - k)}.${digits.slice(digits.length - k)}`;
        const p = parts(digits, k);
        const v = decimalQuotient(p.hi, p.lo, p.loDigits, p.k);
        runs++;
        if (Number.isNaN(v)) return;
        decided++;
        assert.ok(Object.is(v, Number(text)), `${text}: ${v} vs ${Number(text)}`);
      },
    ),
    { numRuns: 20_000 },
  );
  assert.ok(decided > 0.95 * runs, `decided ${decided} of ${runs}`);
});

test('decimalQuotient: the shortest texts of doubles, and near ties, are read exactly', () => {
  fc.assert(
    fc.property(fc.double({ min: 1e-6, max: 1e6, noNaN: true }), (x) => {
      const text = String(x);
      const m = /^(\d+)\.(\d+)$/.exec(text);
      if (!m) return;
      const digits = `${m[1]}${m[2]}`.replace(/^0+/, '');
      if (digits.length < 16 || digits.length > 19) return;
      const p = parts(digits, m[2]!.length);
      const v = decimalQuotient(p.hi, p.lo, p.loDigits, p.k);
      if (!Number.isNaN(v)) assert.ok(Object.is(v, x), `${text}: ${v}`);
    }),
    { numRuns: 20_000 },
  );
  // halfway between two neighbouring doubles near 0.1 and 1, written with 19 digits (rounded either side)
  for (const base of [0.1, 0.7, 1.5, 123.456]) {
    const up = base + Number.EPSILON * base;
    for (const text of [base.toPrecision(19), up.toPrecision(19), ((base + up) / 2).toPrecision(19)]) {
      const [a, b] = text.split('.');
      const digits = `${a}${b}`.replace(/^0+/, '');
      const p = parts(digits, b!.length);
      const v = decimalQuotient(p.hi, p.lo, p.loDigits, p.k);
      if (!Number.isNaN(v)) assert.ok(Object.is(v, Number(text)), text);
    }
  }
});

test('decimalQuotient: exact ties between two doubles round to even (or are left to Number())', () => {
  // doubles in [2^52, 2^53) are 1 apart, in [2^51, 2^52) 0.5, in [2^50, 2^51) 0.25: their midpoints have
  // 17 to 19 significant digits and 1 to 3 fraction digits
  let decided = 0;
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 ** 30 }), (e, r) => {
      const x = 2 ** (52 - e) + r * 2 ** (20 - e); // a double, a multiple of 2^-e
      // the midpoint x + 2^-(e+1) = (x 2^(e+1) + 1) 5^(e+1) / 10^(e+1), in decimal
      const scaled = (BigInt(x * 2 ** (e + 1)) + 1n) * 5n ** BigInt(e + 1);
      const digits = String(scaled);
      const text = `${digits.slice(0, -(e + 1))}.${digits.slice(-(e + 1))}`;
      const p = parts(digits, e + 1);
      const v = decimalQuotient(p.hi, p.lo, p.loDigits, p.k);
      if (Number.isNaN(v)) return;
      decided++;
      assert.ok(Object.is(v, Number(text)), `${text}: ${v} vs ${Number(text)}`);
    }),
    { numRuns: 5_000 },
  );
  assert.equal(decided, 0, 'a tie is never decided by the double-double quotient');
});

test('decimalQuotient agrees with Number() on a million random texts of 16 to 19 digits', () => {
  let s = 12345;
  const digit = () => {
    // mulberry32
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % 10;
  };
  let undecided = 0;
  for (let it = 0; it < 1_000_000; it++) {
    const len = 16 + (it % 4);
    let digits = String(1 + (digit() % 9));
    for (let i = 1; i < len; i++) digits += digit();
    const k = 1 + (it % 22);
    const text =
      k >= len ? `0.${'0'.repeat(k - len)}${digits}` : `${digits.slice(0, len - k)}.${digits.slice(len - k)}`;
    const p = parts(digits, k);
    const v = decimalQuotient(p.hi, p.lo, p.loDigits, p.k);
    if (Number.isNaN(v)) undecided++;
    else if (v !== Number(text)) assert.fail(`${text}: ${v} vs ${Number(text)}`);
  }
  // exact ties are left to Number(): an odd integer between 2^53 and 2^54 written with a zero fraction (about
  // 500 of these texts; the shortest texts of doubles never are ties)
  assert.ok(undecided < 1000, `${undecided} undecided`);
});
