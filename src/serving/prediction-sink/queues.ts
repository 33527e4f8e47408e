import {
  type ByteOutput,
  type PendingBatch,
  type PendingPrediction,
  type PredictionEncoding,
  type PredictionStore,
  pendingRow,
} from './port.js';

/** Queued predictions taken for one store write. */
export interface TakenBatch {
  /** How many predictions it holds. */
  count: number;
  /** Writes them to the store. */
  write(): Promise<void>;
  /** Called once the write is over (written or failed): its memory may be reused. */
  release(): void;
}

/** The sink's bounded queue, in whatever form the store takes (objects, or its encoded bytes). */
export interface PendingQueue {
  /** Predictions waiting. */
  readonly count: number;
  /** Enough waits for a full write: the sink writes it at once instead of waiting for its timer. */
  readonly due: boolean;
  /** Queues one prediction; false when the queue is full (the caller counts the drop). */
  push(prediction: PendingPrediction): boolean;
  /** Queues a batch's rows in order while they fit; returns how many were queued (the caller counts the rest). */
  pushBatch(batch: PendingBatch): number;
  /** Takes the oldest queued predictions for one write, or null when none wait. */
  take(): TakenBatch | null;
}

/** Bounds of a queue. */
export interface QueueLimits {
  /** Most predictions waiting. */
  maxQueue: number;
  /** Most predictions per write (object queues). */
  maxBatch: number;
  /** Most bytes waiting (byte queues). */
  maxBytes: number;
  /** Bytes per chunk (byte queues); a prediction larger than this gets a chunk of its own. */
  chunkBytes: number;
}

/** The queue for `store`: bytes in its own encoding when it has one, else the pending objects. */
export function createPendingQueue(store: PredictionStore, limits: QueueLimits): PendingQueue {
  return store.encoding ? createByteQueue(store.encoding, limits) : createObjectQueue(store, limits);
}

/** Pending objects, written with appendPredictions in batches of at most maxBatch. */
function createObjectQueue(store: PredictionStore, limits: QueueLimits): PendingQueue {
  let queue: PendingPrediction[] = [];
  return {
    get count() {
      return queue.length;
    },
    get due() {
      return queue.length >= limits.maxBatch;
    },
    push(prediction) {
      if (queue.length >= limits.maxQueue) return false;
      // request bytes are copied out now: the queue outlives the request that owns them
      if (Buffer.isBuffer(prediction.inputs_json)) prediction.inputs_json = prediction.inputs_json.toString();
      prediction.inputs_fields = null; // the scanner's, reused by the next request
      queue.push(prediction);
      return true;
    },
    pushBatch(batch) {
      const n = Math.min(batch.rows.length, Math.max(0, limits.maxQueue - queue.length));
      try {
        for (let i = 0; i < n; i++) queue.push(pendingRow(batch, i));
      } catch {
        return 0; // rows without spans (cannot happen for a route's batch): dropped and counted, never thrown
      }
      return n;
    },
    take() {
      if (queue.length === 0) return null;
      const batch = queue.length <= limits.maxBatch ? queue : queue.slice(0, limits.maxBatch);
      queue = batch === queue ? [] : queue.slice(limits.maxBatch);
      return { count: batch.length, write: () => store.appendPredictions(batch), release() {} };
    },
  };
}

interface Chunk {
  buffer: Buffer;
  /** Where its bytes start (the store's block offset, see PredictionEncoding.placement; else 0). */
  start: number;
  used: number;
  count: number;
}

/**
 * Why the pool keeps as many spare bytes as the queue may hold (its byte bound, 64 MiB by default): a chunk allocated
 * afresh is external memory that only a full (mark-compact) GC gives back, and a steady stream of them made V8 run
 * one every few seconds at a few MB/s of logging. A fixed 16 MiB was enough while a write took a memcpy into the
 * page cache; written with O_DIRECT, a write waits for the device, a slow one lets 25 MiB and more queue behind it,
 * and the chunks beyond 16 MiB were dropped after it and allocated again in the next burst (124 fresh chunks in 8 s
 * of batch logging, and 11-29 mark-compacts in 15-30 s instead of 3-6). Bounded in bytes, not chunks, so smaller
 * chunks keep as much headroom; never more than the queue could hold at once.
 */
/** Full chunks waiting that make a write due before the timer's (bounds the chunks one write holds). */
const DUE_CHUNKS = 4;

/**
 * Chunks of `chunkBytes` (larger on demand), the written ones kept for reuse, up to `spareBytes` of them;
 * `allocate` gives the store's own chunks of `chunkBytes` when it has any.
 */
