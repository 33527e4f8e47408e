import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createMatrix } from '../matrix.js';
import { expf, float32CompareBound, xgboostSigmoid } from './float32-math.js';
import { gbdtFromJSON } from './gbdt-classifier.js';
import { importXgboostModel } from './xgboost-import.js';

const dir = new URL('./fixtures/', import.meta.url);
const readJson = (name: string) => JSON.parse(readFileSync(new URL(name, dir), 'utf8'));

/** Written by scripts/fixtures/make_float32_fixture.py: XGBoost 1.7.4's float32 outputs as bit patterns. */
const fixture = readJson('xgboost-1.7.4-float32.json') as {
  sigmoid: { margin: string[]; proba: string[] };
  models: {
    name: string;
    model: string;
    tassel_model?: string;
    rows_file: string;
    rows_key: string[];
    best_iteration_only: boolean;
    margin: string[];
    proba: string[];
  }[];
};

const float32 = (hex: string) => new Float32Array(Uint32Array.of(Number.parseInt(hex, 16)).buffer)[0]!;

/** Indices where `got` is not XGBoost's float32 value bit for bit (NaN equal to NaN, -0 not equal to 0). */
function misses(got: ArrayLike<number>, want: readonly string[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], float32(want[i]!))) out.push(i);
  return out;
}

describe("XGBoost's float32 arithmetic, bit for bit (fixture from xgboost 1.7.4)", () => {
  test("xgboostSigmoid is XGBoost's probability of every margin of the sweep", () => {
    const { margin, proba } = fixture.sigmoid;
    const got = margin.map((h) => xgboostSigmoid(float32(h)));
    assert.deepEqual(misses(got, proba), []);
    // the sweep holds margins where a correctly rounded exp would give another probability than glibc's expf
    const naive = margin.map((h) => {
      const x = Math.min(-float32(h), Math.fround(88.7));
      return Math.fround(1 / Math.fround(Math.fround(Math.fround(Math.exp(x)) + 1) + Math.fround(1e-16)));
    });
    assert.ok(misses(naive, proba).length > 0);
  });

  for (const c of fixture.models) {
    test(`${c.name}: margins and probabilities equal XGBoost's, batch and one row at a time`, () => {
      let rows: unknown = readJson(c.rows_file);
      for (const key of c.rows_key) rows = (rows as Record<string, unknown>)[key];
      const inputs = rows as (number | null)[][];
      const width = inputs[0]!.length;
      const X = createMatrix(
        inputs.length,
        width,
        Float64Array.from(inputs.flat(), (v) => (v === null ? Number.NaN : v)),
      );
      // the Tassel-trained model scored as a float32 model (it was saved before Tassel scored in float32)
      const model = c.tassel_model
        ? gbdtFromJSON({ ...readJson(c.tassel_model), precision: 'float32' })
        : importXgboostModel(readJson(c.model), { useBestIteration: c.best_iteration_only });
      assert.deepEqual(misses(model.predictMargin(X), c.margin), []);
      assert.deepEqual(misses(model.predictProba(X), c.proba), []);
      const one = Array.from({ length: X.rows }, (_, i) =>
        model.predictOne(X.data.subarray(i * width, (i + 1) * width)),
      );
      assert.deepEqual(misses(one, c.proba), []);
    });
  }

  test('extreme margins are in the fixture: past the 88.7 clamp and glibc expf underflow', () => {
    const scaled = fixture.models.find((c) => c.name.startsWith('leaves'))!;
    const margins = scaled.margin.map(float32);
    assert.ok(Math.min(...margins) < -103.98 && Math.max(...margins) > 88.7);
  });
});

describe('float32 helpers', () => {
  test("float32CompareBound: x < bound exactly when XGBoost's float(x) < threshold, for any float64 x", () => {
    const threshold = fc.float({ noNaN: true });
    // values near the threshold, within a few float32 steps, and anything at all
    const near = (t: number) =>
      fc.oneof(
        fc.double({ min: -(2 ** -20), max: 2 ** -20, noNaN: true }).map((d) => t + d * Math.abs(t)),
        fc.double({ noNaN: true }),
        fc.constantFrom(t, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, 2 ** 128 - 2 ** 103),
      );
    fc.assert(
      fc.property(
        threshold.chain((t) => fc.tuple(fc.constant(t), near(t))),
        ([t, x]) => x < float32CompareBound(t) === Math.fround(x) < t,
      ),
      { numRuns: 20000 },
    );
  });

  test("expf's edges: glibc's 0 below log(2^-150), Infinity above log(2^128), NaN, exact 1", () => {
    assert.equal(expf(Number.NEGATIVE_INFINITY), 0);
    assert.equal(expf(-104), 0);
    assert.equal(expf(89), Number.POSITIVE_INFINITY);
    assert.ok(Number.isNaN(expf(Number.NaN)));
    assert.equal(expf(0), 1);
    assert.equal(expf(-0), 1);
    // the smallest subnormal float32 is still reached just above the underflow bound
    assert.equal(expf(-103.97), 2 ** -149);
  });
});
