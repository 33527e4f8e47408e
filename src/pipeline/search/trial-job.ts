import type { Matrix } from '../../ml/matrix.js';
import type { ModelFactory, ModelJSON } from '../../ml/model.js';
import { findModelFactory } from '../../ml/model-kinds.js';
import { loadModelModule } from '../../ml/model-module.js';
import { fitTrial, type TrialFit, type TrialMatrices } from '../steps/fit-trial.js';

/**
 * One search trial as a job: what a worker thread (or the calling thread) needs to fit it, and what comes
 * back. The job's data holds the training and validation rows only: a trial cannot see the test rows.
 */

/** Set once per worker: the model and the rows every trial of the search fits and scores on. */
export interface TrialSetup {
  /** A built-in model kind, or the absolute path of a user's model module. */
  kind?: string;
  module?: string;
  matrices: TrialMatrices;
  labels: { train: Uint8Array; valid: Uint8Array };
  seed: number;
}

export interface TrialJob {
  id: number;
  name: string;
  params: Record<string, unknown>;
  /** Successive-halving rungs: boosting rounds at which the trial is compared with the others. */
  rungs: readonly number[];
  /** The score (higher is better) a trial needs at each rung to go on; -Infinity = no bar yet. */
  bars: readonly number[];
}

export interface TrialOutcome {
  id: number;
  status: 'complete' | 'pruned' | 'failed';
  /** Score (higher is better) at each rung the trial reached, else null. */
  rungScores: (number | null)[];
  /** The round the trial was stopped at when pruned. */
  prunedAt?: number;
  /** For complete trials: the fit, with the model as JSON (it crosses threads). */
  fit?: Omit<TrialFit, 'model'> & { model: ModelJSON };
  error?: string;
}

/** Thrown from the round callback to stop a fit that fell below a rung's bar. */
class Pruned extends Error {
  constructor(readonly round: number) {
    super(`pruned at round ${round}`);
  }
}

/**
 * The per-round validation metric as a higher-is-better score: loss metrics negated. Null when the round
 * reported no validation metric (a model without rounds cannot be pruned).
 */
export function roundScore(metrics: Record<string, number> | undefined): number | null {
  if (!metrics) return null;
  for (const [k, v] of Object.entries(metrics)) {
    if (!k.startsWith('valid_') || !Number.isFinite(v)) continue;
    return /loss|error|rmse/.test(k) ? -v : v;
  }
  return null;
}

/** The model factory of a setup (loads a user's module once per thread). */
export async function setupFactory(setup: TrialSetup): Promise<ModelFactory> {
  if (setup.module) return (await loadModelModule(setup.module, 'candidate module')).factory;
  return findModelFactory(setup.kind!);
}

/** Fit one trial, stopping it at the first rung whose bar it misses. Never throws: failures are outcomes. */
export async function runTrialJob(
  factory: ModelFactory,
  setup: TrialSetup,
  job: TrialJob,
): Promise<TrialOutcome> {
  const rungScores: (number | null)[] = job.rungs.map(() => null);
  try {
    const fit = await fitTrial(
      { name: job.name, factory, params: job.params },
      setup.matrices,
      setup.labels,
      setup.seed,
      (done, _total, metrics) => {
        const k = job.rungs.indexOf(done);
        if (k < 0) return;
        const score = roundScore(metrics);
        if (score === null) return;
        rungScores[k] = score;
        if (score < job.bars[k]!) throw new Pruned(done);
      },
    );
    return { id: job.id, status: 'complete', rungScores, fit: { ...fit, model: fit.model.toJSON() } };
  } catch (e) {
    if (e instanceof Pruned) return { id: job.id, status: 'pruned', rungScores, prunedAt: e.round };
    return { id: job.id, status: 'failed', rungScores, error: (e as Error).message };
  }
}

/** A matrix whose numbers live in shared memory, so worker threads read it without a copy per worker. */
export function sharedMatrix(m: Matrix): Matrix {
  const data = new Float64Array(new SharedArrayBuffer(Math.max(8, m.data.byteLength)), 0, m.data.length);
  data.set(m.data);
  return { rows: m.rows, cols: m.cols, data };
}