function createChunkPool(chunkBytes: number, spareBytes: number, allocate?: () => Buffer | null) {
  const spare: Buffer[] = [];
  const maxSpare = Math.max(1, Math.floor(spareBytes / chunkBytes));
  const fresh = (n: number) =>
    (n <= chunkBytes ? allocate?.() : null) ?? Buffer.allocUnsafeSlow(Math.max(chunkBytes, n));
  return {
    /** A chunk of at least `n` bytes, empty, its bytes to start at `start`. */
    take(n: number, start: number): Chunk {
      const buffer = n <= chunkBytes && spare.length > 0 ? spare.pop()! : fresh(n);
      return { buffer, start, used: start, count: 0 };
    },
    /** A chunk whose bytes are no longer needed. */
    give(buffer: Buffer): void {
      if (buffer.length === chunkBytes && spare.length < maxSpare) spare.push(buffer);
    },
  };
}

/**
 * Encoded predictions in chunks of `chunkBytes`: `push` encodes into the open chunk (moving to a fresh one when
 * it is full), `take` seals the open chunk and hands every sealed chunk to the store in one write. Written
 * chunks go back to a small pool, so a steady stream allocates nothing.
 */
function createByteQueue(encoding: PredictionEncoding, limits: QueueLimits): PendingQueue {
  const placement = encoding.placement;
  const placed = placement !== undefined && limits.chunkBytes % placement.block === 0;
  const pool = createChunkPool(
    limits.chunkBytes,
    limits.maxBytes,
    placed ? placement.chunks(limits.chunkBytes) : undefined,
  );
  const sealed: Chunk[] = [];
  let open: Chunk | null = null;
  let count = 0;
  let bytes = 0;
  let mark = 0; // where the prediction being encoded starts in the open chunk

  const seal = () => {
    if (open !== null && open.count > 0) sealed.push(open);
    else if (open !== null) pool.give(open.buffer);
    open = null;
  };
  /** A fresh open chunk with room for `n` bytes, starting where the store will put them (`bytes` wait before). */
  const openChunk = (n: number) => {
    const start = placed ? (placement.nextOffset() + bytes) % placement.block : 0;
    open = pool.take(start + n, start);
    return open;
  };
  const out: ByteOutput = {
    buffer: Buffer.alloc(0),
    offset: 0,
    reserve(n) {
      if (out.offset + n <= out.buffer.length) return;
      // the prediction's bytes so far move along to the fresh chunk: a line never spans two chunks
      const moved = out.buffer.subarray(mark, out.offset);
      open!.used = mark;
      seal();
      const chunk = openChunk(n + moved.length);
      moved.copy(chunk.buffer, chunk.start);
      out.buffer = chunk.buffer;
      out.offset = chunk.start + moved.length;
      mark = chunk.start;
    },
  };

  return {
    get count() {
      return count;
    },
    get due() {
      return sealed.length >= DUE_CHUNKS;
    },
    push(prediction) {
      if (count >= limits.maxQueue || bytes >= limits.maxBytes) return false;
      open ??= openChunk(0);
      out.buffer = open.buffer;
      out.offset = mark = open.used;
      try {
        encoding.encode(prediction, out);
      } catch {
        return false; // not encodable (cannot happen for parsed JSON): dropped and counted, never thrown
      }
      bytes += out.offset - mark;
      open!.used = out.offset;
      open!.count++;
      count++;
      return true;
    },
    // The rows that fit (by count; the bytes bound is checked once, as push does) are encoded together: the
    // store's batch form (the local log's one line per request) or a line per row.
    pushBatch(batch) {
      if (encoding.encodeBatch === undefined) {
        let n = 0;
        try {
          while (n < batch.rows.length && this.push(pendingRow(batch, n))) n++;
        } catch {
          // rows without spans (cannot happen for a route's batch): the rest is dropped and counted
        }
        return n;
      }
      if (bytes >= limits.maxBytes) return 0;
      const n = Math.min(batch.rows.length, limits.maxQueue - count);
      if (n <= 0) return 0;
      open ??= openChunk(0);
      out.buffer = open.buffer;
      out.offset = mark = open.used;
      try {
        encoding.encodeBatch(batch, n, out);
      } catch {
        return 0;
      }
      bytes += out.offset - mark;
      open!.used = out.offset;
      open!.count += n;
      count += n;
      return n;
    },
    take() {
      seal();
      if (sealed.length === 0) return null;
      const chunks = sealed.splice(0, sealed.length);
      let n = 0;
      for (const c of chunks) {
        n += c.count;
        bytes -= c.used - c.start;
      }
      count -= n;
      return {
        count: n,
        write: () => encoding.append(chunks.map((c) => c.buffer.subarray(c.start, c.used))),
        release: () => {
          for (const c of chunks) pool.give(c.buffer);
        },
      };
    },
  };
}
