import { Worker } from 'node:worker_threads';
import type { BinCuts, BinnedRows, SparseRows } from './binning.js';
import { type GradientInputs, type HistogramBackend, logisticGradients } from './histogram-backend.js';
import {
  createHistogramBuilder,
  fillDefaultSlots,
  type HistogramBuilder,
  type RowPartitioner,
} from './tree-grower.js';

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

/**
 * Tables with fewer cells (rows x features) are fitted without worker threads whatever nthread says: a
 * worker's isolate costs about 8.8 MB and its start-up and hand-offs cost about what it saves on such a table
 * (OULAD's 19k x 63 = 1.2M cells fitted no faster on two threads; 100k x 129 = 12.9M cells fitted 1.16x faster).
 */
export const MIN_THREADED_CELLS = 4_000_000;

/** Whether a fit of rows x cols at `nthread` runs worker threads (the model is the same either way). */
export function usesThreads(nthread: number, rows: number, cols: number): boolean {
  return nthread > 1 && rows * cols >= MIN_THREADED_CELLS;
}

// Control block per worker (Int32): [0] job sequence, [1] done sequence, [2] start, [3] end, [4] command;
// partition jobs: [5] feature, [6] split slot, [7] missing slot, [8] missing goes left, [9] (out) rows left.
const CMD_HIST = 1;
const CMD_EXIT = 2;
const CMD_INIT = 3;
const CMD_PART = 4;
const CMD_GRAD = 5;
const CTL_INTS = 16;

/**
 * The worker's source: plain JS run with eval, so it needs no TypeScript loader. It starts with the control
 * block only (so it boots while the caller bins the matrix); CMD_INIT hands it the fit's buffers by message.
 */
