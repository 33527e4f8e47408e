import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

/** Options of {@link createPredictionLog}. */
export interface PredictionLogOptions {
  /** JSONL file the entries are appended to (created with its folder). */
  file: string;
  /** Fraction of requests logged, in [0, 1]; default 1. */
  sample?: number;
  /** Most entries waiting to be written; beyond it entries are dropped (and counted). Default 10,000. */
  maxQueue?: number;
  /** How often the queue is flushed, in ms; default 200. */
  flushIntervalMs?: number;
  /** Called with the number of entries dropped because the queue was full. */
  onDrop?: (n: number) => void;
  /** Random source in [0, 1) (tests pass a seeded one). */
  random?: () => number;
}

/** One logged request/response pair. */
export interface PredictionLogEntry {
  route: string;
  model: { name: string; version: string | null; fallback: boolean };
  request: unknown;
  response: unknown;
}

/**
 * The opt-in prediction log: a sample of request/response pairs appended as JSONL for drift monitoring.
 * `record` only pushes onto a bounded in-memory queue (no I/O, no serialization on the request path);
 * a timer serializes and writes the queue in one append. When the disk cannot keep up the queue stays
 * bounded and entries are dropped, never the request slowed down.
 */
export interface PredictionLog {
  /** Whether this request should be logged (sampling); call before building the entry. */
  sampled(): boolean;
  record(entry: PredictionLogEntry): void;
  /** Entries written so far. */
  readonly written: number;
  /** Entries dropped so far. */
  readonly dropped: number;
  /** Writes what is queued now. */
  flush(): Promise<void>;
  /** Flushes and closes the file. */
  close(): Promise<void>;
}

/** Opens (appends to) the prediction log file. */
export function createPredictionLog(options: PredictionLogOptions): PredictionLog {
  const sample = Math.min(1, Math.max(0, options.sample ?? 1));
  const maxQueue = options.maxQueue ?? 10_000;
  const random = options.random ?? Math.random;
  mkdirSync(dirname(options.file), { recursive: true });
  const stream: WriteStream = createWriteStream(options.file, { flags: 'a' });
  stream.on('error', () => {
    // a broken log must never take the service down; entries are counted as dropped from now on
    broken = true;
  });
  let broken = false;
  let queue: Array<PredictionLogEntry & { ts: string }> = [];
  let written = 0;
  let dropped = 0;
  let writing: Promise<void> = Promise.resolve();

  const flush = (): Promise<void> => {
    if (queue.length === 0) return writing;
    const batch = queue;
    queue = [];
    let text = '';
    for (const e of batch) text += `${JSON.stringify(e)}\n`;
    writing = writing.then(
      () =>
        new Promise<void>((resolve) => {
          if (broken) {
            dropped += batch.length;
            options.onDrop?.(batch.length);
            resolve();
            return;
          }
          stream.write(text, () => {
            written += batch.length;
            resolve();
          });
        }),
    );
    return writing;
  };
  const timer = setInterval(() => void flush(), options.flushIntervalMs ?? 200);
  timer.unref();

  return {
    sampled: () => sample >= 1 || (sample > 0 && random() < sample),
    record(entry) {
      if (queue.length >= maxQueue) {
        dropped++;
        options.onDrop?.(1);
        return;
      }
      queue.push({ ts: new Date().toISOString(), ...entry });
    },
    get written() {
      return written;
    },
    get dropped() {
      return dropped;
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
      await new Promise<void>((resolve) => stream.end(resolve));
    },
  };
}
