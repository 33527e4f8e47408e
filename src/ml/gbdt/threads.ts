import { Worker } from 'node:worker_threads';
import type { BinCuts, SparseRows } from './binning.js';
import type { HistogramBackend } from './histogram-backend.js';
import { createHistogramBuilder, fillDefaultSlots, type HistogramBuilder } from './tree-grower.js';

/**
 * Multi-threaded histogram building. The global bin slots are cut into `nthread` ranges of about equal
 * cell counts; thread k adds, for every row of the node in row order, that row's cells falling in range k.
 * Each slot is therefore summed by one thread in exactly the serial order: the histograms, and so the
 * models, are bit-identical for every nthread. The main thread does range 0 itself, workers the others,
 * synchronised with Atomics on shared memory (no message passing on the hot path). Small nodes are not worth
 * a wake-up and are built in the calling thread.
 */

/** Nodes with fewer rows are built without the workers. */
export const MIN_PARALLEL_ROWS = 2048;

// Control block per worker (Int32): [0] job sequence, [1] done sequence, [2] start, [3] end, [4] command.
const CMD_HIST = 1;
const CMD_EXIT = 2;

/** The worker's source: plain JS run with eval, so it needs no TypeScript loader. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { ctl, rowStart, slots, lo, hi, grad, hess, rows, scratch, slotLo, slotHi } = workerData;
const c = new Int32Array(ctl);
const rs = new Uint32Array(rowStart);
const sl = slots.bytes === 2 ? new Uint16Array(slots.buffer) : new Uint32Array(slots.buffer);
const from = new Uint32Array(lo);
const to = new Uint32Array(hi);
const g = new Float64Array(grad);
const h = new Float64Array(hess);
const rw = new Uint32Array(rows);
const out = new Float64Array(scratch);
let seen = 0;
for (;;) {
  Atomics.wait(c, 0, seen);
  seen = Atomics.load(c, 0);
  if (c[4] === ${CMD_EXIT}) break;
  const start = c[2], end = c[3];
  out.fill(0, 2 * slotLo, 2 * slotHi);
  for (let i = start; i < end; i++) {
    const r = rw[i];
    const gr = g[r], hr = h[r];
    const e = to[r];
    for (let k = from[r]; k < e; k++) {
      const s = sl[k] << 1;
      out[s] += gr;
      out[s + 1] += hr;
    }
  }
  Atomics.store(c, 1, seen);
  Atomics.notify(c, 1);
}
`;

const shared = (bytes: number) => new SharedArrayBuffer(Math.max(8, bytes));

/** Slot boundaries cutting the non-missing cells into `nthread` ranges of about equal counts. */
function slotBounds(cuts: BinCuts, sparse: SparseRows, nthread: number): number[] {
  const n = sparse.rowStart.length - 1;
  const total = cuts.slotOffset[cuts.nFeatures]!;
  const nnz = sparse.rowStart[n]!;
  const perSlot = new Float64Array(total);
  for (let k = 0; k < nnz; k++) perSlot[sparse.slots[k]!]!++;
  const bounds = [0];
  let acc = 0;
  for (let s = 0; s < total && bounds.length < nthread; s++) {
    acc += perSlot[s]!;
    if (acc >= (bounds.length * nnz) / nthread) bounds.push(s + 1);
  }
  while (bounds.length < nthread) bounds.push(total);
  bounds.push(total);
  return bounds;
}

/** cellAt[b][r]: first cell of row r with slot >= bounds[b], in shared memory. */
function rowCellStarts(sparse: SparseRows, bounds: number[]): Uint32Array[] {
  const n = sparse.rowStart.length - 1;
  return bounds.map((b) => {
    const a = new Uint32Array(shared(4 * n));
    for (let r = 0; r < n; r++) {
      let k = sparse.rowStart[r]!;
      const e = sparse.rowStart[r + 1]!;
      while (k < e && sparse.slots[k]! < b) k++;
      a[r] = k;
    }
    return a;
  });
}

/** The sparse rows copied into shared memory (the serial path reads them too, so the originals can go). */
function sharedSparse(sparse: SparseRows): SparseRows {
  const n = sparse.rowStart.length - 1;
  const nnz = sparse.rowStart[n]!;
  const rowStart = new Uint32Array(shared(4 * (n + 1)));
  rowStart.set(sparse.rowStart);
  const slots =
    sparse.slots.BYTES_PER_ELEMENT === 2 ? new Uint16Array(shared(2 * nnz)) : new Uint32Array(shared(4 * nnz));
  slots.set(sparse.slots);
  return { rowStart, slots, defaultSlot: sparse.defaultSlot };
}

