import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { createMatrix, type Matrix } from '../matrix.js';
import { binMatrix, binTrainingMatrix, computeBinCuts } from './binning.js';
import { type GbdtClassifier, gbdtFactory, gbdtFromJSON } from './gbdt-classifier.js';
import { aucScore } from './metrics.js';
import { resolveGbdtParams } from './params.js';
import { createPrng } from './prng.js';
import {
  createThreadedBackend,
  fitThreads,
  idleGbdtThreads,
  MIN_THREADED_CELLS,
  prestartGbdtThreads,
  usesThreads,
} from './threads.js';
import { trainGbdt } from './train.js';

function data(n: number, cols: number, seed: number, label: (x: Float64Array) => number) {
  const rng = createPrng(seed);
  const X = new Float64Array(n * cols);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const row = X.subarray(i * cols, (i + 1) * cols);
    for (let j = 0; j < cols; j++) row[j] = rng.next() * 2 - 1;
    y[i] = rng.next() < label(row) ? 1 : 0;
  }
  return { X: createMatrix(n, cols, X), y };
}

const fit = (params: Record<string, unknown>, X: Matrix, y: Uint8Array, opts = {}) => {
  const m = gbdtFactory.create(params) as GbdtClassifier;
  m.fit(X, y, opts);
  return m;
};

const splits = (m: GbdtClassifier) =>
  m.ensemble.trees.reduce((s, t) => s + t.feature.filter((f) => f >= 0).length, 0);

const xor = (r: Float64Array) => (r[0]! > 0 !== r[1]! > 0 ? 0.95 : 0.05);

