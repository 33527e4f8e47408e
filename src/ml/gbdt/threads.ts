import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BinCuts, BinnedRows, SparseRows } from './binning.js';
import { fitRecord } from './fit-record.js';
import { FLOAT32_MATH_SOURCE } from './float32-math.js';
import {
  type FitKernels,
  type GradientInputs,
  type GradientKernel,
  type HistogramBackend,
  logisticGradients,
} from './histogram-backend.js';
import {
  bestSplitRange,
  fillDefaults,
  LEVEL_HEADER,
  LEVEL_RECORD,
  levelTask,
  PARTITION_HEADER,
  PARTITION_RECORD,
  partitionRows,
  partitionTask,
  SPLIT_DOUBLES,
  subtractRange,
  sumCells,
} from './node-kernels.js';
import type { GbdtParams } from './params.js';
import {
  createSerialNodeKernel,
  type HistogramAllocator,
  type LevelPartitioner,
  type NodeJob,
  type NodeKernel,
  type PooledNodeKernel,
  type RowSplit,
} from './tree-grower.js';

/**
 * Multi-threaded tree growing over shared memory. The features are cut into `nthread` ranges of about equal
 * work (cells plus bins). Depth-wise trees are grown a level at a time: the level's rows are partitioned as
 * tasks of at most MIN_PARALLEL_ROWS rows, then its node jobs run as tasks, a large node's cut into its
 * feature ranges and a small one whole; every thread (the caller too) claims the next task by an atomic
 * increment, so one hand-off serves a whole level and a late worker only means the caller does more. A task
 * over feature ranges builds the histogram slots of those features (adding, for every row of the node in row
 * order, that row's cells in the ranges), fills their default slots, obtains the sibling's slots by
 * subtraction and finds the best split among its features; the caller keeps the best of a node's tasks'
 * splits, earlier features winning ties. Loss-guided trees go node by node, thread k doing range k. Each slot
 * is summed by one thread in exactly the serial order and each split is chosen as the serial scan chooses it,
 * so the models are bit-identical for every nthread. Threads synchronise with Atomics on shared memory (a
 * spin, then a futex wait; no message passing on the hot path). A job is claimed by compare-and-swap on its
 * sequence number: when the caller has done its part before a worker has started, it claims the worker's job
 * and does its part itself (same code, same result), so a descheduled worker delays nothing. Gradients are
 * computed half by a worker.
 */

/** A level's partition is cut into tasks of at most this many rows; gradients of fewer rows stay on the caller. */
export const MIN_PARALLEL_ROWS = 2048;

/** Node jobs of a tree level handed to the workers at once (wider levels go in several hand-offs). */
const LEVEL_CAPACITY = 512;

/**
 * Node jobs over fewer cells (the smaller child's rows x the table's non-default cells per row) run in the
 * calling thread: below this the hand-off (~1-2 µs when both threads are on a core, tens of µs when the
 * machine is oversubscribed) costs about what the second thread saves. The model is the same either way.
 */
export const MIN_PARALLEL_CELLS = 16_384;

/**
 * Tables with fewer cells (rows x features) are fitted without worker threads whatever nthread says: the
 * hand-offs and the fit's set-up for the workers cost about what the second thread saves on them. Measured
 * (6 Dec 2026, warm fits, one hand-off a tree level): OULAD (18,979 x 63, 1.2M cells) 0.30-0.42 s at two
 * threads against 0.42-0.44 at one; its first 10,000 rows (630k cells) 0.20-0.22 against 0.18-0.24, its
 * first 5,000 (315k) 0.13-0.16 against 0.13. (With one hand-off a node, before, OULAD was slower on two.)
 * The model is the same either way.
 */
export const MIN_THREADED_CELLS = 1_000_000;

/**
 * The threads a fit at `nthread` runs on: at most the machine's cores (more would only make threads that
 * spin-wait for each other share a core), 1 for tables under {@link MIN_THREADED_CELLS}. The model is the
 * same for every thread count.
 */
export function fitThreads(
  nthread: number,
  rows: number,
  cols: number,
  cores = availableParallelism(),
): number {
  return rows * cols >= MIN_THREADED_CELLS ? Math.max(1, Math.min(nthread, cores)) : 1;
}

/** Whether a fit of rows x cols at `nthread` runs worker threads (the model is the same either way). */
export function usesThreads(nthread: number, rows: number, cols: number, cores?: number): boolean {
  return fitThreads(nthread, rows, cols, cores) > 1;
}

// Control block per worker (Int32): [0] job sequence, [1] done sequence, [2] start, [3] end, [4] command;
// [10] set by a worker that failed (its message follows by postMessage).
const CMD_HIST = 1;
const CMD_GRAD = 5;
const CMD_LEVEL = 6;
const CMD_PARTS = 7;
// [12] the last job claimed (by the worker, or by the caller doing it itself); [13] the job sequence of the
// current fit's init, [14] of the last release, [15] exit when set. The latter three are not jobs: the
// caller claims their sequence number itself, the worker acts on the change when it next wakes.
const CTL_CLAIM = 12;
const CTL_INIT = 13;
const CTL_RELEASE = 14;
const CTL_EXIT = 15;
const CTL_INTS = 16;
const CTL_FAILED = 10;
/** Bytes of a failed worker's error message kept (ctl[11] holds its length). */
const ERROR_BYTES = 1024;
// Node job block shared by all workers (Int32): [0] small, [1] big, [2] split small, [3..5] counts of the
// tree's, small's and big's feature lists (-1: all), [6] histograms in the pool; lists from [JOB_LISTS].
const JOB_LISTS = 8;
/**
 * Spin iterations (~300-400 µs) before a futex wait: a hand-off caught spinning costs ~1 µs, a futex wake 10-100
 * µs. A fit hands a job over every level (and a partition, gradients, a root); between trees the caller
 * scores the validation rows and updates margins for a few hundred µs. Measured on OULAD (6 Dec 2026): with
 * 1,000 iterations (~15-20 µs) the worker slept through half the hand-offs (mean 81 µs from a job's post to
 * its start, 999 of 2,069 over 50 µs), with 20,000 it caught them (mean 21 µs, 90 over 50 µs).
 */
