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