describe('gbdt training', () => {
  test('learns an XOR interaction that no single feature (or linear score) carries', () => {
    const train = data(2000, 3, 1, xor);
    const test = data(1000, 3, 2, xor);
    const m = fit({ n_estimators: 30, max_depth: 3, eta: 0.3 }, train.X, train.y);
    const auc = aucScore(test.y, m.predictProba(test.X));
    assert.ok(auc > 0.9, `auc ${auc}`);
    // Each feature alone is uninformative: its AUC is near 0.5.
    for (let j = 0; j < 2; j++) {
      const col = Float64Array.from({ length: test.X.rows }, (_, i) => test.X.data[i * 3 + j]!);
      assert.ok(Math.abs(aucScore(test.y, col) - 0.5) < 0.05);
    }
  });

  test('missing values follow the learned default direction', () => {
    // x missing -> mostly positive; otherwise positive iff x > 0.5.
    const n = 1200;
    const rng = createPrng(3);
    const X = new Float64Array(n);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (i % 4 === 0) {
        X[i] = Number.NaN;
        y[i] = rng.next() < 0.9 ? 1 : 0;
      } else {
        X[i] = rng.next();
        y[i] = X[i]! > 0.5 ? 1 : 0;
      }
    }
    const m = fit({ n_estimators: 1, max_depth: 1, eta: 1 }, createMatrix(n, 1, X), y);
    const t = m.ensemble.trees[0]!;
    assert.equal(t.feature[0], 0);
    assert.ok(Math.abs(t.threshold[0]! - 0.5) < 0.05);
    assert.equal(t.defaultLeft[0], 0, 'missing joins the positive (right) side');
    const pMissing = m.predictOne(Float64Array.of(Number.NaN));
    assert.equal(pMissing, m.predictOne(Float64Array.of(0.9)));
    assert.ok(pMissing > 0.5);
    // Flip: missing mostly negative -> default left.
    for (let i = 0; i < n; i += 4) y[i] = 1 - y[i]!;
    const m2 = fit({ n_estimators: 1, max_depth: 1, eta: 1 }, createMatrix(n, 1, X), y);
    assert.equal(m2.ensemble.trees[0]!.defaultLeft[0], 1);
    assert.ok(m2.predictOne(Float64Array.of(Number.NaN)) < 0.5);
  });

  test("a split of missing from all values, as XGBoost's, at its last cut (largest + |largest| + 1e-5)", () => {
    // Whether x is missing carries the label; its values (including a constant column's) carry nothing.
    const n = 800;
    const rng = createPrng(5);
    for (const constant of [false, true]) {
      const X = new Float64Array(n);
      const y = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const missing = i % 3 === 0;
        X[i] = missing ? Number.NaN : constant ? 4 : Math.round(rng.next() * 8) / 2;
        y[i] = rng.next() < (missing ? 0.9 : 0.1) ? 1 : 0;
      }
      const m = fit({ n_estimators: 1, max_depth: 1, eta: 1 }, createMatrix(n, 1, X), y);
      const t = m.ensemble.trees[0]!;
      assert.equal(t.feature[0], 0, `constant ${constant}`);
      assert.equal(t.threshold[0], Math.fround(4 + (4 + 1e-5)));
      assert.equal(t.defaultLeft[0], 0);
      assert.ok(m.predictOne(Float64Array.of(Number.NaN)) > 0.5);
      assert.ok(m.predictOne(Float64Array.of(4)) < 0.5);
    }
  });

  test('gamma and min_child_weight prune splits as XGBoost documents', () => {
    const d = data(1500, 4, 4, (r) => 1 / (1 + Math.exp(-3 * (r[0]! + r[1]! * r[2]!))));
    const base = fit({ n_estimators: 5, max_depth: 4 }, d.X, d.y);
    const gamma = fit({ n_estimators: 5, max_depth: 4, gamma: 5 }, d.X, d.y);
    const mcw = fit({ n_estimators: 5, max_depth: 4, min_child_weight: 40 }, d.X, d.y);
    assert.ok(splits(gamma) < splits(base), `${splits(gamma)} < ${splits(base)}`);
    assert.ok(splits(mcw) < splits(base), `${splits(mcw)} < ${splits(base)}`);
    for (const t of gamma.ensemble.trees)
      for (let i = 0; i < t.gain.length; i++) if (t.feature[i]! >= 0) assert.ok(t.gain[i]! >= 5);
    for (const t of mcw.ensemble.trees) for (let i = 1; i < t.cover.length; i++) assert.ok(t.cover[i]! >= 40);
    const none = fit({ n_estimators: 3, max_depth: 4, gamma: 1e9 }, d.X, d.y);
    assert.equal(splits(none), 0);
  });

  test('lambda and alpha shrink leaf weights by the documented formulas', () => {
    const d = data(800, 2, 5, (r) => (r[0]! > 0 ? 0.8 : 0.2));
    const stump = (params: Record<string, unknown>) =>
      fit({ n_estimators: 1, max_depth: 1, eta: 1, base_score: 0.5, ...params }, d.X, d.y);
    // At base_score 0.5 every row has g = p - y = +-0.5 and h = 0.25.
    const plain = stump({ lambda: 0 });
    const t = plain.ensemble.trees[0]!;
    const leafStats = (leaf: number) => {
      let g = 0;
      let h = 0;
      for (let i = 0; i < d.X.rows; i++) {
        const x = d.X.data[i * 2 + t.feature[0]!]!;
        if ((x < t.threshold[0]! ? t.left[0] : t.right[0]) === leaf) {
          g += 0.5 - d.y[i]!;
          h += 0.25;
        }
      }
      return { g, h };
    };
    const leaves = [t.left[0]!, t.right[0]!];
    for (const [params, w] of [
      [{ lambda: 0 }, (g: number, h: number) => -g / h],
      [{ lambda: 50 }, (g: number, h: number) => -g / (h + 50)],
      [
        { lambda: 1, alpha: 10 },
        (g: number, h: number) => -(g > 10 ? g - 10 : g < -10 ? g + 10 : 0) / (h + 1),
      ],
    ] as const) {
      const m = stump(params);
      const mt = m.ensemble.trees[0]!;
      assert.equal(mt.feature[0], t.feature[0]);
      for (const leaf of leaves) {
        const { g, h } = leafStats(leaf);
        // stored as XGBoost stores a leaf: float32 (eta 1 multiplies exactly)
        assert.ok(
          Math.abs(mt.value[leaf]! - w(g, h)) <= 2 ** -24 * Math.abs(w(g, h)) + 1e-12,
          `${JSON.stringify(params)}: ${mt.value[leaf]} vs ${w(g, h)}`,
        );
        assert.equal(mt.value[leaf], Math.fround(mt.value[leaf]!));
      }
    }
    const big = stump({ lambda: 50 }).ensemble.trees[0]!;
    for (const leaf of leaves) assert.ok(Math.abs(big.value[leaf]!) < Math.abs(t.value[leaf]!));
  });

  test('the same seed gives an identical model; another seed a different one', () => {
    const d = data(1000, 6, 6, (r) => (r[0]! + r[3]! > 0 ? 0.85 : 0.15));
    const params = {
      n_estimators: 8,
      max_depth: 3,
      subsample: 0.7,
      colsample_bytree: 0.6,
      colsample_bynode: 0.7,
      seed: 9,
    };
    const a = JSON.stringify(fit(params, d.X, d.y).toJSON());
    const b = JSON.stringify(fit(params, d.X, d.y).toJSON());
    const c = JSON.stringify(fit({ ...params, seed: 10 }, d.X, d.y).toJSON());
    assert.equal(a, b);
    assert.notEqual(a, c);
  });

  test('nthread 2 (worker threads) gives a bit-identical model to nthread 1', () => {
    const d = data(5000, 6, 16, (r) => 1 / (1 + Math.exp(-3 * (r[0]! * r[1]! + r[2]! - r[5]!))));
    for (let i = 0; i < 5000; i += 9) d.X.data[i * 6 + 1] = Number.NaN;
    // Missing cells in a strong feature, so splits send them to a learned side in large (threaded) nodes.
    for (let i = 0; i < 5000; i += 4) d.X.data[i * 6 + 2] = Number.NaN;
    const valid = data(800, 6, 17, (r) => 1 / (1 + Math.exp(-3 * (r[0]! * r[1]! + r[2]! - r[5]!))));
    const params = resolveGbdtParams({
      n_estimators: 8,
      max_depth: 5,
      subsample: 0.8,
      colsample_bynode: 0.8,
      seed: 3,
      early_stopping_rounds: 3,
      scale_pos_weight: 1.5,
    });
    const sampleWeight = Float64Array.from({ length: 5000 }, (_, i) => 0.5 + (i % 7) / 4);
    const opts = { validation: valid, sampleWeight };
    // The table is below MIN_THREADED_CELLS, so the workers are forced by passing the threaded backend.
    const one = trainGbdt(d.X, d.y, { ...params, nthread: 1 }, opts);
    for (const nthread of [2, 3]) {
      const many = trainGbdt(
        d.X,
        d.y,
        { ...params, nthread },
        opts,
        createThreadedBackend(nthread, { minParallelCells: 0 }),
      );
      assert.deepEqual(many.ensemble, one.ensemble, `nthread ${nthread}`);
      assert.deepEqual(many.validHistory, one.validHistory);
    }
    // Through the classifier, nthread 2 on a small table runs in the calling thread: the same model again.
    const viaModel = fit({ ...params, nthread: 2 }, d.X, d.y, opts);
    assert.deepEqual(viaModel.ensemble, one.ensemble);
    assert.equal(viaModel.params.nthread, 2);
  });

  test('worker threads start only for tables of at least MIN_THREADED_CELLS cells', () => {
    assert.equal(usesThreads(2, 18_979, 63), true, 'an OULAD-sized table runs on worker threads');
    assert.equal(usesThreads(2, 10_000, 63), false, 'half of it runs in the calling thread');
    assert.equal(usesThreads(2, 100_000, 118), true);
    assert.equal(usesThreads(2, 1_000_000, 129), true);
    assert.equal(usesThreads(2, MIN_THREADED_CELLS / 100, 100), true);
    assert.equal(usesThreads(2, MIN_THREADED_CELLS / 100 - 1, 100), false);
    assert.equal(usesThreads(1, 1_000_000, 129), false, 'nthread 1 never starts a worker');
    assert.equal(fitThreads(8, 1_000_000, 129, 2), 2, 'never more threads than cores');
    assert.equal(fitThreads(8, 1_000_000, 129, 1), 1);
    assert.equal(fitThreads(3, 1_000_000, 129, 16), 3);
  });

  test('threaded fits equal serial ones on small tables, column sampling, lossguide and nthread > features', () => {
    const d = data(700, 3, 21, xor);
    for (let i = 0; i < 700; i += 5) d.X.data[i * 3] = Number.NaN;
    const cases: Record<string, unknown>[] = [
      { n_estimators: 6, max_depth: 4, colsample_bytree: 0.7, colsample_bynode: 0.6, seed: 4 },
      { n_estimators: 6, grow_policy: 'lossguide', max_leaves: 9, max_depth: 0, alpha: 0.5, gamma: 0.1 },
      // Binned matrices of one byte per cell (max_bin 32) and two (400 value bins of 700 distinct values).
      { n_estimators: 4, max_depth: 5, max_bin: 32 },
      { n_estimators: 4, max_depth: 5, max_bin: 400 },
    ];
    prestartGbdtThreads(5);
    assert.ok(idleGbdtThreads() >= 4);
    // Every fit after the first takes pooled workers that served an earlier fit: nothing of it may leak in.
    for (const c of cases) {
      const params = resolveGbdtParams(c);
      const one = trainGbdt(d.X, d.y, { ...params, nthread: 1 });
      // 5 threads on 3 features (and on a 2-core machine): some ranges are empty, nothing changes.
      for (const nthread of [2, 5]) {
        const many = trainGbdt(
          d.X,
          d.y,
          { ...params, nthread },
          {},
          createThreadedBackend(nthread, { minParallelCells: 0 }),
        );
        assert.deepEqual(many.ensemble, one.ensemble, `${JSON.stringify(c)} at nthread ${nthread}`);
      }
    }
  });

  test('threaded depth-wise levels cut into several hand-offs, and nodes of many partition tasks', () => {
    // 9,000 rows: the root's rows are partitioned as five tasks of at most 2,048 rows, put back together; a
    // level capacity of 3 node jobs cuts every level from depth 2 on into several hand-offs (512 in fits).
    const d = data(9000, 5, 31, (r) => 1 / (1 + Math.exp(-4 * Math.sin(3 * r[0]!) * r[1]! - r[2]!)));
    for (let i = 0; i < 9000; i += 7) d.X.data[i * 5 + 3] = Number.NaN;
    const params = resolveGbdtParams({ n_estimators: 3, max_depth: 7, colsample_bynode: 0.8, seed: 5 });
    const one = trainGbdt(d.X, d.y, { ...params, nthread: 1 });
    assert.ok(one.ensemble.trees.every((t) => t.feature.filter((f) => f >= 0).length > 40));
    for (const nthread of [2, 3]) {
      for (const levelCapacity of [3, 512]) {
        const many = trainGbdt(
          d.X,
          d.y,
          { ...params, nthread },
          {},
          createThreadedBackend(nthread, { minParallelCells: 0, levelCapacity }),
        );
        assert.deepEqual(many.ensemble, one.ensemble, `nthread ${nthread}, level capacity ${levelCapacity}`);
      }
    }
  });

  test('back-to-back fits on pooled workers keep every message of the next fit (a worker woken late)', () => {
    // A pooled worker that wakes only after the next fit has posted its init and histograms must keep them;
    // it dropped them with the last fit's once (1-2 % of such fits failed "expected a message" under load).
    const d = data(2000, 4, 23, (r) => (r[0]! > 0 ? 0.8 : 0.2));
    const params = resolveGbdtParams({ n_estimators: 3, max_depth: 4 });
    const one = JSON.stringify(trainGbdt(d.X, d.y, { ...params, nthread: 1 }).ensemble);
    for (let k = 0; k < 400; k++) {
      const backend = createThreadedBackend(2, { minParallelCells: 0 });
      const many = trainGbdt(d.X, d.y, { ...params, nthread: 2 }, {}, backend);
      assert.equal(JSON.stringify(many.ensemble), one, `fit ${k}`);
    }
  });

  test('a worker that fails makes the fit throw a clear error, or the caller does its jobs; never a wrong model', () => {
    const d = data(300, 3, 22, xor);
    const params = { ...resolveGbdtParams({ n_estimators: 3 }), nthread: 2 };
    // A worker claiming its first job and answering with the failure report of the real worker's protocol.
    const failing = `
      const { workerData } = require('node:worker_threads');
      const c = new Int32Array(workerData.ctl);
      let s = Atomics.load(c, 0);
      while (Atomics.load(c, 12) === s) { Atomics.wait(c, 0, s); s = Atomics.load(c, 0); }
      Atomics.compareExchange(c, 12, s - 1, s);
      const msg = new TextEncoder().encode('Error: disk on fire\\n    at somewhere');
      new Uint8Array(workerData.error).set(msg);
      c[11] = msg.length;
      c[10] = 1;
      Atomics.store(c, 1, Atomics.load(c, 0));
      Atomics.notify(c, 1);`;
    const opts = { timeoutMs: 5000, minParallelCells: 0, steal: false };
    assert.throws(
      () => trainGbdt(d.X, d.y, params, {}, createThreadedBackend(2, { source: failing, ...opts })),
      /gbdt: worker thread failed: Error: disk on fire$/,
    );
    // A worker that dies at start-up never answers: the fit fails after the timeout...
    const dead = "throw new Error('no isolate for you');";
    assert.throws(
      () =>
        trainGbdt(d.X, d.y, params, {}, createThreadedBackend(2, { source: dead, ...opts, timeoutMs: 300 })),
      /gbdt: worker thread did not answer within 300 ms/,
    );
    // ...unless the caller may do the jobs its worker has not started (the default): then it does them all.
    const alone = trainGbdt(
      d.X,
      d.y,
      params,
      {},
      createThreadedBackend(2, { source: dead, minParallelCells: 0 }),
    );
    assert.deepEqual(alone.ensemble, trainGbdt(d.X, d.y, { ...params, nthread: 1 }).ensemble);
  });

  test('early stopping keeps the trees up to the best validation round', () => {
    const train = data(600, 5, 7, (r) => (r[0]! > 0 ? 0.7 : 0.3));
    const valid = data(400, 5, 8, (r) => (r[0]! > 0 ? 0.7 : 0.3));
    const seen: number[] = [];
    const m = fit({ n_estimators: 200, max_depth: 6, eta: 0.3, early_stopping_rounds: 5 }, train.X, train.y, {
      validation: valid,
      onIteration: (i: { metrics?: Record<string, number> }) => seen.push(i.metrics!.valid_logloss!),
    });
    const s = m.summary();
    const best = s.best_iteration as number;
    assert.ok((s.rounds_run as number) < 200, 'overfitting noise stops early');
    assert.equal(s.rounds_run, best + 1 + 5);
    assert.equal(s.n_trees, best + 1);
    assert.equal(Math.min(...seen), seen[best]);
    // The kept model scores the validation set exactly as at the best round.
    const p = m.predictProba(valid.X);
    let ll = 0;
    for (let i = 0; i < p.length; i++) ll -= valid.y[i] ? Math.log(p[i]!) : Math.log(1 - p[i]!);
    assert.ok(Math.abs(ll / p.length - seen[best]!) < 1e-12);
    assert.throws(() => fit({ early_stopping_rounds: 5 }, train.X, train.y), /needs a validation set/);
  });

  test('loss-guided growth respects max_leaves; depth-wise respects max_depth', () => {
    const d = data(1500, 4, 11, (r) => 1 / (1 + Math.exp(-4 * (r[0]! * r[1]! + r[2]!))));
    const lg = fit({ n_estimators: 10, grow_policy: 'lossguide', max_leaves: 6, max_depth: 0 }, d.X, d.y);
    for (const t of lg.ensemble.trees) assert.ok(t.feature.filter((f) => f < 0).length <= 6);
    assert.ok(lg.ensemble.trees.some((t) => t.feature.filter((f) => f < 0).length === 6));
    const dw = fit({ n_estimators: 10, max_depth: 2 }, d.X, d.y);
    for (const t of dw.ensemble.trees) assert.ok(t.feature.length <= 7);
    const test = data(800, 4, 12, (r) => 1 / (1 + Math.exp(-4 * (r[0]! * r[1]! + r[2]!))));
    assert.ok(aucScore(test.y, lg.predictProba(test.X)) > 0.75);
    assert.ok(aucScore(test.y, dw.predictProba(test.X)) > 0.75);
  });

  test('importances follow XGBoost definitions and use feature names', () => {
    const d = data(1000, 3, 13, (r) => (r[1]! > 0 ? 0.9 : 0.1));
    const m = fit({ n_estimators: 5, max_depth: 2 }, d.X, d.y, { featureNames: ['a', 'b', 'c'] });
    const weight = m.featureImportances('weight');
    const total = Object.values(weight).reduce((s, v) => s + v, 0);
    assert.equal(total, splits(m));
    assert.equal(Object.keys(m.featureImportances('gain'))[0], 'b');
    const tg = m.featureImportances('total_gain');
    const g = m.featureImportances('gain');
    for (const k of Object.keys(weight)) assert.ok(Math.abs(tg[k]! / weight[k]! - g[k]!) < 1e-9);
  });
});