interface WorkerRange {
  ctl: Int32Array;
  out: Float64Array;
  worker: Worker;
}

/** Start the worker summing cells [lo[r], hi[r]) of every row, i.e. slots [slotLo, slotHi). */
function startWorker(
  sparse: SparseRows,
  buffers: { grad: Float64Array; hess: Float64Array; rows: Uint32Array },
  lo: Uint32Array,
  hi: Uint32Array,
  slotRange: [number, number],
  totalSlots: number,
): WorkerRange {
  const ctl = new Int32Array(shared(4 * 8));
  const out = new Float64Array(shared(16 * totalSlots));
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    execArgv: [],
    // The worker only touches shared memory: a small heap keeps its isolate cheap.
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
    workerData: {
      ctl: ctl.buffer,
      rowStart: sparse.rowStart.buffer,
      slots: { buffer: sparse.slots.buffer, bytes: sparse.slots.BYTES_PER_ELEMENT },
      lo: lo.buffer,
      hi: hi.buffer,
      grad: buffers.grad.buffer,
      hess: buffers.hess.buffer,
      rows: buffers.rows.buffer,
      scratch: out.buffer,
      slotLo: slotRange[0],
      slotHi: slotRange[1],
    },
  });
  worker.unref();
  return { ctl, out, worker };
}

/** A histogram backend running `nthread - 1` worker threads besides the caller. */
export function createThreadedBackend(nthread: number): HistogramBackend {
  const ranges: WorkerRange[] = [];
  return {
    allocate(n) {
      return {
        grad: new Float64Array(shared(8 * n)),
        hess: new Float64Array(shared(8 * n)),
        rows: new Uint32Array(shared(4 * n)),
      };
    },
    create(cuts: BinCuts, original: SparseRows, grad, hess, rows): HistogramBuilder {
      const total = cuts.slotOffset[cuts.nFeatures]!;
      const bounds = slotBounds(cuts, original, nthread);
      const cellAt = rowCellStarts(original, bounds);
      const sparse = sharedSparse(original);
      const serial = createHistogramBuilder(cuts, sparse, grad, hess);
      for (let w = 1; w < nthread; w++) {
        const slotRange: [number, number] = [bounds[w]!, bounds[w + 1]!];
        ranges.push(startWorker(sparse, { grad, hess, rows }, cellAt[w]!, cellAt[w + 1]!, slotRange, total));
      }
      const from0 = cellAt[0]!;
      const to0 = cellAt[1]!;
      const sl = sparse.slots;
      return (hist, rowsArg, start, end, features, gTotal, hTotal) => {
        if (end - start < MIN_PARALLEL_ROWS || ranges.length === 0) {
          serial(hist, rowsArg, start, end, features, gTotal, hTotal);
          return;
        }
        const seqs: number[] = [];
        for (const { ctl } of ranges) {
          ctl[2] = start;
          ctl[3] = end;
          ctl[4] = CMD_HIST;
          seqs.push(Atomics.add(ctl, 0, 1) + 1);
          Atomics.notify(ctl, 0);
        }
        hist.fill(0);
        for (let i = start; i < end; i++) {
          const r = rowsArg[i]!;
          const g = grad[r]!;
          const h = hess[r]!;
          const e = to0[r]!;
          for (let k = from0[r]!; k < e; k++) {
            const s = sl[k]! << 1;
            hist[s]! += g;
            hist[s + 1]! += h;
          }
        }
        ranges.forEach(({ ctl, out }, w) => {
          let d = Atomics.load(ctl, 1);
          while (d !== seqs[w]) {
            Atomics.wait(ctl, 1, d);
            d = Atomics.load(ctl, 1);
          }
          const lo = 2 * bounds[w + 1]!;
          const hi = 2 * bounds[w + 2]!;
          hist.set(out.subarray(lo, hi), lo);
        });
        fillDefaultSlots(hist, cuts, sparse.defaultSlot, features, gTotal, hTotal);
      };
    },
    close() {
      for (const { ctl } of ranges) {
        ctl[4] = CMD_EXIT;
        Atomics.add(ctl, 0, 1);
        Atomics.notify(ctl, 0);
      }
      for (const { worker } of ranges) void worker.terminate();
      ranges.length = 0;
    },
  };
}
