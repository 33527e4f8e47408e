import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createMatrix } from '../matrix.js';
import { type FlatTree, type Precision, TreeEnsemble } from './ensemble.js';
import { gbdtFromJSON } from './gbdt-classifier.js';
import { TreeShapExplainer } from './tree-shap.js';
import { importXgboostModel } from './xgboost-import.js';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);
const read = (name: string) => JSON.parse(readFileSync(fixture(name), 'utf8'));

interface ShapCase {
  model: string;
  inputs: (number | null)[][];
  margin: number[];
  contribs: number[][];
  interactions: number[][][];
}
const shap = read('shap-xgboost-1.7.4.json') as { cases: Record<string, ShapCase> };
const toRow = (r: (number | null)[]) => Float64Array.from(r, (v) => (v === null ? Number.NaN : v));

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let j = 0; j < expected.length; j++) {
    const d = Math.abs(actual[j]! - expected[j]!);
    if (!(d <= tol)) assert.fail(`${what}[${j}]: ${actual[j]} vs XGBoost ${expected[j]} (|diff| ${d})`);
  }
}

/**
 * The ways a tree is explained: block tables (default, their pass generated as code), per-leaf tables, the
 * recursion, and block tables through the interpreted pass.
 */
const METHODS = [{}, { blocks: false }, { tables: false }, { compiled: false }] as const;

function checkAgainstXgboost(explainer: TreeShapExplainer, c: ShapCase, name: string): void {
  if (explainer.blockTrees > 0) {
    // per-leaf tables (trees past the block limits) and the recursion (past the table limits, interactions)
    checkAgainstXgboost(new TreeShapExplainer(explainer.ensemble, METHODS[1]), c, `${name} (leaf tables)`);
  }
  if (explainer.tabulatedTrees > 0) {
    checkAgainstXgboost(new TreeShapExplainer(explainer.ensemble, METHODS[2]), c, `${name} (recursion)`);
  }
  const w = explainer.nFeatures + 1;
  const out = new Float64Array(w);
  if (explainer.blockTrees > 0) {
    // the compact (float32) block tables serving uses, and the block pass interpreted instead of generated
    for (const options of [{ compact: true }, { compact: true, compiled: false }, METHODS[3]]) {
      const other = new TreeShapExplainer(explainer.ensemble, options);
      c.inputs.forEach((r, i) => {
        other.contributions(toRow(r), out);
        assertClose(out, c.contribs[i]!, 1e-5, `${name} (${JSON.stringify(options)}) row ${i}`);
      });
    }
  }
  let thresholdRows = 0;
  c.inputs.forEach((r, i) => {
    explainer.contributions(toRow(r), out);
    assertClose(out, c.contribs[i]!, 1e-5, `${name} row ${i}`);
    if (r.some((v) => v === null)) thresholdRows++;
  });
  assert.ok(thresholdRows > 0, 'the fixture has rows with missing values');
  c.interactions.forEach((m, i) => {
    const got = explainer.interactions(toRow(c.inputs[i]!));
    assertClose(got, m.flat(), 1e-5, `${name} interactions row ${i}`);
  });
}

describe('TreeSHAP against XGBoost pred_contribs / pred_interactions (float32 as XGBoost evaluates)', () => {
  test('the imported XGBoost fixture model (depth 4, missing values, rows on thresholds)', () => {
    const c = shap.cases.xgboost!;
    const model = importXgboostModel(readFileSync(fixture(c.model), 'utf8'), { useBestIteration: false });
    const explainer = new TreeShapExplainer(model.ensemble);
    assert.equal(explainer.blockTrees, model.ensemble.nTrees, 'every depth-4 tree goes through block tables');
    checkAgainstXgboost(explainer, c, 'xgboost');
  });

  test('a deep imported XGBoost model (depth 10)', () => {
    const c = shap.cases.xgboost_deep!;
    const model = importXgboostModel(readFileSync(fixture(c.model), 'utf8'), { useBestIteration: false });
    checkAgainstXgboost(new TreeShapExplainer(model.ensemble), c, 'xgboost_deep');
  });

  test('a Tassel-trained model (lossguide, depth 9), XGBoost scoring it from its exported model.json', () => {
    const c = shap.cases.tassel!;
    const model = gbdtFromJSON(read(c.model));
    const explainer = new TreeShapExplainer(model.ensemble);
    checkAgainstXgboost(explainer, c, 'tassel');
    // and the bias is the base margin plus each tree's cover-weighted mean leaf
    assert.ok(Math.abs(explainer.expectedValue - c.contribs[0]!.at(-1)!) < 1e-5);
  });
});

