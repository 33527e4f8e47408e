import type { BinCuts, BinnedRows, SparseRows } from './binning.js';
import { createHistogramBuilder, type HistogramBuilder, type RowPartitioner } from './tree-grower.js';

/*
 * The port between boosting (train.ts) and the histogram builders: the serial one here, the threaded one in
 * threads.ts. Both depend on this file and train.ts picks one, so neither imports the other.
 */

/** Hooks for the multi-threaded builder: a histogram builder over shared buffers, set up once per fit. */
export interface HistogramBackend {
  /**
   * Memory for the buffers the builders read (the binned matrix, the sparse rows): shared with the workers
   * when threads are used, so they are never copied.
   */
  memory(bytes: number): ArrayBufferLike;
  /**
   * Called once with the sparse rows and column-major bins (both in {@link memory}) and the gradient buffers
   * it allocated; `partition` null means the tree grower's own.
   */
  create(
    cuts: BinCuts,
    sparse: SparseRows,
    grad: Float64Array,
    hess: Float64Array,
    rows: Uint32Array,
    bins: BinnedRows,
  ): { build: HistogramBuilder; partition: RowPartitioner | null };
  /** Buffers for gradients/hessians/rows (shared with workers when threads are used). */
  allocate(n: number): { grad: Float64Array; hess: Float64Array; rows: Uint32Array };
  /** Releases threads etc. */
  close(): void;
}

/** The in-thread backend. */
export const serialBackend: HistogramBackend = {
  memory: (bytes) => new ArrayBuffer(bytes),
  create: (cuts, sparse, grad, hess) => ({
    build: createHistogramBuilder(cuts, sparse, grad, hess),
    partition: null,
  }),
  allocate: (n) => ({ grad: new Float64Array(n), hess: new Float64Array(n), rows: new Uint32Array(n) }),
  close: () => {},
};
