import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPrng } from '../../ml/gbdt/prng.js';
import { createMatrix, type Matrix } from '../../ml/matrix.js';
import { evaluateBinary } from '../../ml/metrics.js';
import { parseSearchSpace } from '../../ml/search/space.js';
import { halvingRungs, rungBars, runSearch, type SearchPlan, type SearchTrial } from './run-search.js';
import type { TrialOutcome, TrialSetup } from './trial-job.js';
import { createTrialPool } from './trial-pool.js';

/** Rows with a non-linear signal in 6 features, from a seed. */
function rows(n: number, seed: number): { X: Matrix; y: Uint8Array } {
  const rng = createPrng(seed);
  const X = createMatrix(n, 6);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 6; j++) X.data[i * 6 + j] = rng.next() * 2 - 1;
    const z = 2 * X.data[i * 6]! + 3 * X.data[i * 6 + 1]! * X.data[i * 6 + 2]! - X.data[i * 6 + 3]! ** 2;
    y[i] = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return { X, y };
}

const train = rows(1500, 1);
const valid = rows(500, 2);
const setup: TrialSetup = {
  kind: 'gbdt',
  matrices: { train: train.X, valid: valid.X, featureNames: ['a', 'b', 'c', 'd', 'e', 'f'] },
  labels: { train: train.y, valid: valid.y },
  seed: 3,
};
const plan = (over: Partial<SearchPlan> = {}): SearchPlan => ({
  strategy: 'tpe',
  space: parseSearchSpace(
    {
      max_depth: { int: [1, 6] },
      eta: { float: [0.01, 0.5], log: true },
      min_child_weight: { float: [0.5, 30], log: true },
    },
    'space',
  ),
  base: { n_estimators: 60, early_stopping_rounds: 10 },
  trials: 7,
  maxSeconds: null,
  batch: 3,
  seed: 11,
  pruning: { rungs: halvingRungs(5, 3, 60), keep: 1 / 3, minTrials: 3 },
  ...over,
});
const score = (o: TrialOutcome) => o.fit!.valid.roc_auc;
/** What a search decided: trial params, states, rung scores and validation AUCs (no timings). */
const decisions = (ts: SearchTrial[]) =>
  ts.map((t) => ({
    params: t.params,
    status: t.outcome.status,
    rungs: t.outcome.rungScores,
    valid: t.outcome.fit?.valid.roc_auc ?? null,
  }));

async function search(p: SearchPlan, workers: number): Promise<{ trials: SearchTrial[]; batches: number[] }> {
  const pool = await createTrialPool(setup, workers);
  const batches: number[] = [];
  try {
    const trials = await runSearch(
      p,
      pool,
      score,
      async (b) => void batches.push(b.length),
      (n) => `t${n}`,
    );
    return { trials, batches };
  } finally {
    await pool.close();
  }
}

describe('hyperparameter search', { timeout: 180_000 }, () => {
  test('halving rungs and bars: the top 1/eta of earlier trials at a rung set its bar', () => {
    assert.deepEqual(halvingRungs(5, 3, 60), [5, 15, 45]);
    const done = [0.7, 0.9, 0.8, 0.6, 0.5, 0.95].map((s, i) => ({
      number: i,
      params: {},
      outcome: { id: i, status: 'complete', rungScores: [s, null, null] } as TrialOutcome,
    }));
    const bars = rungBars(done, plan());
    assert.equal(bars[0], 0.9); // 6 trials, keep 1/3: the 2nd best
    assert.equal(bars[1], Number.NEGATIVE_INFINITY); // nobody reached rung 2 yet
  });

  test('respects a trial budget, and a time budget stops after the running batch', async () => {
    const a = await search(plan(), 1);
    assert.equal(a.trials.length, 7);
    assert.deepEqual(a.batches, [3, 3, 1]);
    assert.ok(a.trials.some((t) => t.outcome.status === 'complete'));
    const timed = await search(plan({ trials: 50, maxSeconds: 1e-9 }), 1);
    assert.equal(timed.trials.length, 3, 'one batch started before the deadline was checked again');
  });

  test('reproducible per seed, on one thread or two worker threads; another seed searches elsewhere', async () => {
    const one = await search(plan(), 1);
    const two = await search(plan(), 2);
    assert.deepEqual(decisions(two.trials), decisions(one.trials));
    const other = await search(plan({ seed: 12 }), 2);
    assert.notDeepEqual(
      other.trials.map((t) => t.params),
      one.trials.map((t) => t.params),
    );
  });

  test('pruning stops weak trials early on the validation rows', async () => {
    const r = await search(plan({ trials: 12, strategy: 'random', seed: 5 }), 2);
    const pruned = r.trials.filter((t) => t.outcome.status === 'pruned');
    assert.ok(pruned.length > 0, 'some trials were pruned');
    for (const t of pruned) assert.ok([5, 15, 45].includes(t.outcome.prunedAt!));
    // a complete trial's validation AUC is what the model scores on those rows
    const c = r.trials.find((t) => t.outcome.status === 'complete')!;
    const { findModelFactory } = await import('../../ml/model-kinds.js');
    const model = findModelFactory('gbdt').fromJSON(c.outcome.fit!.model);
    assert.equal(
      evaluateBinary(valid.y, model.predictProba(valid.X), 0.5).roc_auc,
      c.outcome.fit!.valid.roc_auc,
    );
  });
});