const SPIN = 20_000;

/**
 * The worker's source: plain JS run with eval, so it needs no TypeScript loader; the per-node functions are
 * node-kernels.ts's own, by their text. It starts with the control block only (so it boots while the caller
 * bins the matrix); a fit's init (control word CTL_INIT) hands it the fit's buffers by message, and each new
 * pool histogram follows, tagged with the fit.
 */
const WORKER_SOURCE = `
const { workerData, parentPort, receiveMessageOnPort } = require('node:worker_threads');
const __name = (f) => f;
${sumCells.toString()}
${fillDefaults.toString()}
${subtractRange.toString()}
${bestSplitRange.toString()}
${partitionRows.toString()}
${levelTask.toString()}
${partitionTask.toString()}
${FLOAT32_MATH_SOURCE}
const c = new Int32Array(workerData.ctl);
let rs, sl, from, to, g, h, rw, bins, tmp, mg, yy, wt, spw = 1;
let jobI, jobF, res, so, nb, ds, lv, lf, lres, pt, pleft, cells, bounds, fLo = 0, fHi = 0, sLo = 0, sHi = 0, m = 0, lambda = 0, alpha = 0, mcw = 0;
const hists = [];
let seen = 0, fit = 0, released = 0;
// Messages of a later fit read off the port while releasing the last one, in order.
const queued = [];
// Messages of the port, in order: a fit's init, then its pool histograms; stale ones are skipped.
const nextMessage = () => {
  if (queued.length > 0) return queued.shift();
  const x = receiveMessageOnPort(parentPort);
  if (!x) throw new Error('gbdt worker: expected a message');
  return x.message;
};
// The fit's set-up, its release and its jobs are functions of their own, so the loop below stays small: V8
// compiles a hot loop on stack (OSR), and with all of them inside it compiled the whole worker, ~45 ms a time,
// four times in three OULAD fits (a rarely taken branch reached without feedback throws the code away).
function releaseFit(rel) {
  // Back to the pool: drop the fit's buffers (and queued histograms) so their memory goes with the fit.
  rs = sl = from = to = g = h = rw = bins = tmp = mg = yy = wt = jobI = jobF = res = so = nb = ds = null;
  lv = lf = lres = pt = pleft = cells = bounds = null;
  hists.length = 0;
  // A worker woken late finds the next fit's init and pool histograms queued behind the released fit's:
  // those are kept (dropping them left a later job waiting for a histogram that never came).
  const later = queued.concat();
  queued.length = 0;
  for (let x = receiveMessageOnPort(parentPort); x; x = receiveMessageOnPort(parentPort)) later.push(x.message);
  for (const x of later) if (x.fit > rel) queued.push(x);
}
function initFit(init) {
  fit = init;
  let x = nextMessage();
  while (!x.init || x.fit !== fit) x = nextMessage();
  hists.length = 0;
  rs = new Uint32Array(x.rowStart);
  sl = x.slots.bytes === 2 ? new Uint16Array(x.slots.buffer) : new Uint32Array(x.slots.buffer);
  from = new Uint32Array(x.lo);
  to = new Uint32Array(x.hi);
  g = new Float64Array(x.grad);
  h = new Float64Array(x.hess);
  rw = new Uint32Array(x.rows);
  bins = x.bins.map((b) => (b.bytes === 1 ? new Uint8Array(b.buffer) : new Uint16Array(b.buffer)));
  tmp = new Uint32Array(x.tmp);
  mg = new Float64Array(x.margin);
  yy = new Uint8Array(x.y);
  wt = x.w ? new Float64Array(x.w) : null;
  spw = x.spw;
  jobI = new Int32Array(x.jobI);
  jobF = new Float64Array(x.jobF);
  res = new Float64Array(x.res);
  so = new Int32Array(x.slotOffset);
  nb = new Int32Array(x.nBins);
  ds = new Int32Array(x.defaultSlot);
  m = nb.length;
  fLo = x.fLo;
  fHi = x.fHi;
  sLo = so[fLo];
  sHi = so[fHi];
  lambda = x.lambda;
  alpha = x.alpha;
  mcw = x.mcw;
  lv = new Int32Array(x.lv);
  lf = new Float64Array(x.lf);
  lres = new Float64Array(x.lres);
  pt = new Int32Array(x.pt);
  pleft = new Int32Array(x.pleft);
  cells = x.cells.map((b) => new Uint32Array(b));
  bounds = new Int32Array(x.bounds);
}
// The fit's pool histograms up to \`count\`, read off the port (each new one follows by message).
function awaitHists(count) {
  while (hists.length < count) {
    const x = nextMessage();
    if (!x.init && x.fit === fit) hists.push(new Float64Array(x.buffer));
  }
}
function runJob(cmd) {
  if (cmd === ${CMD_HIST}) {
    awaitHists(jobI[6]);
    const small = hists[jobI[0]];
    sumCells(small, rw, c[2], c[3], g, h, from, to, sl, 2 * sLo, 2 * sHi);
    fillDefaults(small, so, ds, jobI, ${JOB_LISTS}, jobI[3], fLo, fHi, jobF[0], jobF[1]);
    if (jobI[2] === 1) bestSplitRange(small, jobF[0], jobF[1], jobI, ${JOB_LISTS} + m, jobI[4], fLo, fHi, nb, so, lambda, alpha, mcw, res, 0);
    if (jobI[1] >= 0) {
      const big = hists[jobI[1]];
      subtractRange(big, small, 2 * sLo, 2 * sHi);
      bestSplitRange(big, jobF[2], jobF[3], jobI, ${JOB_LISTS} + 2 * m, jobI[5], fLo, fHi, nb, so, lambda, alpha, mcw, res, ${SPLIT_DOUBLES});
    }
  } else if (cmd === ${CMD_LEVEL}) {
    awaitHists(lv[3]);
    for (let t = Atomics.add(lv, 0, 1); t < lv[1]; t = Atomics.add(lv, 0, 1))
      levelTask(t, lv, lf, hists, rw, g, h, cells, sl, bounds, so, ds, nb, lambda, alpha, mcw, lres);
  } else if (cmd === ${CMD_PARTS}) {
    for (let t = Atomics.add(pt, 0, 1); t < pt[1]; t = Atomics.add(pt, 0, 1)) partitionTask(t, pt, pleft, rw, tmp, bins);
  } else if (cmd === ${CMD_GRAD}) {
    // logisticGradients in histogram-backend.ts: the same function, by its text (bit-identical results)
    xgboostGradients(mg, yy, wt, spw, g, h, c[2], c[3]);
  }
}
try {
for (;;) {
  for (let i = 0; i < ${SPIN} && Atomics.load(c, 0) === seen; i++);
  // A wake-up is not a job: the notify of a job already done (the caller preempted between posting and
  // notifying) may arrive while waiting for the next one, and must not run that job again.
  while (Atomics.load(c, 0) === seen) Atomics.wait(c, 0, seen);
  seen = Atomics.load(c, 0);
  if (Atomics.load(c, ${CTL_EXIT}) !== 0) break;
  const rel = Atomics.load(c, ${CTL_RELEASE});
  // A release older than the fit already set up (read late: that fit's init came between this release's store
  // and this load, in an earlier pass) is only recorded; a newer one sends the worker back to the pool.
  if (rel !== released && fit < rel) releaseFit(rel);
  released = rel;
  const init = Atomics.load(c, ${CTL_INIT});
  if (init > released && init !== fit) initFit(init);
  // Only the job posted last can be claimed, by this thread or by the caller doing it itself.
  if (Atomics.compareExchange(c, ${CTL_CLAIM}, seen - 1, seen) !== seen - 1) continue;
  runJob(c[4]);
  Atomics.store(c, 1, seen);
  Atomics.notify(c, 1);
}
} catch (e) {
  const msg = new TextEncoder().encode(String((e && e.stack) || e)).subarray(0, ${ERROR_BYTES});
  new Uint8Array(workerData.error).set(msg);
  c[${CTL_FAILED + 1}] = msg.length;
  c[${CTL_FAILED}] = 1;
  Atomics.store(c, 1, Atomics.load(c, 0));
  Atomics.notify(c, 1);
}
`;

