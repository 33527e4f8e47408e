import { attachOutcomes } from './feedback.js';
import type { PredictionSink, PredictionStore } from './port.js';
import { createPendingQueue } from './queues.js';

/** Options of {@link createPredictionSink}. */
export interface PredictionSinkOptions {
  store: PredictionStore;
  /** Fraction of predictions logged, in [0, 1]; default 1 (every prediction). */
  sample?: number;
  /** Most predictions waiting to be written; beyond it they are dropped and counted. Default 50,000. */
  maxQueue?: number;
  /**
   * Most bytes waiting, for a store that queues its encoded form (local segments); beyond it predictions are
   * dropped and counted. Default 64 MiB.
   */
  maxQueueBytes?: number;
  /**
   * Bytes per chunk of an encoded queue (a larger prediction gets a chunk of its own); default 256 KiB. Why not
   * larger: a write of four 1 MiB chunks cost the thread pool's kernel copy ~2-3x the system time per line of four
   * 256 KiB ones (chunks that small are reused while still in the CPU's cache).
   */
  chunkBytes?: number;
  /** How often the queue is flushed, in ms; default 200. */
  flushIntervalMs?: number;
  /** Most predictions per store write; default 5,000. */
  maxBatch?: number;
  /** The input field feedback by entity id refers to by default (e.g. Student_ID); none when absent. */
  entityField?: string;
  /** Called with the number of predictions dropped (full queue or a failed write). */
  onDrop?: (n: number) => void;
  /** Called when a store write fails (the batch is dropped and counted; the service keeps serving). */
  onError?: (error: unknown) => void;
  /** Random source in [0, 1) (tests pass a seeded one). */
  random?: () => number;
}

/**
 * The bounded, non-blocking writer in front of a store (see {@link PredictionSink}). `record` only queues: the
 * pending object, or, for a store with its own encoding (local segments), its encoded bytes in a reused chunk
 * (queues.ts); a timer hands the queue to the store, one write at a time (objects in batches of `maxBatch`), and
 * so does `record` as soon as a full write's worth waits (four chunks, or `maxBatch` objects).
 * While a write is in progress the queue keeps filling up to `maxQueue` (and `maxQueueBytes`), so memory stays
 * bounded whatever the store does; `close` writes everything queued before it returns.
 */
export function createPredictionSink(options: PredictionSinkOptions): PredictionSink {
  const { store } = options;
  let sample = clampRate(options.sample ?? 1);
  const random = options.random ?? Math.random;
  const queue = createPendingQueue(store, {
    maxQueue: options.maxQueue ?? 50_000,
    maxBatch: Math.max(1, options.maxBatch ?? 5000),
    maxBytes: options.maxQueueBytes ?? 64 * 1024 * 1024,
    chunkBytes: Math.max(64, options.chunkBytes ?? 256 * 1024),
  });
  let written = 0;
  let dropped = 0;
  let writing: Promise<void> | null = null;
  let closed = false;

  const drop = (n: number) => {
    dropped += n;
    options.onDrop?.(n);
  };

  // Writes what is queued when it starts, and stops there: what arrives during its writes waits for the next
  // tick. Draining until the queue is empty meant that under steady traffic the loop never ended, writing the few
  // dozen lines queued during each write, hundreds of thread-pool round trips a second instead of five.
  const writeQueued = async (): Promise<void> => {
    for (let left = queue.count; left > 0; ) {
      const batch = queue.take();
      if (batch === null) return;
      left -= batch.count;
      try {
        await batch.write();
        written += batch.count;
      } catch (error) {
        drop(batch.count);
        options.onError?.(error);
      } finally {
        batch.release();
      }
    }
  };

  const flush = (): Promise<void> => {
    if (writing === null) {
      writing = writeQueued().finally(() => {
        writing = null;
      });
      return writing;
    }
    // a write is running: flush again once it is over, so everything queued before this call is written
    return writing.then(() => flush());
  };
  const timer = setInterval(() => {
    if (writing === null && queue.count > 0) void flush();
  }, options.flushIntervalMs ?? 200);
  timer.unref();

  return {
    description: store.description,
    sampled: () => sample >= 1 || (sample > 0 && random() < sample),
    get sampleRate() {
      return sample;
    },
    setSampleRate(rate) {
      sample = clampRate(rate);
    },
    record(prediction) {
      if (closed || !queue.push(prediction)) drop(1);
      else if (writing === null && queue.due) void flush(); // a full write's worth: no need to wait for the timer
    },
    recordBatch(batch) {
      const queued = closed ? 0 : queue.pushBatch(batch);
      if (queued < batch.rows.length) drop(batch.rows.length - queued);
      if (writing === null && queue.due) void flush();
    },
    get stats() {
      return { written, dropped, queued: queue.count };
    },
    async attachOutcomes(items, attachOptions) {
      await flush();
      return attachOutcomes(store, items, attachOptions?.entityField ?? options.entityField);
    },
    readPredictions: (query) => store.readPredictions(query),
    ...(store.readPredictionColumns
      ? { readPredictionColumns: store.readPredictionColumns.bind(store) }
      : {}),
    readOutcomes: (query) => store.readOutcomes(query),
    findPredictions: (lookup) => store.findPredictions(lookup),
    latestOutcomes: (keys) => store.latestOutcomes(keys),
    flush,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await flush();
      await store.close();
    },
  };
}

/** A sample rate in [0, 1] (NaN = 0). */
const clampRate = (rate: number): number => Math.min(1, Math.max(0, rate)) || 0;