const WORKER_SOURCE = `
const { workerData, parentPort, receiveMessageOnPort } = require('node:worker_threads');
const c = new Int32Array(workerData.ctl);
let rs, sl, from, to, g, h, rw, out, bins, tmp, mg, yy, wt, spw = 1, nRows = 0, slotLo = 0, slotHi = 0;
let seen = 0;
for (;;) {
  Atomics.wait(c, 0, seen);
  seen = Atomics.load(c, 0);
  const cmd = c[4];
  if (cmd === ${CMD_EXIT}) break;
  if (cmd === ${CMD_INIT}) {
    const m = receiveMessageOnPort(parentPort).message;
    rs = new Uint32Array(m.rowStart);
    sl = m.slots.bytes === 2 ? new Uint16Array(m.slots.buffer) : new Uint32Array(m.slots.buffer);
    from = new Uint32Array(m.lo);
    to = new Uint32Array(m.hi);
    g = new Float64Array(m.grad);
    h = new Float64Array(m.hess);
    rw = new Uint32Array(m.rows);
    out = new Float64Array(m.scratch);
    slotLo = m.slotLo;
    slotHi = m.slotHi;
    bins = m.bins.bytes === 2 ? new Uint16Array(m.bins.buffer) : new Uint32Array(m.bins.buffer);
    tmp = new Uint32Array(m.tmp);
    nRows = m.nRows;
    mg = new Float64Array(m.margin);
    yy = new Uint8Array(m.y);
    wt = m.w ? new Float64Array(m.w) : null;
    spw = m.spw;
  } else if (cmd === ${CMD_GRAD}) {
    // As logisticGradients in histogram-backend.ts, operation for operation (bit-identical results).
    const start = c[2], end = c[3];
    for (let i = start; i < end; i++) {
      const z = mg[i];
      const pr = z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
      let wi = wt ? wt[i] : 1;
      if (yy[i] === 1) wi *= spw;
      g[i] = (pr - yy[i]) * wi;
      h[i] = Math.max(pr * (1 - pr), 1e-16) * wi;
    }
  } else if (cmd === ${CMD_PART}) {
    const start = c[2], end = c[3], at = c[5] * nRows, slot = c[6], ms = c[7], dl = c[8] === 1;
    let l = start, k = start;
    for (let i = start; i < end; i++) {
      const r = rw[i];
      const b = bins[at + r];
      if (b === ms ? dl : b <= slot) rw[l++] = r;
      else tmp[k++] = r;
    }
    c[9] = l - start;
  } else {
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

/** The sparse rows in shared memory: as given when the backend's `memory` allocated them, else copied. */
function sharedSparse(sparse: SparseRows): SparseRows {
  if (
    sparse.rowStart.buffer instanceof SharedArrayBuffer &&
    sparse.slots.buffer instanceof SharedArrayBuffer
  ) {
    return sparse;
  }
  const n = sparse.rowStart.length - 1;
  const nnz = sparse.rowStart[n]!;
  const rowStart = new Uint32Array(shared(4 * (n + 1)));
  rowStart.set(sparse.rowStart);
  const slots =
    sparse.slots.BYTES_PER_ELEMENT === 2
      ? new Uint16Array(shared(2 * nnz))
      : new Uint32Array(shared(4 * nnz));
  slots.set(sparse.slots);
  return { rowStart, slots, defaultSlot: sparse.defaultSlot };
}

/** The gradient inputs as the worker reads them: all in shared memory. */
interface SharedTargets {
  margin: Float64Array;
  y: Uint8Array;
  w: Float64Array | null;
  spw: number;
}

/** The gradient inputs in shared memory (the margins already are; labels and weights are copied, n bytes + 8n). */
function sharedTargets({ margin, y, w, spw }: GradientInputs): SharedTargets {
  if (!(margin.buffer instanceof SharedArrayBuffer))
    throw new Error('threads: margins must be in shared memory');
  const ys = new Uint8Array(shared(y.length));
  for (let i = 0; i < y.length; i++) ys[i] = y[i]!;
  let ws: Float64Array | null = null;
  if (w) {
    ws = new Float64Array(shared(8 * w.length));
    for (let i = 0; i < w.length; i++) ws[i] = w[i]!;
  }
  return { margin, y: ys, w: ws, spw };
}

interface WorkerRange {
  ctl: Int32Array;
  worker: Worker;
  /** Sequence number of the last job given (the worker has done it when ctl[1] reaches it). */
  seq: number;
  out?: Float64Array;
}

/** Starts a worker with only its control block: it boots while the caller prepares the fit. */
function spawnWorker(): WorkerRange {
  const ctl = new Int32Array(shared(4 * CTL_INTS));
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    execArgv: [],
    // The worker only touches shared memory: a small heap keeps its isolate cheap.
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
    workerData: { ctl: ctl.buffer },
  });
  worker.unref();
  return { ctl, worker, seq: 0 };
}

/** Gives the worker job `cmd` (the previous job must be done); `args` go to ctl[5..]. */
function post(w: WorkerRange, cmd: number, start = 0, end = 0, args: number[] = []): void {
  const { ctl } = w;
  ctl[2] = start;
  ctl[3] = end;
  ctl[4] = cmd;
  ctl.set(args, 5);
  w.seq = Atomics.add(ctl, 0, 1) + 1;
  Atomics.notify(ctl, 0);
}

/** Blocks until the worker has done its last job. */
function awaitDone(w: WorkerRange): void {
  let d = Atomics.load(w.ctl, 1);
  while (d !== w.seq) {
    Atomics.wait(w.ctl, 1, d);
    d = Atomics.load(w.ctl, 1);
  }
}

/** Hands the worker the fit's buffers: it sums cells [lo[r], hi[r]) of every row, i.e. slots [slotLo, slotHi). */
function initWorker(
  w: WorkerRange,
  sparse: SparseRows,
  buffers: {
    grad: Float64Array;
    hess: Float64Array;
    rows: Uint32Array;
    bins: BinnedRows;
    tmp: Uint32Array;
    targets: SharedTargets;
  },
  lo: Uint32Array,
  hi: Uint32Array,
  slotRange: [number, number],
  totalSlots: number,
): void {
  const out = new Float64Array(shared(16 * totalSlots));
  w.out = out;
  w.worker.postMessage({
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
    bins: { buffer: buffers.bins.buffer, bytes: buffers.bins.BYTES_PER_ELEMENT },
    tmp: buffers.tmp.buffer,
    nRows: buffers.grad.length,
    margin: buffers.targets.margin.buffer,
    y: buffers.targets.y.buffer,
    w: buffers.targets.w?.buffer ?? null,
    spw: buffers.targets.spw,
  });
  post(w, CMD_INIT);
}

/**
 * A histogram backend running `nthread - 1` worker threads besides the caller. The workers are started here,
 * so they boot while the caller bins the matrix.
 */
export function createThreadedBackend(nthread: number): HistogramBackend {
  const ranges: WorkerRange[] = Array.from({ length: nthread - 1 }, spawnWorker);
  return {
    memory: (bytes) => new SharedArrayBuffer(bytes),
    allocate(n) {
      return {
        grad: new Float64Array(shared(8 * n)),
        hess: new Float64Array(shared(8 * n)),
        rows: new Uint32Array(shared(4 * n)),
      };
    },
    create(cuts: BinCuts, original: SparseRows, grad, hess, rows, bins, targets) {
      const total = cuts.slotOffset[cuts.nFeatures]!;
      const sparse = sharedSparse(original);
      const bounds = slotBounds(cuts, sparse, nthread);
      const cellAt = rowCellStarts(sparse, bounds);
      const serial = createHistogramBuilder(cuts, sparse, grad, hess);
      const tmp = new Uint32Array(shared(4 * grad.length));
      const sharedT = ranges.length > 0 ? sharedTargets(targets) : null;
      if (!(bins.buffer instanceof SharedArrayBuffer))
        throw new Error('threads: bins must be in shared memory');
      ranges.forEach((w, i) => {
        const slotRange: [number, number] = [bounds[i + 1]!, bounds[i + 2]!];
        const buffers = { grad, hess, rows, bins, tmp, targets: sharedT! };
        initWorker(w, sparse, buffers, cellAt[i + 1]!, cellAt[i + 2]!, slotRange, total);
      });
      return {
        build: threadedBuild(cuts, sparse, { grad, hess }, { bounds, cellAt, serial }, ranges),
        partition: ranges.length > 0 ? threadedPartition(bins, tmp, ranges[0]!) : null,
        gradients: ranges.length > 0 ? threadedGradients(targets, grad, hess, ranges[0]!) : null,
      };
    },
    close() {
      for (const w of ranges) post(w, CMD_EXIT);
      for (const { worker } of ranges) void worker.terminate();
      ranges.length = 0;
    },
  };
}

/** The histogram builder: the caller sums slot range 0, each worker its own range, in the serial row order. */
function threadedBuild(
  cuts: BinCuts,
  sparse: SparseRows,
  { grad, hess }: { grad: Float64Array; hess: Float64Array },
  { bounds, cellAt, serial }: { bounds: number[]; cellAt: Uint32Array[]; serial: HistogramBuilder },
  ranges: WorkerRange[],
): HistogramBuilder {
  const from0 = cellAt[0]!;
  const to0 = cellAt[1]!;
  const sl = sparse.slots;
  return (hist, rowsArg, start, end, features, gTotal, hTotal) => {
    if (end - start < MIN_PARALLEL_ROWS || ranges.length === 0) {
      serial(hist, rowsArg, start, end, features, gTotal, hTotal);
      return;
    }
    for (const w of ranges) {
      awaitDone(w);
      post(w, CMD_HIST, start, end);
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
    ranges.forEach((w, i) => {
      awaitDone(w);
      const lo = 2 * bounds[i + 1]!;
      const hi = 2 * bounds[i + 2]!;
      hist.set(w.out!.subarray(lo, hi), lo);
    });
    fillDefaultSlots(hist, cuts, sparse.defaultSlot, features, gTotal, hTotal);
  };
}

/**
 * The row partition on two threads: the caller partitions the first half of the node's rows, the worker the
 * second (left rows in place, right rows to tmp); then left(1st), left(2nd), right(1st), right(2nd) is
 * exactly the serial stable partition.
 */
function threadedPartition(bins: BinnedRows, tmp: Uint32Array, w: WorkerRange): RowPartitioner {
  const n = tmp.length;
  return (rows, start, end, f, slot, missingSlot, dl) => {
    const half = end - start < MIN_PARALLEL_ROWS ? end : start + ((end - start) >>> 1);
    if (half < end) {
      awaitDone(w);
      post(w, CMD_PART, half, end, [f, slot, missingSlot, dl ? 1 : 0]);
    }
    const at = f * n;
    let l = start;
    let k = start;
    for (let i = start; i < half; i++) {
      const r = rows[i]!;
      const b = bins[at + r]!;
      if (b === missingSlot ? dl : b <= slot) rows[l++] = r;
      else tmp[k++] = r;
    }
    let l1 = 0;
    if (half < end) {
      awaitDone(w);
      l1 = w.ctl[9]!;
      rows.copyWithin(l, half, half + l1);
    }
    rows.set(tmp.subarray(start, k), l + l1);
    if (half < end) rows.set(tmp.subarray(half, end - l1), l + l1 + (k - start));
    return l + l1;
  };
}

/** Gradients on two threads: the worker computes the second half of the rows (each row on its own). */
function threadedGradients(
  targets: GradientInputs,
  grad: Float64Array,
  hess: Float64Array,
  w: WorkerRange,
): () => void {
  const n = grad.length;
  const half = n < MIN_PARALLEL_ROWS ? n : n >>> 1;
  return () => {
    if (half < n) {
      awaitDone(w);
      post(w, CMD_GRAD, half, n);
    }
    logisticGradients(targets, grad, hess, 0, half);
    if (half < n) awaitDone(w);
  };
}
