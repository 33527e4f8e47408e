import { averageGbdt } from '../../ml/gbdt/average.js';
import { GbdtClassifier } from '../../ml/gbdt/gbdt-classifier.js';
import { type BinaryEvaluation, evaluateBinary } from '../../ml/metrics.js';
import type { TrialMatrices } from './fit-trial.js';

/** A search trial as the ensemble sees it: its name, validation score and fitted model. */
export interface EnsembleMember {
  name: string;
  selectionScore: number;
  model: unknown;
}

/** The averaged model of the best trials, scored on the training and validation rows. */
export interface SearchEnsemble {
  members: string[];
  model: GbdtClassifier;
  train: BinaryEvaluation;
  valid: BinaryEvaluation;
}

/**
 * The best `k` complete trials by validation score (ties: the earlier trial), averaged in log-odds into one
 * GBDT ({@link averageGbdt}) and scored on the training and validation rows. It sees the trial matrices only
 * (training and validation rows): the test rows choose nothing. Null with fewer than two GBDT trials.
 */
export function searchEnsemble(
  trials: readonly EnsembleMember[],
  k: number,
  f: TrialMatrices,
  labels: { train: Uint8Array; valid: Uint8Array },
): SearchEnsemble | null {
  const ranked = trials
    .map((t, i) => ({ t, i }))
    .filter(({ t }) => t.model instanceof GbdtClassifier && Number.isFinite(t.selectionScore))
    .sort((a, b) => b.t.selectionScore - a.t.selectionScore || a.i - b.i)
    .slice(0, k)
    .map(({ t }) => t);
  if (ranked.length < 2) return null;
  const model = averageGbdt(ranked.map((t) => t.model as GbdtClassifier));
  return {
    members: ranked.map((t) => t.name),
    model,
    train: evaluateBinary(labels.train, model.predictProba(f.train), 0.5),
    valid: evaluateBinary(labels.valid, model.predictProba(f.valid), 0.5),
  };
}
