import {
  createRandomSampler,
  createTpeSampler,
  type Observation,
  type Sampler,
} from '../../ml/search/sampler.js';
import type { SearchSpace } from '../../ml/search/space.js';
import type { TrialJob, TrialOutcome } from './trial-job.js';
import type { TrialPool } from './trial-pool.js';

/** How a search runs: strategy, budget, parallelism and pruning. */
export interface SearchPlan {
  strategy: 'random' | 'tpe';
  space: SearchSpace;
  /** Fixed params every trial gets under the searched ones. */
  base: Record<string, unknown>;
  /** Budget: at most this many trials... */
  trials: number;
  /** ...and no new batch after this many seconds (trials already running finish). */
  maxSeconds: number | null;
  /**
   * Trials proposed together from the same history. Independent of the worker count, so a seed gives the
   * same trials on any machine; batches run `workers` trials at a time.
   */
  batch: number;
  seed: number;
  /** Successive halving: rung rounds and the fraction of trials kept at each rung; null = no pruning. */
  pruning: { rungs: number[]; keep: number; minTrials: number } | null;
}

/** One trial of a search, in proposal order. */
export interface SearchTrial {
  number: number;
  params: Record<string, unknown>;
  outcome: TrialOutcome;
}

/** The rung rounds of successive halving: first, first*eta, ... below maxRounds. */
export function halvingRungs(first: number, eta: number, maxRounds: number): number[] {
  const out: number[] = [];
  for (let r = first; r < maxRounds; r *= eta) out.push(Math.round(r));
  return out;
}

/**
 * The bar at each rung: a trial must score at least the score of the trial ranked at the `keep` fraction
 * among the earlier trials that reached that rung (so the top `keep` go on, as in asynchronous successive
 * halving); -Infinity while fewer than `minTrials` reached it.
 */
export function rungBars(done: readonly SearchTrial[], plan: SearchPlan): number[] {
  if (!plan.pruning) return [];
  const { rungs, keep, minTrials } = plan.pruning;
  return rungs.map((_, k) => {
    const scores = done
      .map((t) => t.outcome.rungScores[k])
      .filter((s): s is number => typeof s === 'number')
      .sort((a, b) => b - a);
    if (scores.length < minTrials) return Number.NEGATIVE_INFINITY;
    return scores[Math.max(0, Math.ceil(keep * scores.length) - 1)]!;
  });
}

function samplerOf(plan: SearchPlan): Sampler {
  return plan.strategy === 'tpe'
    ? createTpeSampler(plan.space, plan.seed)
    : createRandomSampler(plan.space, plan.seed);
}

/** What the samplers learn from: complete trials by their final score, pruned ones by their last rung. */
function observations(done: readonly SearchTrial[], finalScore: (o: TrialOutcome) => number): Observation[] {
  return done
    .filter((t) => t.outcome.status !== 'failed')
    .map((t) => {
      if (t.outcome.status === 'complete') return { params: t.params, score: finalScore(t.outcome) };
      // a pruned trial ranks below every complete one
      return { params: t.params, score: Number.NEGATIVE_INFINITY };
    });
}

/**
 * Run a search: propose a batch from the history (random or TPE), run it on the pool with the current
 * rung bars, record the outcomes in proposal order, until the trial budget is spent or the time is up.
 * `onBatch` sees each finished batch (the caller logs child runs there). Reproducible for a seed under a
 * trial budget; under a time budget the trials are a prefix of the same sequence.
 */
export async function runSearch(
  plan: SearchPlan,
  pool: TrialPool,
  finalScore: (o: TrialOutcome) => number,
  onBatch: (trials: readonly SearchTrial[]) => Promise<void>,
  name: (n: number) => string,
): Promise<SearchTrial[]> {
  const sampler = samplerOf(plan);
  const done: SearchTrial[] = [];
  const started = performance.now();
  const timeUp = () => plan.maxSeconds !== null && (performance.now() - started) / 1000 >= plan.maxSeconds;
  // the first batch always runs (as Optuna checks its timeout after a trial), so a search has results
  while (done.length < plan.trials && (done.length === 0 || !timeUp())) {
    const n = Math.min(plan.batch, plan.trials - done.length);
    const proposals = sampler.propose(observations(done, finalScore), n);
    const bars = rungBars(done, plan);
    const jobs: TrialJob[] = proposals.map((p, i) => ({
      id: done.length + i,
      name: name(done.length + i),
      params: { ...plan.base, ...p },
      rungs: plan.pruning?.rungs ?? [],
      bars,
    }));
    const outcomes = await pool.run(jobs);
    const batch = jobs.map((j, i) => ({ number: j.id, params: j.params, outcome: outcomes[i]! }));
    done.push(...batch);
    await onBatch(batch);
  }
  return done;
}