const shared = (bytes: number) => new SharedArrayBuffer(Math.max(8, bytes));

/** `values` in a shared Int32Array. */
function shareInts(values: readonly number[]): Int32Array {
  const a = new Int32Array(shared(4 * values.length));
  a.set(values);
  return a;
}

/**
 * Feature boundaries cutting the features into `nthread` ranges of about equal work: a feature's cells (the
 * rows adding to its histogram) plus its slots weighted as the per-node passes over them (fill, defaults,
 * subtraction, split scan) cost against the cells.
 */
function featureBounds(cuts: BinCuts, sparse: SparseRows, nthread: number): number[] {
  const n = sparse.rowStart.length - 1;
  const m = cuts.nFeatures;
  const cost = new Float64Array(m);
  const nnz = sparse.rowStart[n]!;
  let f = 0;
  for (let k = 0; k < nnz; k++) {
    const s = sparse.slots[k]!;
    // Cells of a row ascend by slot, so the feature of slot s is found by walking offsets (reset per row).
    if (s < cuts.slotOffset[f]!) f = 0;
    while (s >= cuts.slotOffset[f + 1]!) f++;
    cost[f]! += 3;
  }
  for (let j = 0; j < m; j++) cost[j]! += 64 * (cuts.slotOffset[j + 1]! - cuts.slotOffset[j]!);
  let total = 0;
  for (let j = 0; j < m; j++) total += cost[j]!;
  const bounds = [0];
  let acc = 0;
  for (let j = 0; j < m && bounds.length < nthread; j++) {
    acc += cost[j]!;
    if (acc >= (bounds.length * total) / nthread) bounds.push(j + 1);
  }
  while (bounds.length < nthread) bounds.push(m);
  bounds.push(m);
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
  return fitRecord({ rowStart, slots, defaultSlot: sparse.defaultSlot });
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
  return fitRecord({ margin, y: ys, w: ws, spw });
}

interface WorkerRange {
  ctl: Int32Array;
  worker: Worker;
  /** Sequence number of the last job given (the worker has done it when ctl[1] reaches it). */
  seq: number;
  /** The worker's two splits of the current node job. */
  res: Float64Array;
  timeoutMs: number;
  /** The job sequence number of the current fit's init (tags its messages). */
  fit: number;
  /** Whether the caller may claim the worker's jobs (off only in tests of worker failures). */
  stealing: boolean;
  /** Whether the caller claimed the last sequence number (a control word, or a job it did itself). */
  mine: boolean;
  /** The worker's features [fLo, fHi) and its cells [from[r], to[r]) of each row, for a stolen node job. */
  range?: { fLo: number; fHi: number; from: Uint32Array; to: Uint32Array };
  /** A failed worker's error message (UTF-8, length in ctl[11]). */
  errorBytes: Uint8Array;
  error?: Error;
}

/** How long a worker may take to answer one job before the fit fails (it has died or hangs). */
export const DEFAULT_WORKER_TIMEOUT_MS = 120_000;