describe('gbdt format and prediction', () => {
  test('JSON round trip predicts bit-identically; predictOne matches the batch path', () => {
    const d = data(700, 4, 14, (r) => (r[0]! * r[2]! > 0 ? 0.8 : 0.2));
    for (let i = 0; i < 700; i += 7) d.X.data[i * 4 + 2] = Number.NaN;
    const m = fit({ n_estimators: 12, max_depth: 4, eta: 0.2, subsample: 0.8 }, d.X, d.y, {
      featureNames: ['w', 'x', 'y', 'z'],
    });
    const json = JSON.parse(JSON.stringify(m.toJSON()));
    assert.equal(json.format_version, 1);
    const back = gbdtFromJSON(json);
    const a = m.predictProba(d.X);
    const b = back.predictProba(d.X);
    assert.deepEqual(b, a);
    for (let i = 0; i < 700; i += 50)
      assert.equal(back.predictOne(d.X.data.subarray(i * 4, i * 4 + 4)), a[i]);
    assert.deepEqual(back.featureImportances('cover'), m.featureImportances('cover'));
  });

  test('damaged model.json is rejected with a clear error', () => {
    const d = data(200, 2, 15, (r) => (r[0]! > 0 ? 0.8 : 0.2));
    const json = fit({ n_estimators: 2 }, d.X, d.y).toJSON();
    assert.throws(() => gbdtFromJSON({ ...json, format_version: 99 }), /format_version 99/);
    const trees = json.trees as Array<Record<string, number[]>>;
    const broken = { ...json, trees: [{ ...trees[0]!, left: [5, 5, 5] }] };
    assert.throws(() => gbdtFromJSON(broken), /invalid gbdt model.json/);
  });

  test('params: aliases accepted, bad values rejected', () => {
    assert.equal(resolveGbdtParams({ learning_rate: 0.05, 'max-depth': '4' }).eta, 0.05);
    assert.equal(resolveGbdtParams({ 'max-depth': '4' }).max_depth, 4);
    assert.throws(() => resolveGbdtParams({ subsample: 0 }), /subsample/);
    assert.throws(() => resolveGbdtParams({ max_detph: 3 }), /unknown parameter "max_detph"/);
  });

  test('bin cuts: few distinct values get one bin each, many get at most max_bin', () => {
    const n = 1000;
    const X = new Float64Array(n * 2);
    for (let i = 0; i < n; i++) {
      X[i * 2] = i % 3;
      X[i * 2 + 1] = i === 5 ? Number.NaN : i * 0.5;
    }
    const c = computeBinCuts(createMatrix(n, 2, X), 16);
    assert.deepEqual(Array.from(c.cuts.subarray(c.cutStart[0]!, c.cutStart[1]!)), [1, 2]);
    assert.ok(c.nBins[1]! <= 16 && c.nBins[1]! >= 15);
  });

  test('the training matrix binned in one pass equals its cuts then binMatrix, 8- and 16-bit bins', () => {
    const n = 8000;
    const cols = 24;
    const rng = createPrng(5);
    const X = new Float64Array(n * cols);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < cols; j++) {
        const u = rng.next();
        // Numeric, few-valued, one-hot and missing-heavy columns; infinities bin like any value.
        X[i * cols + j] =
          j % 4 === 0
            ? u * 100
            : j % 4 === 1
              ? Math.floor(u * 5)
              : j % 4 === 2
                ? u < 0.1
                  ? 1
                  : 0
                : u < 0.3
                  ? Number.NaN
                  : u;
      }
    }
    X[7 * cols] = Number.POSITIVE_INFINITY;
    X[9 * cols] = Number.NEGATIVE_INFINITY;
    const M = createMatrix(n, cols, X);
    // max_bin 200 keeps every bin and missing in a byte; 9,000 gives each numeric column a bin per value.
    for (const maxBin of [200, 9000]) {
      const { cuts, bins } = binTrainingMatrix(M, maxBin);
      const c = computeBinCuts(M, maxBin);
      assert.deepEqual(cuts, c);
      const expected = binMatrix(c, M);
      // Each column as narrow as its feature's bins and missing allow.
      assert.deepEqual(
        bins.map((col) => col.BYTES_PER_ELEMENT),
        Array.from(cuts.nBins, (nb) => (nb <= 255 ? 1 : 2)),
      );
      if (maxBin === 9000) assert.ok(bins.some((col) => col.BYTES_PER_ELEMENT === 2));
      assert.deepEqual(bins, expected);
    }
  });

  test("bin cuts past max_bin are XGBoost's sketch: every split XGBoost 1.7.4 made is one of our cuts", () => {
    // Column and labels of scripts/fixtures/make_sketch_fixture.py (4,749 distinct values, skewed).
    const fixture = JSON.parse(
      readFileSync(new URL('./fixtures/xgboost-1.7.4-sketch.json', import.meta.url), 'utf8'),
    ) as { distinct: number; thresholds: number[] };
    const n = 6000;
    const X = Float64Array.from({ length: n }, (_, i) => Math.floor(((i * 7919) % 4999) ** 2 / 997));
    assert.equal(new Set(X).size, fixture.distinct);
    const c = computeBinCuts(createMatrix(n, 1, X), 256);
    assert.ok(c.nBins[0]! <= 256);
    const ours = new Set(Array.from(c.cuts, (v) => Math.fround(v)));
    const missing = fixture.thresholds.filter((t) => !ours.has(Math.fround(t)));
    assert.deepEqual(missing, [], 'XGBoost thresholds that are not Tassel cut points');
  });
});