/** An ensemble of `nTrees` random trees (and a random base) from `seed`, as the property tests draw them. */
function randomEnsemble(
  seed: number,
  nFeatures: number,
  maxDepth: number,
  nTrees: number,
  precision: Precision,
): TreeEnsemble {
  const rand = seeded(seed);
  const trees = Array.from({ length: nTrees }, () => randomTree(rand, nFeatures, maxDepth));
  return new TreeEnsemble(trees, rand() - 0.5, nFeatures, precision);
}

/** What a row's contributions may miss its margin by: float32 summation (TreeEnsemble.float32Slack), float64 rounding. */
const additivitySlack = (e: TreeEnsemble, row: Float64Array) => e.float32Slack(row) + 1e-9 * (1 + e.nTrees);

/** A float32 ensemble's trees, leaves and base as float64 arithmetic sees them (itself for a float64 one). */
function float64Twin(e: TreeEnsemble): TreeEnsemble {
  if (e.precision === 'float64') return e;
  const trees = e.trees.map((t) => ({
    ...t,
    threshold: t.threshold.map(Math.fround),
    value: t.value.map(Math.fround),
  }));
  return new TreeEnsemble(trees, e.baseMargin, e.nFeatures, 'float64');
}

/** A random tree in the engine's flat layout with consistent covers (each child's cover below its parent's). */
function randomTree(rand: () => number, nFeatures: number, maxDepth: number): FlatTree {
  const nodes: { f: number; t: number; l: number; r: number; d: number; v: number; c: number }[] = [];
  const grow = (depth: number, cover: number): number => {
    const i = nodes.length;
    nodes.push({ f: -1, t: 0, l: -1, r: -1, d: 0, v: 0, c: cover });
    if (depth < maxDepth && rand() < 0.85 - depth * 0.04) {
      const split = 0.05 + 0.9 * rand();
      nodes[i]!.f = Math.floor(rand() * nFeatures);
      nodes[i]!.t = Math.round((rand() * 6 - 3) * 4) / 4;
      nodes[i]!.d = rand() < 0.5 ? 1 : 0;
      nodes[i]!.l = grow(depth + 1, cover * split);
      nodes[i]!.r = grow(depth + 1, cover * (1 - split));
    } else nodes[i]!.v = (rand() - 0.5) * 0.7;
    return i;
  };
  grow(0, 100 + rand() * 1000);
  return {
    feature: Int32Array.from(nodes, (n) => n.f),
    threshold: Float64Array.from(nodes, (n) => n.t),
    left: Int32Array.from(nodes, (n) => n.l),
    right: Int32Array.from(nodes, (n) => n.r),
    defaultLeft: Uint8Array.from(nodes, (n) => n.d),
    value: Float64Array.from(nodes, (n) => n.v),
    gain: new Float64Array(nodes.length),
    cover: Float64Array.from(nodes, (n) => n.c),
  };
}