/** Starts a worker with only its control block: it boots while the caller prepares the fit. */
function spawnWorker(source: string, timeoutMs: number): WorkerRange {
  const ctl = new Int32Array(shared(4 * CTL_INTS));
  const errorBytes = new Uint8Array(shared(ERROR_BYTES));
  const worker = new Worker(source, {
    eval: true,
    execArgv: [],
    // The worker only touches shared memory: a small heap keeps its isolate cheap.
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
    workerData: { ctl: ctl.buffer, error: errorBytes.buffer },
  });
  const w: WorkerRange = {
    ctl,
    worker,
    seq: 0,
    res: new Float64Array(shared(16 * SPLIT_DOUBLES)),
    timeoutMs,
    fit: 0,
    mine: false,
    stealing: true,
    errorBytes,
  };
  // Seen only once the caller's thread is free again: the fit itself learns of a failure from ctl or a timeout.
  worker.on('error', (e) => {
    w.error = e;
  });
  worker.unref();
  return w;
}

/** Posts job `cmd` (the previous job is complete: done by the worker or by the caller). */
function post(w: WorkerRange, cmd: number, start = 0, end = 0): void {
  const { ctl } = w;
  ctl[2] = start;
  ctl[3] = end;
  ctl[4] = cmd;
  w.seq = Atomics.add(ctl, 0, 1) + 1;
  w.mine = false;
  Atomics.notify(ctl, 0);
}

/** Sets control word `field` (init, release, exit) to a new sequence number the caller claims; returns it. */
function control(w: WorkerRange, field: number): number {
  const { ctl } = w;
  const next = Atomics.load(ctl, 0) + 1;
  Atomics.store(ctl, CTL_CLAIM, next);
  Atomics.store(ctl, field, next);
  Atomics.store(ctl, 0, next);
  w.seq = next;
  w.mine = true;
  Atomics.notify(ctl, 0);
  return next;
}

/**
 * Claims the worker's last job for the caller, which then does it itself (the same code over the same
 * range, so the same result): true unless the worker has claimed it first. A worker that is descheduled, or
 * still booting, then delays nothing.
 */
function steal(w: WorkerRange): boolean {
  if (!w.stealing) return false;
  w.mine = Atomics.compareExchange(w.ctl, CTL_CLAIM, w.seq - 1, w.seq) === w.seq - 1;
  return w.mine;
}

/** Blocks until the worker has done its last job (spinning briefly first); throws if it failed or hangs. */
function awaitDone(w: WorkerRange): void {
  const { ctl, timeoutMs } = w;
  spinUntil(ctl, 1, w.seq);
  let d = Atomics.load(ctl, 1);
  while (d !== w.seq) {
    if (Atomics.wait(ctl, 1, d, timeoutMs) === 'timed-out' && Atomics.load(ctl, 1) === d) {
      throw new Error(`gbdt: worker thread did not answer within ${timeoutMs} ms (it died or hangs)`);
    }
    d = Atomics.load(ctl, 1);
  }
  if (ctl[CTL_FAILED] === 1) {
    const why = new TextDecoder().decode(w.errorBytes.subarray(0, ctl[CTL_FAILED + 1]));
    throw new Error(`gbdt: worker thread failed: ${why.split('\n')[0]}`);
  }
}

/**
 * Spins up to SPIN iterations until ctl[index] is `value`. A function of its own: with the spin loop inside
 * awaitDone, V8 compiled the loop on stack (OSR) without feedback for the code after it and threw that code
 * away on reaching it, hundreds of times a fit (--trace-deopt: 661 deopts of awaitDone in two OULAD fits),
 * each time compiling it again on a core the fit needed.
 */
function spinUntil(ctl: Int32Array, index: number, value: number): void {
  for (let i = 0; i < SPIN; i++) if (Atomics.load(ctl, index) === value) return;
}

/** The fit's shared buffers, as the workers read them. */
interface FitBuffers {
  sparse: SparseRows;
  grad: Float64Array;
  hess: Float64Array;
  rows: Uint32Array;
  bins: BinnedRows;
  tmp: Uint32Array;
  targets: SharedTargets;
  jobI: Int32Array;
  jobF: Float64Array;
  cuts: BinCuts;
  params: GbdtParams;
  /** Node jobs of a level handed over at once (LEVEL_CAPACITY unless a test sets it). */
  levelCapacity: number;
  /** A level's node jobs (levelTask's block), their totals, and their tasks' splits. */
  lv: Int32Array;
  lf: Float64Array;
  lres: Float64Array;
  /** Where the level block's task table starts, and its tree feature list (the job lists follow it). */
  taskAt: number;
  treeAt: number;
  /** A level's partition tasks (partitionTask's block) and their left counts. */
  pt: Int32Array;
  pleft: Int32Array;
  /** Feature range r is [bounds[r], bounds[r + 1]); its cells of row x are [cells[r][x], cells[r + 1][x]). */
  bounds: Int32Array;
  cells: Uint32Array[];
}

/** Hands the worker the fit's buffers: it owns features [fLo, fHi), whose cells of row r are [lo[r], hi[r]). */
function initWorker(
  w: WorkerRange,
  b: FitBuffers,
  lo: Uint32Array,
  hi: Uint32Array,
  [fLo, fHi]: [number, number],
): void {
  const bytesOf = (a: Uint8Array | Uint16Array | Uint32Array) => ({
    buffer: a.buffer,
    bytes: a.BYTES_PER_ELEMENT,
  });
  const copy = (a: Int32Array) => {
    const c = new Int32Array(shared(4 * a.length));
    c.set(a);
    return c.buffer;
  };
  w.fit = Atomics.load(w.ctl, 0) + 1;
  w.range = { fLo, fHi, from: lo, to: hi };
  w.worker.postMessage({
    init: true,
    fit: w.fit,
    rowStart: b.sparse.rowStart.buffer,
    slots: bytesOf(b.sparse.slots),
    lo: lo.buffer,
    hi: hi.buffer,
    grad: b.grad.buffer,
    hess: b.hess.buffer,
    rows: b.rows.buffer,
    bins: b.bins.map(bytesOf),
    tmp: b.tmp.buffer,
    margin: b.targets.margin.buffer,
    y: b.targets.y.buffer,
    w: b.targets.w?.buffer ?? null,
    spw: b.targets.spw,
    jobI: b.jobI.buffer,
    jobF: b.jobF.buffer,
    res: w.res.buffer,
    slotOffset: copy(b.cuts.slotOffset),
    nBins: copy(b.cuts.nBins),
    defaultSlot: copy(b.sparse.defaultSlot),
    fLo,
    fHi,
    lambda: b.params.lambda,
    alpha: b.params.alpha,
    mcw: b.params.min_child_weight,
    lv: b.lv.buffer,
    lf: b.lf.buffer,
    lres: b.lres.buffer,
    pt: b.pt.buffer,
    pleft: b.pleft.buffer,
    cells: b.cells.map((c) => c.buffer),
    bounds: b.bounds.buffer,
  });
  control(w, CTL_INIT);
}

