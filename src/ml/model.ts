import type { Matrix } from './matrix.js';

/** Labels are 0/1 (1 = the positive class, e.g. "Completed"). */
export type Labels = Uint8Array;

/** Options every fit understands; models add their own. */
export interface FitOptions {
  /** Per-row weights (default 1). */
  sampleWeight?: Float64Array;
  /** Rows used for early stopping / validation, never fitted on. */
  validation?: { X: Matrix; y: Labels };
  /** Feature names, for importances. */
  featureNames?: string[];
  /** Called after each iteration/round, for progress bars and step metrics. */
  onIteration?: (info: { iteration: number; total: number; metrics?: Record<string, number> }) => void;
  /** Seed for anything random. */
  seed?: number;
}

/** The JSON form of a fitted model: `kind` picks the loader, `format_version` its layout. */
export interface ModelJSON {
  kind: string;
  format_version: number;
  params: Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * A binary classifier. `fit` mutates the instance; `predictProba` returns P(y=1) per row.
 * `predictOne` scores a single feature row without allocating (the serving hot path).
 */
export interface Classifier {
  readonly kind: string;
  readonly params: Record<string, unknown>;
  fit(X: Matrix, y: Labels, options?: FitOptions): void | Promise<void>;
  predictProba(X: Matrix): Float64Array;
  predictOne(row: Float64Array): number;
  /** Extra facts worth logging (e.g. best_iteration, n_trees, importances). */
  summary?(): Record<string, unknown>;
  toJSON(): ModelJSON;
}

/** Creates an unfitted model from params, or restores a fitted one from JSON. */
export interface ModelFactory {
  readonly kind: string;
  create(params?: Record<string, unknown>): Classifier;
  fromJSON(json: ModelJSON): Classifier;
}
