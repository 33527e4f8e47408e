import type { BinCuts, BinnedRows, SparseRows } from './binning.js';
import type { GbdtParams } from './params.js';
import { createSerialNodeKernel, type NodeKernel, type RowPartitioner } from './tree-grower.js';

/*
 * The port between boosting (train.ts) and the histogram builders: the serial one here, the threaded one in
 * threads.ts. Both depend on this file and train.ts picks one, so neither imports the other.
 */

/** What the logistic loss's gradients are computed from; `odds` is in the backend's memory. */
export interface GradientInputs {
  /**
   * Each row's odds exp(margin): boosting multiplies them by exp(leaf value), an exp per leaf and round
   * instead of one per row (Math.exp was ~13 % of an OULAD fit's CPU).
   */
  odds: Float64Array;
  y: ArrayLike<number>;
  /** Sample weights, if any. */
  w: ArrayLike<number> | undefined;
  /** scale_pos_weight: the weight of positive rows. */
  spw: number;
}

/** The logistic function of a margin given its odds e = exp(margin) (1 at e = Infinity, 0 at e = 0). */
export const probabilityOfOdds = (e: number) => 1 / (1 + 1 / e);

/** Logistic-loss gradients and hessians of rows [start, end) at the current odds (positives weighted by spw). */
export function logisticGradients(
  { odds, y, w, spw }: GradientInputs,
  grad: Float64Array,
  hess: Float64Array,
  start: number,
  end: number,
): void {
  for (let i = start; i < end; i++) {
    const pr = probabilityOfOdds(odds[i]!);
    let wi = w ? w[i]! : 1;
    if (y[i] === 1) wi *= spw;
    grad[i] = (pr - y[i]!) * wi;
    hess[i] = Math.max(pr * (1 - pr), 1e-16) * wi;
  }
}

/** What a backend builds for one fit; null members mean the serial code in train.ts / tree-grower.ts. */
export interface FitKernels {
  node: NodeKernel;
  partition: RowPartitioner | null;
  /** Fills every row's gradient and hessian from the GradientInputs given to create(). */
  gradients: (() => void) | null;
}

/** Hooks for the multi-threaded builder: a histogram builder over shared buffers, set up once per fit. */
export interface HistogramBackend {
  /**
   * Memory for the buffers the builders read (the binned matrix, the sparse rows): shared with the workers
   * when threads are used, so they are never copied.
   */
  memory(bytes: number): ArrayBufferLike;
  /**
   * Called once with the sparse rows and column-major bins (both in {@link memory}), the gradient buffers
   * it allocated and what gradients are computed from.
   */
  create(
    cuts: BinCuts,
    sparse: SparseRows,
    grad: Float64Array,
    hess: Float64Array,
    rows: Uint32Array,
    bins: BinnedRows,
    targets: GradientInputs,
    params: GbdtParams,
  ): FitKernels;
  /** Buffers for gradients/hessians/rows (shared with workers when threads are used). */
  allocate(n: number): { grad: Float64Array; hess: Float64Array; rows: Uint32Array };
  /** Releases threads etc. */
  close(): void;
}

/** The in-thread backend. */
export const serialBackend: HistogramBackend = {
  memory: (bytes) => new ArrayBuffer(bytes),
  create: (cuts, sparse, grad, hess, _rows, _bins, _targets, params) => ({
    node: createSerialNodeKernel(cuts, sparse, grad, hess, params),
    partition: null,
    gradients: null,
  }),
  allocate: (n) => ({ grad: new Float64Array(n), hess: new Float64Array(n), rows: new Uint32Array(n) }),
  close: () => {},
};