/**
 * Options of {@link createThreadedBackend}: `source` replaces the workers' code (tests of failures),
 * `minParallelCells` the {@link MIN_PARALLEL_CELLS} threshold (0 in tests: every node on all threads), `steal:
 * false` makes the caller always wait for its workers (tests of failures).
 */
export interface ThreadedBackendOptions {
  timeoutMs?: number;
  source?: string;
  minParallelCells?: number;
  /** Whether the caller does a job itself when its worker has not started it (default true). */
  steal?: boolean;
  /** Node jobs of a tree level handed over at once (default 512; tests set a few to cut levels). */
  levelCapacity?: number;
}

/**
 * Idle workers of the default source, kept between fits: a fit takes them (their isolates already booted)
 * and gives them back, so only the first threaded fit in a process pays the start-up (~20-40 ms of CPU and
 * ~9 MB of RSS per worker, held while the process lives). They are unref'd: they never keep a process alive.
 */
const idle: WorkerRange[] = [];

/** Workers for one fit: idle ones first, new ones for the rest (always new for a custom source). */
function takeWorkers(
  k: number,
  source: string | undefined,
  timeoutMs: number,
  stealing: boolean,
): WorkerRange[] {
  const out: WorkerRange[] = [];
  while (source === undefined && out.length < k && idle.length > 0) out.push(idle.pop()!);
  while (out.length < k) out.push(spawnWorker(source ?? WORKER_SOURCE, timeoutMs));
  for (const w of out) {
    w.timeoutMs = timeoutMs;
    w.stealing = stealing;
  }
  return out;
}

/** Workers idle in the pool (for tests and diagnostics). */
export const idleGbdtThreads = (): number => idle.length;

/**
 * Starts (if not yet idle in the pool) the `nthread - 1` workers a fit at `nthread` uses, e.g. when a server
 * starts, so no fit pays their start-up. Optional: fits start what they need.
 */
export function prestartGbdtThreads(nthread: number): void {
  const missing = nthread - 1 - idle.length;
  for (let i = 0; i < missing; i++) idle.push(spawnWorker(WORKER_SOURCE, DEFAULT_WORKER_TIMEOUT_MS));
}

/**
 * A backend running `nthread - 1` worker threads besides the caller. The workers are started here, so they
 * boot while the caller bins the matrix. A worker that fails makes the fit throw (never a silent fallback:
 * its half of a node would be missing); one that does not answer a job within `timeoutMs` too.
 */
export function createThreadedBackend(
  nthread: number,
  options: ThreadedBackendOptions = {},
): HistogramBackend {
  return new ThreadedBackend(nthread, options);
}

/** See createThreadedBackend; a class for the reason SerialNodeKernel is one (tree-grower.ts). */
class ThreadedBackend implements HistogramBackend {
  private readonly ranges: WorkerRange[];

  constructor(
    private readonly nthread: number,
    private readonly options: ThreadedBackendOptions,
  ) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WORKER_TIMEOUT_MS;
    this.ranges = takeWorkers(nthread - 1, options.source, timeoutMs, options.steal ?? true);
  }

  memory(bytes: number): ArrayBufferLike {
    return new SharedArrayBuffer(bytes);
  }

  allocate(n: number): { grad: Float64Array; hess: Float64Array; rows: Uint32Array } {
    return fitRecord({
      grad: new Float64Array(shared(8 * n)),
      hess: new Float64Array(shared(8 * n)),
      rows: new Uint32Array(shared(4 * n)),
    });
  }

  create(
    cuts: BinCuts,
    original: SparseRows,
    grad: Float64Array,
    hess: Float64Array,
    rows: Uint32Array,
    bins: BinnedRows,
    targets: GradientInputs,
    params: GbdtParams,
  ): FitKernels {
    const { nthread, options, ranges } = this;
    const sparse = sharedSparse(original);
    const fb = featureBounds(cuts, sparse, nthread);
    const cellAt = rowCellStarts(
      sparse,
      fb.map((f) => cuts.slotOffset[f]!),
    );
    const tmp = new Uint32Array(shared(4 * grad.length));
    if (!bins.every((col) => col.buffer instanceof SharedArrayBuffer))
      throw new Error('threads: bins must be in shared memory');
    const m = cuts.nFeatures;
    const n = grad.length;
    const cap = options.levelCapacity ?? LEVEL_CAPACITY;
    const taskAt = LEVEL_HEADER + LEVEL_RECORD * cap;
    const treeAt = taskAt + 3 * nthread * cap;
    const partitionTasks = cap + Math.ceil(n / MIN_PARALLEL_ROWS) + 1;
    const b: FitBuffers = fitRecord({
      sparse,
      grad,
      hess,
      rows,
      bins,
      tmp,
      targets: sharedTargets(targets),
      jobI: new Int32Array(shared(4 * (JOB_LISTS + 3 * m))),
      jobF: new Float64Array(shared(32)),
      cuts,
      params,
      levelCapacity: cap,
      lv: new Int32Array(shared(4 * (treeAt + m + 2 * cap * m))),
      lf: new Float64Array(shared(8 * 4 * cap)),
      lres: new Float64Array(shared(8 * 2 * SPLIT_DOUBLES * cap * nthread)),
      taskAt,
      treeAt,
      pt: new Int32Array(shared(4 * (PARTITION_HEADER + PARTITION_RECORD * partitionTasks))),
      pleft: new Int32Array(shared(4 * partitionTasks)),
      bounds: shareInts(fb),
      cells: cellAt,
    });
    ranges.forEach((w, i) => {
      initWorker(w, b, cellAt[i + 1]!, cellAt[i + 2]!, [fb[i + 1]!, fb[i + 2]!]);
    });
    const own = { fHi: fb[1]!, from: cellAt[0]!, to: cellAt[1]! };
    return fitRecord({
      node: new ThreadedNodeKernel(b, own, ranges, options.minParallelCells ?? MIN_PARALLEL_CELLS),
      levelPartition: new ThreadedLevelPartition(b, ranges),
      gradients: ranges.length > 0 ? new ThreadedGradients(targets, grad, hess, ranges[0]!) : null,
    });
  }

  close(): void {
    const { options, ranges } = this;
    for (const w of ranges) {
      const { ctl } = w;
      // The last job is complete unless the worker claimed it and has not finished (a fit that threw).
      const quiet = w.mine || Atomics.load(ctl, 1) === w.seq || steal(w);
      const healthy = ctl[CTL_FAILED] !== 1 && quiet;
      if (healthy && options.source === undefined) {
        control(w, CTL_RELEASE);
        idle.push(w);
        continue;
      }
      if (healthy) control(w, CTL_EXIT);
      void w.worker.terminate();
    }
    ranges.length = 0;
  }
}

