import type { BinCuts, BinnedRows, SparseRows } from './binning.js';
import { fitRecord } from './fit-record.js';
import { xgboostGradients } from './float32-math.js';
import type { GbdtParams } from './params.js';
import { createSerialNodeKernel, type LevelPartitioner, type NodeKernel } from './tree-grower.js';

/*
 * The port between boosting (train.ts) and the histogram builders: the serial one here, the threaded one in
 * threads.ts. Both depend on this file and train.ts picks one, so neither imports the other.
 */

/** What the logistic loss's gradients are computed from; `margin` is in the backend's memory. */
export interface GradientInputs {
  /**
   * Each row's margin as XGBoost keeps it: float32 values, each tree's leaf added in float32 (XGBoost's
   * prediction cache), so that the gradients are XGBoost's float32 ones.
   */
  margin: Float64Array;
  y: ArrayLike<number>;
  /** Sample weights, if any. */
  w: ArrayLike<number> | undefined;
  /** scale_pos_weight: the weight of positive rows. */
  spw: number;
}

/** Logistic-loss gradients and hessians of rows [start, end), XGBoost's float32 ones (see xgboostGradients). */
export function logisticGradients(
  { margin, y, w, spw }: GradientInputs,
  grad: Float64Array,
  hess: Float64Array,
  start: number,
  end: number,
): void {
  xgboostGradients(margin, y, w ?? null, spw, grad, hess, start, end);
}

/** What a backend builds for one fit; null members mean the serial code in train.ts / tree-grower.ts. */
export interface FitKernels {
  node: NodeKernel;
  /** Partitions tree levels' nodes (loss-guided growth: one node a call); null: in the calling thread. */
  levelPartition: LevelPartitioner | null;
  /** Fills every row's gradient and hessian from the GradientInputs given to create(). */
  gradients: GradientKernel | null;
}

/** Computes every row's gradient and hessian (an object with a method: see SerialNodeKernel for why). */
export interface GradientKernel {
  compute(): void;
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
  create: (cuts, sparse, grad, hess, _rows, _bins, _targets, params) =>
    fitRecord({
      node: createSerialNodeKernel(cuts, sparse, grad, hess, params),
      levelPartition: null,
      gradients: null,
    }),
  allocate: (n) =>
    fitRecord({ grad: new Float64Array(n), hess: new Float64Array(n), rows: new Uint32Array(n) }),
  close: () => {},
};