/** Brute-force Shapley values of one tree with the path-dependent value function E[f | x_S] (exponential in features). */
function bruteForceShap(tree: FlatTree, row: Float64Array, nFeatures: number): Float64Array {
  const expect = (n: number, inS: (f: number) => boolean): number => {
    const f = tree.feature[n]!;
    if (f < 0) return tree.value[n]!;
    const l = tree.left[n]!;
    const r = tree.right[n]!;
    if (inS(f)) {
      const x = row[f]!;
      const left = Number.isNaN(x) ? tree.defaultLeft[n] === 1 : x < tree.threshold[n]!;
      return expect(left ? l : r, inS);
    }
    const c = tree.cover[n]!;
    return (expect(l, inS) * tree.cover[l]!) / c + (expect(r, inS) * tree.cover[r]!) / c;
  };
  const phi = new Float64Array(nFeatures);
  const fact = (k: number): number => (k <= 1 ? 1 : k * fact(k - 1));
  for (let i = 0; i < nFeatures; i++) {
    for (let mask = 0; mask < 1 << nFeatures; mask++) {
      if (mask & (1 << i)) continue;
      let size = 0;
      for (let j = 0; j < nFeatures; j++) if (mask & (1 << j)) size++;
      const weight = (fact(size) * fact(nFeatures - size - 1)) / fact(nFeatures);
      const with_ = expect(0, (f) => f === i || (mask & (1 << f)) !== 0);
      const without = expect(0, (f) => (mask & (1 << f)) !== 0);
      phi[i] += weight * (with_ - without);
    }
  }
  return phi;
}

const seeded = (seed: number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const cell = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -14, max: 14 }).map((k) => k / 4) },
  { weight: 2, arbitrary: fc.double({ min: -4, max: 4, noNaN: true }) },
  { weight: 1, arbitrary: fc.constant(Number.NaN) },
);