/** Writes a feature list into the job block at `at`; returns its count (-1: all features). */
function putList(jobI: Int32Array, at: number, f: Int32Array | null): number {
  if (!f) return -1;
  jobI.set(f, at);
  return f.length;
}

/** The caller's own feature range and its rows' cells. */
interface FeatureRange {
  fLo: number;
  fHi: number;
  from: Uint32Array;
  to: Uint32Array;
}

/**
 * The node kernel over feature ranges: pool histograms in shared memory, the caller's range [0, fHi) done
 * here while each worker does its own, then the best split of each child over all ranges (strictly greater
 * gain wins, so the earliest feature wins ties, as in the serial scan). A class for the reason
 * SerialNodeKernel is one (tree-grower.ts): the same methods in every fit keep optimized callers valid.
 */
class ThreadedNodeKernel implements NodeKernel, HistogramAllocator {
  private readonly stolen = new Float64Array(2 * SPLIT_DOUBLES);
  private readonly pool: Float64Array[] = [];
  private readonly serial: PooledNodeKernel;
  private readonly cellsPerRow: number;
  private readonly own: FeatureRange;
  private readonly firstTask: Int32Array;
  private readonly taskCount: Int32Array;

  constructor(
    private readonly b: FitBuffers,
    ownRange: { fHi: number; from: Uint32Array; to: Uint32Array },
    private readonly ranges: WorkerRange[],
    private readonly minCells: number,
  ) {
    this.serial = createSerialNodeKernel(b.cuts, b.sparse, b.grad, b.hess, b.params, this);
    const n = b.grad.length;
    this.cellsPerRow = b.sparse.rowStart[n]! / Math.max(1, n);
    this.own = fitRecord({ fLo: 0, ...ownRange });
    this.firstTask = new Int32Array(b.levelCapacity);
    this.taskCount = new Int32Array(b.levelCapacity);
  }

  /** A pool histogram in shared memory, sent to every worker (histograms are numbered in this order). */
  newHist(size: number): Float64Array {
    const h = new Float64Array(shared(8 * size));
    for (const w of this.ranges) w.worker.postMessage({ fit: w.fit, buffer: h.buffer });
    this.pool.push(h);
    return h;
  }

  acquire(): number {
    return this.serial.acquire();
  }

  release(id: number): void {
    this.serial.release(id);
  }

  run(job: NodeJob, rows: Uint32Array, out: Float64Array): void {
    const { ranges, stolen } = this;
    if (ranges.length === 0 || (job.end - job.start) * this.cellsPerRow < this.minCells) {
      this.serial.run(job, rows, out);
      return;
    }
    const { jobI, jobF } = this.b;
    const m = this.b.cuts.nFeatures;
    jobI[0] = job.small;
    jobI[1] = job.big;
    jobI[2] = job.splitSmall ? 1 : 0;
    const tc = putList(jobI, JOB_LISTS, job.tree);
    const sc = job.splitSmall ? putList(jobI, JOB_LISTS + m, job.smallFeatures) : 0;
    const bc = job.big >= 0 ? putList(jobI, JOB_LISTS + 2 * m, job.bigFeatures) : 0;
    jobI[3] = tc;
    jobI[4] = sc;
    jobI[5] = bc;
    jobI[6] = this.pool.length;
    jobF[0] = job.gs;
    jobF[1] = job.hs;
    jobF[2] = job.gb;
    jobF[3] = job.hb;
    for (const w of ranges) post(w, CMD_HIST, job.start, job.end);
    this.doRange(job, rows, this.own, tc, sc, bc, out);
    for (const w of ranges) {
      if (steal(w)) this.doRange(job, rows, w.range!, tc, sc, bc, stolen);
      else awaitDone(w);
      const res = w.mine ? stolen : w.res;
      if (job.splitSmall) takeBetter(out, res, 0);
      if (job.big >= 0) takeBetter(out, res, SPLIT_DOUBLES);
    }
  }

