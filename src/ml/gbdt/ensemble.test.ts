import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type FlatTree, type Precision, TreeEnsemble } from './ensemble.js';

const fround = Math.fround;

/** The documented semantics, walked node by node over the FlatTree the ensemble was built from. */
function referenceMargin(
  trees: readonly FlatTree[],
  base: number,
  precision: Precision,
  row: number[],
): number {
  const f32 = precision === 'float32';
  let sum = f32 ? fround(base) : base;
  for (const t of trees) {
    let n = 0;
    while (t.feature[n]! >= 0) {
      const x = row[t.feature[n]!]!;
      if (Number.isNaN(x)) n = t.defaultLeft[n] ? t.left[n]! : t.right[n]!;
      else if (f32) n = fround(x) < fround(t.threshold[n]!) ? t.left[n]! : t.right[n]!;
      else n = x < t.threshold[n]! ? t.left[n]! : t.right[n]!;
    }
    sum = f32 ? fround(sum + fround(t.value[n]!)) : sum + t.value[n]!;
  }
  return sum;
}

/** A random tree in the engine's flat layout (children after their parent), unbalanced, up to `maxDepth`. */
function randomTree(rand: () => number, nFeatures: number, maxDepth: number): FlatTree {
  const feature: number[] = [];
  const threshold: number[] = [];
  const left: number[] = [];
  const right: number[] = [];
  const defaultLeft: number[] = [];
  const value: number[] = [];
  const grow = (depth: number): number => {
    const i = feature.length;
    feature.push(-1);
    threshold.push(0);
    left.push(-1);
    right.push(-1);
    defaultLeft.push(0);
    value.push(0);
    if (depth < maxDepth && rand() < 0.8 - depth * 0.05) {
      feature[i] = Math.floor(rand() * nFeatures);
      // thresholds on a grid the rows also use, so equality (x === threshold goes right) is exercised
      threshold[i] = Math.round((rand() * 6 - 3) * 4) / 4 + (rand() < 0.3 ? 1e-9 : 0);
      defaultLeft[i] = rand() < 0.5 ? 1 : 0;
      left[i] = grow(depth + 1);
      right[i] = grow(depth + 1);
    } else {
      value[i] = (rand() - 0.5) * 0.7;
    }
    return i;
  };
  grow(0);
  const n = feature.length;
  return {
    feature: Int32Array.from(feature),
    threshold: Float64Array.from(threshold),
    left: Int32Array.from(left),
    right: Int32Array.from(right),
    defaultLeft: Uint8Array.from(defaultLeft),
    value: Float64Array.from(value),
    gain: new Float64Array(n),
    cover: new Float64Array(n),
  };
}

// A cell of a row: mostly on the thresholds' grid (ties), sometimes NaN, +-Infinity, or beyond float32's range.
const cell = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: -14, max: 14 }).map((k) => k / 4) },
  { weight: 6, arbitrary: fc.double({ min: -4, max: 4, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY) },
  { weight: 1, arbitrary: fc.constantFrom(1e39, -1e39, 3.4028235677973366e38) },
);

describe('TreeEnsemble.marginOf', () => {
  // The finite-row walks (the cache-line blocks of blocked-walk.ts up to depth 6, else the breadth-first layout
  // with leaves looping onto themselves; several trees side by side: 8 in the float64 block walk, else 4) must give the same bits as the node-by-node
  // semantics, for any tree shapes and counts (groups of 4 and the rest), both precisions, and rows with or
  // without missing and out-of-range values.
  test('gives the reference walk bit for bit on random ensembles and rows', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 11 }),
        fc.integer({ min: 0, max: 9 }),
        fc.constantFrom<Precision>('float64', 'float32'),
        fc.integer(),
        fc.array(fc.array(cell, { minLength: 6, maxLength: 6 }), { minLength: 1, maxLength: 8 }),
        (nFeatures, nTrees, maxDepth, precision, seed, rows) => {
          let state = seed >>> 0 || 1;
          const rand = () => {
            state ^= state << 13;
            state ^= state >>> 17;
            state ^= state << 5;
            return (state >>> 0) / 2 ** 32;
          };
          const trees = Array.from({ length: nTrees }, () => randomTree(rand, nFeatures, maxDepth));
          const base = (rand() - 0.5) * 2;
          const ensemble = new TreeEnsemble(trees, base, nFeatures, precision);
          for (const full of rows) {
            const row = full.slice(0, nFeatures);
            const want = referenceMargin(trees, base, precision, row);
            assert.ok(Object.is(ensemble.marginOf(row), want), `row ${JSON.stringify(row)}`);
            // the same row inside a matrix, read at an offset
            const padded = [9.5, ...row];
            assert.ok(Object.is(ensemble.marginOf(padded, 1), want));
          }
        },
      ),
      { numRuns: 600 },
    );
  });

  test('a row of finite values and the same row with a missing value take their own paths', () => {
    // one split on feature 0 at 0.5, missing goes left; the finite walk must not be used for NaN
    const tree: FlatTree = {
      feature: Int32Array.from([0, -1, -1]),
      threshold: Float64Array.from([0.5, 0, 0]),
      left: Int32Array.from([1, -1, -1]),
      right: Int32Array.from([2, -1, -1]),
      defaultLeft: Uint8Array.from([1, 0, 0]),
      value: Float64Array.from([0, -1, 1]),
      gain: new Float64Array(3),
      cover: new Float64Array(3),
    };
    const ensemble = new TreeEnsemble([tree, tree, tree, tree, tree], 0, 1);
    assert.equal(ensemble.marginOf([0]), -5);
    assert.equal(ensemble.marginOf([0.5]), 5);
    assert.equal(ensemble.marginOf([Number.NaN]), -5);
    assert.equal(ensemble.marginOf([Number.POSITIVE_INFINITY]), 5);
  });
});
