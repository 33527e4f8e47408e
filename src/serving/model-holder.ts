import type { ServedModel } from './served-model.js';

/** Readiness of the service: a real model (`ok`), nothing yet (`loading`) or the fallback (`degraded`). */
export type ReadyState = 'ok' | 'loading' | 'degraded';

/**
 * Holds the model being served. A swap is one reference assignment: a request reads `current` once and keeps
 * that object to the end, so requests in flight finish on the model they started with.
 */
export interface ModelHolder {
  /** The model to score with, or null while the first load is still running. */
  readonly current: ServedModel | null;
  /** The last real (non-fallback) model that served, kept for its prior and schema. */
  readonly lastGood: ServedModel | null;
  readonly state: ReadyState;
  /** Number of swaps so far. */
  readonly swaps: number;
  /** Replace the served model (atomically); listeners run after the switch. */
  swap(model: ServedModel): void;
  /** Called after every swap with the new and previous model. */
  onSwap(listener: (next: ServedModel, previous: ServedModel | null) => void): () => void;
}

/** Creates an empty holder (state `loading`), or one serving `initial`. */
export function createModelHolder(initial: ServedModel | null = null): ModelHolder {
  let current: ServedModel | null = initial;
  let lastGood: ServedModel | null = initial && !initial.fallback ? initial : null;
  let swaps = 0;
  const listeners = new Set<(next: ServedModel, previous: ServedModel | null) => void>();
  return {
    get current() {
      return current;
    },
    get lastGood() {
      return lastGood;
    },
    get state(): ReadyState {
      return current === null ? 'loading' : current.fallback ? 'degraded' : 'ok';
    },
    get swaps() {
      return swaps;
    },
    swap(model) {
      const previous = current;
      current = model;
      if (!model.fallback) lastGood = model;
      swaps++;
      for (const l of listeners) l(model, previous);
    },
    onSwap(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