  /** The node job over one feature range (the caller's own, or a worker's it claimed), splits to `o`. */
  private doRange(
    job: NodeJob,
    rows: Uint32Array,
    { fLo, fHi, from, to }: FeatureRange,
    tc: number,
    sc: number,
    bc: number,
    o: Float64Array,
  ): void {
    const { cuts, sparse, grad, hess, jobI, params } = this.b;
    const { slotOffset, nBins } = cuts;
    const { lambda, alpha, min_child_weight: mcw } = params;
    const m = cuts.nFeatures;
    const lo = 2 * slotOffset[fLo]!;
    const hi = 2 * slotOffset[fHi]!;
    const small = this.serial.hist(job.small);
    sumCells(small, rows, job.start, job.end, grad, hess, from, to, sparse.slots, lo, hi);
    fillDefaults(small, slotOffset, sparse.defaultSlot, jobI, JOB_LISTS, tc, fLo, fHi, job.gs, job.hs);
    const tail = [nBins, slotOffset, lambda, alpha, mcw] as const;
    if (job.splitSmall) {
      bestSplitRange(small, job.gs, job.hs, jobI, JOB_LISTS + m, sc, fLo, fHi, ...tail, o, 0);
    }
    if (job.big < 0) return;
    const big = this.serial.hist(job.big);
    subtractRange(big, small, lo, hi);
    bestSplitRange(big, job.gb, job.hb, jobI, JOB_LISTS + 2 * m, bc, fLo, fHi, ...tail, o, SPLIT_DOUBLES);
  }

  runLevel(jobs: readonly NodeJob[], rows: Uint32Array, out: Float64Array): void {
    const cap = this.b.levelCapacity;
    for (let a = 0; a < jobs.length; a += cap) {
      this.runLevelPart(jobs, a, Math.min(jobs.length, a + cap), rows, out);
    }
  }

  /**
   * Jobs [a, e) of a level (at most the level capacity) as tasks claimed by every thread: a job whose rows are
   * at least a 2 x nthread-th of the level's is cut into its feature ranges (one task each), the others are
   * whole jobs (cutting them would only repeat each row's per-row work in every range), largest first.
   */
  private runLevelPart(
    jobs: readonly NodeJob[],
    a: number,
    e: number,
    rows: Uint32Array,
    out: Float64Array,
  ): void {
    const { b, firstTask, taskCount, pool } = this;
    const { lv, lf, treeAt, taskAt, cuts, sparse, grad, hess, params } = b;
    const { slotOffset, nBins } = cuts;
    const { lambda, alpha, min_child_weight: mcw } = params;
    const nr = b.bounds.length - 1;
    let rowCount = 0;
    let listAt = treeAt + cuts.nFeatures;
    lv[2] = putList(lv, treeAt, jobs[a]!.tree);
    lv[3] = pool.length;
    lv[4] = taskAt;
    lv[5] = treeAt;
    const order: number[] = [];
    for (let j = 0; j < e - a; j++) {
      const job = jobs[a + j]!;
      const r = LEVEL_HEADER + LEVEL_RECORD * j;
      lv[r] = job.small;
      lv[r + 1] = job.big;
      lv[r + 2] = job.splitSmall ? 1 : 0;
      lv[r + 3] = job.start;
      lv[r + 4] = job.end;
      listAt = placeList(lv, r + 5, job.smallFeatures, job.tree, treeAt, listAt);
      listAt = placeList(lv, r + 7, job.bigFeatures, job.tree, treeAt, listAt);
      lf[4 * j] = job.gs;
      lf[4 * j + 1] = job.hs;
      lf[4 * j + 2] = job.gb;
      lf[4 * j + 3] = job.hb;
      rowCount += job.end - job.start;
      order.push(j);
    }
    const size = (j: number) => jobs[a + j]!.end - jobs[a + j]!.start;
    order.sort((x, y) => size(y) - size(x) || x - y);
    let t = 0;
    for (const j of order) {
      const cut = nr > 1 && size(j) * 2 * nr >= rowCount;
      firstTask[j] = t;
      taskCount[j] = cut ? nr : 1;
      if (!cut) lv.set([j, 0, nr], taskAt + 3 * t++);
      else for (let r = 0; r < nr; r++) lv.set([j, r, r + 1], taskAt + 3 * t++);
    }
    const { slots, defaultSlot: ds } = sparse;
    const { lres, cells, bounds } = b;
    const parallel = rowCount * this.cellsPerRow >= this.minCells;
    runTasks(this.ranges, CMD_LEVEL, lv, t, parallel, (k) =>
      levelTask(
        k,
        lv,
        lf,
        pool,
        rows,
        grad,
        hess,
        cells,
        slots,
        bounds,
        slotOffset,
        ds,
        nBins,
        lambda,
        alpha,
        mcw,
        lres,
      ),
    );
    for (let j = 0; j < e - a; j++) {
      const job = jobs[a + j]!;
      const o = 2 * SPLIT_DOUBLES * (a + j);
      const from = 2 * SPLIT_DOUBLES * firstTask[j]!;
      if (job.splitSmall) mergeSplits(out, o, lres, from, taskCount[j]!);
      if (job.big >= 0) mergeSplits(out, o + SPLIT_DOUBLES, lres, from + SPLIT_DOUBLES, taskCount[j]!);
    }
  }
}

/**
 * Writes the feature list `list` of a level job into the level block (its position and count at lv[at],
 * lv[at + 1]): the tree's list already there when it is that list, else copied at `listAt`; returns where the
 * next list goes.
 */
function placeList(
  lv: Int32Array,
  at: number,
  list: Int32Array | null,
  tree: Int32Array | null,
  treeAt: number,
  listAt: number,
): number {
  if (list === null) {
    lv[at] = 0;
    lv[at + 1] = -1;
    return listAt;
  }
  if (list === tree) {
    lv[at] = treeAt;
    lv[at + 1] = list.length;
    return listAt;
  }
  lv.set(list, listAt);
  lv[at] = listAt;
  lv[at + 1] = list.length;
  return listAt + list.length;
}