describe('TreeSHAP properties on random trees and rows', () => {
  test('additivity: contributions + bias = the margin, for any depth, both precisions, missing values', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        // up to 16 features and depth 16: leaves past the 12-feature table limit take the recursion
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom<Precision>('float64', 'float32'),
        fc.array(fc.array(cell, { minLength: 16, maxLength: 16 }), { minLength: 1, maxLength: 5 }),
        (seed, nFeatures, maxDepth, nTrees, precision, rows) => {
          const e = randomEnsemble(seed, nFeatures, maxDepth, nTrees, precision);
          // float32: the same leaves summed in float64 (values rounded to float32 first, so the float64 walk
          // takes the float32 model's branches), which the contributions add up to at float64 precision
          const exact = float64Twin(e);
          for (const method of METHODS) {
            const explainer = new TreeShapExplainer(e, method);
            const out = new Float64Array(nFeatures + 1);
            for (const r of rows) {
              const row = Float64Array.from(r.slice(0, nFeatures));
              explainer.contributions(row, out);
              let sum = 0;
              for (const v of out) sum += v;
              if (!(Math.abs(sum - e.marginOf(row)) <= additivitySlack(e, row))) return false;
              const rounded = precision === 'float32' ? row.map(Math.fround) : row;
              if (!(Math.abs(sum - exact.marginOf(rounded)) <= 1e-9 * (1 + nTrees))) return false;
            }
          }
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });

  test('compact (float32) block tables: still additive to float64 rounding, each value within 1e-6 relative', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom<Precision>('float64', 'float32'),
        fc.array(fc.array(cell, { minLength: 16, maxLength: 16 }), { minLength: 1, maxLength: 5 }),
        (seed, nFeatures, maxDepth, nTrees, precision, rows) => {
          const e = randomEnsemble(seed, nFeatures, maxDepth, nTrees, precision);
          const exact = new TreeShapExplainer(e);
          const compact = new TreeShapExplainer(e, { compact: true });
          const want = new Float64Array(nFeatures + 1);
          const got = new Float64Array(nFeatures + 1);
          // the exact path's own tolerance: the residual per row puts back what float32 rounding took off
          for (const r of rows) {
            const row = Float64Array.from(r.slice(0, nFeatures));
            exact.contributions(row, want);
            compact.contributions(row, got);
            let sum = 0;
            let scale = 0;
            for (let j = 0; j <= nFeatures; j++) {
              sum += got[j]!;
              scale += Math.abs(want[j]!);
            }
            if (!(Math.abs(sum - e.marginOf(row)) <= additivitySlack(e, row))) return false;
            for (let j = 0; j < nFeatures; j++)
              if (!(Math.abs(got[j]! - want[j]!) <= 1e-6 * (1 + scale))) return false;
          }
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });

  test('the generated block pass equals the interpreted one (missing values, values on thresholds, infinities, -0)', () => {
    const edge = fc.oneof(
      { weight: 8, arbitrary: cell },
      { weight: 1, arbitrary: fc.constantFrom(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0) },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom<Precision>('float64', 'float32'),
        fc.boolean(),
        fc.array(fc.array(edge, { minLength: 16, maxLength: 16 }), { minLength: 1, maxLength: 5 }),
        (seed, nFeatures, maxDepth, nTrees, precision, compact, rows) => {
          const e = randomEnsemble(seed, nFeatures, maxDepth, nTrees, precision);
          const generated = new TreeShapExplainer(e, { compact });
          const interpreted = new TreeShapExplainer(e, { compact, compiled: false });
          const want = new Float64Array(nFeatures + 1);
          const got = new Float64Array(nFeatures + 1);
          for (const r of rows) {
            const row = Float64Array.from(r.slice(0, nFeatures));
            interpreted.contributions(row, want);
            generated.contributions(row, got);
            // the same table rows, added in the same order: the same numbers
            for (let j = 0; j <= nFeatures; j++) if (got[j] !== want[j]) return false;
          }
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });

  test('equals brute-force Shapley values of E[f(x) | x_S] over every feature subset', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(cell, { minLength: 6, maxLength: 6 }),
        (seed, nFeatures, r) => {
          const rand = seeded(seed);
          const tree = randomTree(rand, nFeatures, 7);
          const row = Float64Array.from(r.slice(0, nFeatures));
          const want = bruteForceShap(tree, row, nFeatures);
          for (const method of METHODS) {
            const explainer = new TreeShapExplainer(new TreeEnsemble([tree], 0, nFeatures), method);
            const got = explainer.contributions(row, new Float64Array(nFeatures + 1));
            for (let j = 0; j < nFeatures; j++) if (!(Math.abs(got[j]! - want[j]!) < 1e-9)) return false;
          }
          return true;
        },
      ),
      { numRuns: 200 },
    );
  });

  test('interaction rows sum to the SHAP values and the matrix is symmetric', () => {
    const rand = seeded(99);
    const trees = Array.from({ length: 6 }, () => randomTree(rand, 5, 6));
    const explainer = new TreeShapExplainer(new TreeEnsemble(trees, 0.1, 5));
    const row = Float64Array.from([0.25, Number.NaN, -1, 2, 0]);
    const phi = explainer.contributions(row, new Float64Array(6));
    const m = explainer.interactions(row);
    for (let i = 0; i < 6; i++) {
      let s = 0;
      for (let k = 0; k < 6; k++) {
        s += m[i * 6 + k]!;
        assert.ok(Math.abs(m[i * 6 + k]! - m[k * 6 + i]!) < 1e-9, `symmetric at ${i},${k}`);
      }
      assert.ok(Math.abs(s - phi[i]!) < 1e-9, `row ${i} sums to phi`);
    }
  });

  test('contributionsMatrix gives the per-row values and checks the width', () => {
    const rand = seeded(3);
    const e = new TreeEnsemble([randomTree(rand, 3, 5), randomTree(rand, 3, 5)], 0, 3);
    const explainer = new TreeShapExplainer(e);
    const X = createMatrix(2, 3, Float64Array.from([0, 1, Number.NaN, -2, 0.5, 3]));
    const all = explainer.contributionsMatrix(X);
    assert.deepEqual(
      Array.from(all.subarray(4, 8)),
      Array.from(explainer.contributions(X.data.subarray(3, 6), new Float64Array(4))),
    );
    assert.throws(() => explainer.contributionsMatrix(createMatrix(1, 2)), /expects 3 features/);
  });

  test('a model without node covers is refused with the reason', () => {
    const t = randomTree(seeded(1), 2, 3);
    t.cover.fill(0);
    if (t.feature[0]! >= 0) assert.throws(() => new TreeShapExplainer(new TreeEnsemble([t], 0, 2)), /cover/);
  });
});