/**
 * The best of `ranges` splits res[from + 12r] (r = 0, 1, ...; feature ranges in ascending order) to out[o]:
 * a later range's only when its gain is strictly greater, so the earliest feature wins ties as in the serial scan.
 */
function mergeSplits(out: Float64Array, o: number, res: Float64Array, from: number, ranges: number): void {
  let best = from;
  for (let r = 1; r < ranges; r++) {
    const at = from + 2 * SPLIT_DOUBLES * r;
    if (res[at]! > res[best]!) best = at;
  }
  for (let k = 0; k < SPLIT_DOUBLES; k++) out[o + k] = res[best + k]!;
}

/**
 * Runs tasks [0, total) of a block whose header holds the task counter ([0]) and count ([1]): every thread
 * claims the next task by atomic increment, the caller too, so a worker that starts late (or never, its job
 * then stolen) only means the caller does more of them. With `parallel` false the caller does all alone.
 */
function runTasks(
  ranges: WorkerRange[],
  cmd: number,
  block: Int32Array,
  total: number,
  parallel: boolean,
  task: (t: number) => void,
): void {
  Atomics.store(block, 0, 0);
  block[1] = total;
  const helpers = parallel ? ranges : [];
  for (const w of helpers) post(w, cmd);
  for (let t = Atomics.add(block, 0, 1); t < total; t = Atomics.add(block, 0, 1)) task(t);
  for (const w of helpers) if (!steal(w)) awaitDone(w);
}

/**
 * A tree level's row partition over all threads: every node's rows cut into tasks of at most
 * MIN_PARALLEL_ROWS rows (each partitioned in place, left rows kept, right rows to tmp), then each node put
 * together as left rows of its tasks in order, then right rows in order: exactly the serial stable partition.
 */
class ThreadedLevelPartition implements LevelPartitioner {
  private readonly firstTask: Int32Array;

  constructor(
    private readonly b: FitBuffers,
    private readonly ranges: WorkerRange[],
  ) {
    this.firstTask = new Int32Array(b.levelCapacity + 1);
  }

  partition(rows: Uint32Array, splits: readonly RowSplit[], mids: Int32Array): void {
    const cap = this.b.levelCapacity;
    for (let a = 0; a < splits.length; a += cap)
      this.part(rows, splits, a, Math.min(splits.length, a + cap), mids);
  }

  private part(rows: Uint32Array, splits: readonly RowSplit[], a: number, e: number, mids: Int32Array): void {
    const { pt, pleft, tmp, bins } = this.b;
    const firstTask = this.firstTask;
    let t = 0;
    let rowCount = 0;
    for (let i = a; i < e; i++) {
      const x = splits[i]!;
      firstTask[i - a] = t;
      for (let cs = x.start; cs < x.end; cs += MIN_PARALLEL_ROWS, t++) {
        const ce = Math.min(x.end, cs + MIN_PARALLEL_ROWS);
        pt.set(
          [cs, ce, x.feature, x.bin, x.missing, x.defaultLeft ? 1 : 0],
          PARTITION_HEADER + PARTITION_RECORD * t,
        );
      }
      rowCount += x.end - x.start;
    }
    firstTask[e - a] = t;
    runTasks(this.ranges, CMD_PARTS, pt, t, rowCount >= 2 * MIN_PARALLEL_ROWS, (k) =>
      partitionTask(k, pt, pleft, rows, tmp, bins),
    );
    for (let i = a; i < e; i++)
      mids[i] = assemble(rows, tmp, pt, pleft, firstTask[i - a]!, firstTask[i - a + 1]!);
  }
}

/** Puts a node partitioned as tasks [t0, t1) together (left rows, then right rows, in task order); returns its mid. */
function assemble(
  rows: Uint32Array,
  tmp: Uint32Array,
  pt: Int32Array,
  left: Int32Array,
  t0: number,
  t1: number,
): number {
  let at = pt[PARTITION_HEADER + PARTITION_RECORD * t0]!;
  for (let t = t0; t < t1; t++) {
    const cs = pt[PARTITION_HEADER + PARTITION_RECORD * t]!;
    if (at !== cs) rows.copyWithin(at, cs, cs + left[t]!);
    at += left[t]!;
  }
  const mid = at;
  for (let t = t0; t < t1; t++) {
    const cs = pt[PARTITION_HEADER + PARTITION_RECORD * t]!;
    const ce = pt[PARTITION_HEADER + PARTITION_RECORD * t + 1]!;
    const rights = ce - cs - left[t]!;
    rows.set(tmp.subarray(cs, cs + rights), at);
    at += rights;
  }
  return mid;
}

/** out's split at o becomes the worker's when the worker's gain is strictly greater. */
function takeBetter(out: Float64Array, res: Float64Array, o: number): void {
  if (res[o]! > out[o]!) for (let k = 0; k < SPLIT_DOUBLES; k++) out[o + k] = res[o + k]!;
}

/** Gradients on two threads: the worker computes the second half of the rows (each row on its own). */
class ThreadedGradients implements GradientKernel {
  private readonly half: number;

  constructor(
    private readonly targets: GradientInputs,
    private readonly grad: Float64Array,
    private readonly hess: Float64Array,
    private readonly w: WorkerRange,
  ) {
    const n = grad.length;
    this.half = n < MIN_PARALLEL_ROWS ? n : n >>> 1;
  }

  compute(): void {
    const { targets, grad, hess, w, half } = this;
    const n = grad.length;
    if (half < n) post(w, CMD_GRAD, half, n);
    logisticGradients(targets, grad, hess, 0, half);
    if (half === n) return;
    if (steal(w)) logisticGradients(targets, grad, hess, half, n);
    else awaitDone(w);
  }
}
