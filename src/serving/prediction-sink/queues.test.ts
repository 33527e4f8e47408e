import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type BatchLine, batchLineRecords } from './local/batch-line.js';
import { createJsonlEncoder, createJsonlEncoding } from './local/jsonl-encoder.js';
import { createLocalPredictionStore } from './local/local-prediction-store.js';
import {
  type PendingBatch,
  type PendingPrediction,
  type PredictionRecord,
  type PredictionStore,
  pendingRow,
} from './port.js';
import { createPendingQueue } from './queues.js';
import { createPredictionSink } from './sink.js';

const T0 = Date.UTC(2026, 11, 5, 3, 0, 0);

/** Prediction i: raw request bytes (with line breaks and non-ASCII text every few), or an inputs object. */
function pending(i: number, big = false): PendingPrediction {
  const inputs = {
    id: `S${i}`,
    region: i % 4 === 0 ? 'Île-de-France' : 'East',
    n: i,
    note: big ? 'x'.repeat(500) : '',
  };
  const raw = i % 2 === 0;
  return {
    request_id: i % 5 === 0 ? `caller"id\\${i}` : `r-${i}`,
    time: T0 + i * 7,
    model_name: i % 3 === 0 ? 'mödel' : 'm',
    model_version: i % 3 === 0 ? null : '3',
    inputs: raw ? null : inputs,
    inputs_json: raw ? Buffer.from(JSON.stringify(inputs, null, i % 4 === 0 ? '\r\n' : undefined)) : null,
    probability: i / 1000,
    label: i % 2 === 0 ? 0 : 1,
    fallback: i % 7 === 0,
    route: i % 2 === 0 ? '/predict' : '/predict/batch',
  };
}

const expected = (p: PendingPrediction): PredictionRecord => ({
  request_id: p.request_id,
  time: new Date(p.time).toISOString(),
  model_name: p.model_name,
  model_version: p.model_version,
  inputs: p.inputs ?? JSON.parse(String(p.inputs_json)),
  probability: p.probability,
  label: p.label,
  fallback: p.fallback,
  route: p.route,
});

test('byte queue: predictions cross small chunks, a large one gets its own, every line reads back as recorded', async () => {
  const written: Buffer[] = [];
  const encode = createJsonlEncoder();
  const store = {
    encoding: {
      encode,
      append: async (chunks: readonly Buffer[]) => void written.push(...chunks.map((c) => Buffer.from(c))),
    },
  } as unknown as PredictionStore;
  const queue = createPendingQueue(store, {
    maxQueue: 1000,
    maxBatch: 10,
    maxBytes: 1 << 20,
    chunkBytes: 256,
  });
  const all = Array.from({ length: 40 }, (_, i) => pending(i, i === 13));
  for (const p of all.slice(0, 25)) assert.equal(queue.push(p), true);
  assert.equal(queue.count, 25);
  const first = queue.take()!;
  assert.equal(first.count, 25);
  assert.equal(queue.count, 0);
  for (const p of all.slice(25)) queue.push(p); // encoded while the first batch is being written
  await first.write();
  first.release();
  const second = queue.take()!;
  await second.write();
  second.release();
  assert.equal(queue.take(), null);
  assert.ok(
    written.some((c) => c.length > 256),
    'the large prediction had a chunk of its own',
  );
  const lines = Buffer.concat(written).toString().split('\n');
  assert.equal(lines.pop(), '');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l)),
    all.map(expected),
  );
});

test("byte queue with the store's placement: its chunks, each starting at its bytes' offset in the store's blocks, again so after the store's offsets jump", async () => {
  const block = 64;
  const given = new Set<ArrayBufferLike>();
  let fileLength = 0; // the store's offset: bytes appended since its last "rotation"
  let pendingBytes = 0;
  // each chunk appended: a copy of its bytes, the store offset it went to, its offset in its block when it is one
  // of the store's chunks (else -1)
  const appended: { bytes: Buffer; at: number; placedAt: number; write: number }[] = [];
  let writes = 0;
  const store = {
    encoding: {
      encode: createJsonlEncoder(),
      append: async (chunks: readonly Buffer[]) => {
        const n = chunks.reduce((t, c) => t + c.length, 0);
        const write = writes++;
        pendingBytes += n;
        await new Promise((r) => setImmediate(r));
        for (const c of chunks) {
          const placedAt = given.has(c.buffer) ? c.byteOffset % block : -1;
          appended.push({ bytes: Buffer.from(c), at: fileLength, placedAt, write });
          fileLength += c.length;
        }
        pendingBytes -= n;
      },
      placement: {
        block,
        chunks: (chunkBytes: number) => () => {
          const b = Buffer.alloc(chunkBytes);
          given.add(b.buffer);
          return b;
        },
        nextOffset: () => fileLength + pendingBytes,
      },
    },
  } as unknown as PredictionStore;
  const queue = createPendingQueue(store, {
    maxQueue: 1000,
    maxBatch: 10,
    maxBytes: 1 << 20,
    chunkBytes: 512,
  });
  const all = Array.from({ length: 60 }, (_, i) => pending(i, i === 13));
  const writeQueued = async () => {
    const taken = queue.take()!;
    await taken.write();
    taken.release();
  };
  for (const p of all.slice(0, 20)) queue.push(p);
  await writeQueued();
  for (const p of all.slice(20, 40)) queue.push(p);
  fileLength += 5; // the store started a new segment with 5 bytes of its own: chunks encoded before are misplaced
  await writeQueued();
  for (const p of all.slice(40)) queue.push(p);
  await writeQueued();
  const placed = appended.filter((a) => a.placedAt >= 0);
  assert.ok(placed.length >= 10, `most chunks are the store's (${placed.length} of ${appended.length})`);
  assert.ok(
    appended.some((a) => a.placedAt === -1 && a.bytes.length > 512),
    'the large prediction had an ordinary chunk of its own',
  );
  const right = (w: number) => placed.filter((a) => a.write === w).map((a) => a.placedAt === a.at % block);
  assert.deepEqual(new Set(right(0)), new Set([true]), 'the first write: every chunk where it lands');
  assert.deepEqual(new Set(right(1)), new Set([false]), 'encoded before the jump: none');
  assert.deepEqual(new Set(right(2)), new Set([true]), 'encoded after it: every chunk again');
  const lines = Buffer.concat(appended.map((a) => a.bytes))
    .toString()
    .split('\n');
  assert.equal(lines.pop(), '');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l)),
    all.map(expected),
  );
});

test('byte queue: bounded by count and by bytes; refused predictions leave the queue intact', () => {
  const store = {
    encoding: { encode: createJsonlEncoder(), append: async () => {} },
  } as unknown as PredictionStore;
  const byCount = createPendingQueue(store, {
    maxQueue: 3,
    maxBatch: 10,
    maxBytes: 1 << 20,
    chunkBytes: 4096,
  });
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((i) => byCount.push(pending(i))),
    [true, true, true, false, false],
  );
  assert.equal(byCount.take()!.count, 3);
  const byBytes = createPendingQueue(store, {
    maxQueue: 1000,
    maxBatch: 10,
    maxBytes: 600,
    chunkBytes: 4096,
  });
  let accepted = 0;
  while (byBytes.push(pending(accepted + 1))) accepted++;
  assert.ok(accepted >= 2 && accepted <= 5, `accepted ${accepted}`);
  assert.equal(byBytes.count, accepted);
});

test('sink over local segments: tiny chunks, reused buffers, every prediction written once and in order; close flushes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tassel-queues-'));
  try {
    const sink = createPredictionSink({
      store: createLocalPredictionStore({ dir }),
      chunkBytes: 300,
      flushIntervalMs: 5,
    });
    const all = Array.from({ length: 300 }, (_, i) => pending(i, i % 50 === 0));
    for (let i = 0; i < all.length; i++) {
      sink.record(all[i]!);
      if (i % 37 === 0) await new Promise((r) => setTimeout(r, 6)); // timer flushes in between
    }
    await sink.close();
    assert.deepEqual(sink.stats, { written: 300, dropped: 0, queued: 0 });
    const reader = createLocalPredictionStore({ dir });
    const back: PredictionRecord[] = [];
    for (const name of ['m', 'mödel']) {
      for await (const r of reader.readPredictions({ modelName: name })) back.push(r);
    }
    await reader.close();
    const key = (r: PredictionRecord) => r.request_id;
    assert.deepEqual(
      back.sort((a, b) => key(a).localeCompare(key(b))),
      all.map(expected).sort((a, b) => key(a).localeCompare(key(b))),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('sink: a flush writes what was queued when it started in one write; predictions recorded meanwhile wait for the next', async () => {
  const writes: number[] = [];
  let finishWrite = () => {};
  const store = {
    description: 'test',
    encoding: {
      encode: createJsonlEncoder(),
      append: (chunks: readonly Buffer[]) => {
        writes.push(Buffer.concat(chunks).toString().split('\n').length - 1);
        return new Promise<void>((r) => {
          finishWrite = r;
        });
      },
    },
    close: async () => {},
  } as unknown as PredictionStore;
  const sink = createPredictionSink({ store, flushIntervalMs: 60_000 });
  for (let i = 0; i < 10; i++) sink.record(pending(i));
  const flushed = sink.flush();
  for (let i = 10; i < 15; i++) sink.record(pending(i)); // arrive while the first write is in progress
  finishWrite();
  await flushed;
  assert.deepEqual(writes, [10]);
  assert.deepEqual(sink.stats, { written: 10, dropped: 0, queued: 5 });
  const closing = sink.close();
  await new Promise((r) => setImmediate(r));
  finishWrite();
  await closing;
  assert.deepEqual(writes, [10, 5]);
  assert.deepEqual(sink.stats, { written: 15, dropped: 0, queued: 0 });
});

test('sink: four full chunks waiting start a write without waiting for the timer', async () => {
  const writes: number[] = [];
  const store = {
    description: 'test',
    encoding: {
      encode: createJsonlEncoder(),
      append: async (chunks: readonly Buffer[]) => void writes.push(chunks.length),
    },
    close: async () => {},
  } as unknown as PredictionStore;
  const sink = createPredictionSink({ store, chunkBytes: 300, flushIntervalMs: 60_000 });
  sink.record(pending(1));
  sink.record(pending(3));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writes, [], 'less than four chunks: left for the timer');
  for (let i = 5; i < 30; i += 2) sink.record(pending(i));
  await new Promise((r) => setImmediate(r));
  assert.ok(writes.length >= 1 && writes[0]! >= 4, `writes ${writes}`);
  await sink.close();
  assert.deepEqual(sink.stats, { written: 15, dropped: 0, queued: 0 });
});

/** A store that keeps nothing: it notes each written chunk's buffer (in `seen`) and hands the chunk to `onChunk`. */
function chunkNotingStore(onChunk: (chunk: Buffer) => void) {
  const seen = new Set<ArrayBufferLike>();
  const store = {
    description: 'test',
    encoding: {
      encode: createJsonlEncoder(),
      append: async (chunks: readonly Buffer[]) => {
        for (const c of chunks) {
          seen.add(c.buffer);
          onChunk(c);
        }
      },
    },
    close: async () => {},
  } as unknown as PredictionStore;
  return { store, seen };
}

test('sink: written chunks are reused, however many one write holds (the spare pool is bounded in bytes)', async () => {
  let lines = 0;
  const { store, seen } = chunkNotingStore((c) => {
    lines += c.toString().split('\n').length - 1;
  });
  const sink = createPredictionSink({ store, chunkBytes: 2048, flushIntervalMs: 60_000 });
  // ~50 chunks a round: more than the 16 spares kept when the pool counted chunks (which made ~370 distinct
  // buffers here), far below its bound, the queue's 64 MiB (one round's worth, reused every round)
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 400; i++) sink.record(pending(2 * i + 1));
    await sink.flush();
  }
  await sink.close();
  assert.deepEqual(sink.stats, { written: 4000, dropped: 0, queued: 0 });
  assert.equal(lines, 4000);
  assert.ok(seen.size <= 100, `${seen.size} distinct chunk buffers over 10 rounds of ~50 chunks`);
});

test("sink: the spare pool keeps every chunk a burst queued, up to the queue's byte bound (a slow write allocates nothing the next time)", async () => {
  let written = 0;
  const { store, seen } = chunkNotingStore((c) => {
    written += c.length;
  });
  // 1 MiB chunks: ~40 of them a round, more than the 16 a fixed 16 MiB of spares kept (which allocated ~24 afresh
  // every round), within the queue's 64 MiB
  const sink = createPredictionSink({ store, chunkBytes: 1024 * 1024, flushIntervalMs: 60_000 });
  const big = {
    ...pending(1),
    inputs: null,
    inputs_json: Buffer.from(JSON.stringify({ note: 'x'.repeat(100_000) })),
  };
  for (let round = 0; round < 5; round++) {
    // queued while no write may start (as behind a slow one): ~400 lines of 100 kB
    for (let i = 0; i < 400; i++) sink.record({ ...big, request_id: `r${round}-${i}` });
    await sink.flush();
  }
  await sink.close();
  assert.equal(sink.stats.dropped, 0);
  assert.ok(written > 5 * 400 * 100_000);
  assert.ok(seen.size <= 45, `${seen.size} distinct chunk buffers over 5 rounds of ~40 chunks`);
});

test('sink: a batch is queued as one line in the encoded queue (a line larger than a chunk gets one of its own, over-the-bound rows dropped and counted) and row by row as objects elsewhere', async () => {
  const records = Array.from({ length: 40 }, (_, i) => ({
    id: `S${i}`,
    region: i % 4 === 0 ? 'Île' : 'East',
    n: i,
  }));
  let text = '[';
  const spans = new Int32Array(2 * records.length);
  records.forEach((r, i) => {
    if (i > 0) text += ',';
    spans[2 * i] = text.length;
    text += JSON.stringify(r);
    spans[2 * i + 1] = text.length;
  });
  text += ']';
  const batch: PendingBatch = {
    request_id: 'req',
    time: T0,
    model_name: 'm',
    model_version: '3',
    fallback: false,
    route: '/predict/batch',
    text,
    spans,
    rows: records.map((_, i) => ({ probability: i / 100, label: i % 2 })),
  };
  const chunks: Buffer[] = [];
  const encoded = {
    description: 'test',
    encoding: {
      ...createJsonlEncoding(),
      append: async (cs: readonly Buffer[]) => void chunks.push(...cs.map((c) => Buffer.from(c))),
    },
    close: async () => {},
  } as unknown as PredictionStore;
  const sink = createPredictionSink({
    store: encoded,
    chunkBytes: 300,
    maxQueue: 30,
    flushIntervalMs: 60_000,
  });
  sink.recordBatch(batch);
  await sink.close();
  assert.deepEqual(sink.stats, { written: 30, dropped: 10, queued: 0 });
  assert.equal(chunks.length, 1, 'the line is larger than a chunk: a chunk of its own, never split');
  const lines = chunks.flatMap((c) =>
    c
      .toString()
      .split('\n')
      .filter((l) => l !== ''),
  );
  assert.equal(lines.length, 1, 'one line for the rows that fit');
  assert.deepEqual(
    batchLineRecords(JSON.parse(lines[0]!) as BatchLine),
    records.slice(0, 30).map((_, i) => expected(pendingRow(batch, i))),
  );

  const objects: PendingPrediction[] = [];
  const plain = {
    description: 'objects',
    appendPredictions: async (b: readonly PendingPrediction[]) => void objects.push(...b),
    close: async () => {},
  } as unknown as PredictionStore;
  const objectSink = createPredictionSink({ store: plain, flushIntervalMs: 60_000 });
  objectSink.recordBatch(batch);
  await objectSink.close();
  assert.deepEqual(
    objects,
    records.map((_, i) => pendingRow(batch, i)),
  );
  assert.equal(objects[5]!.request_id, 'req/5');
});

test('a batch given as one run of records whose rows cannot be split is dropped and counted by either queue, never thrown', async () => {
  const batch: PendingBatch = {
    request_id: 'req',
    time: T0,
    model_name: 'm',
    model_version: '3',
    fallback: false,
    route: '/predict/batch',
    text: '[1, 2]',
    elements: { start: 1, end: 5 },
    rows: [
      { probability: 0.1, label: 0 },
      { probability: 0.9, label: 1 },
    ],
  };
  const plain = {
    description: 'objects',
    appendPredictions: async () => {},
    close: async () => {},
  } as unknown as PredictionStore;
  const rowWise = {
    description: 'rows',
    encoding: { encode: createJsonlEncoder(), append: async () => {} },
    close: async () => {},
  } as unknown as PredictionStore;
  for (const store of [plain, rowWise]) {
    const sink = createPredictionSink({ store, flushIntervalMs: 60_000 });
    sink.recordBatch({ ...batch });
    await sink.close();
    assert.deepEqual(sink.stats, { written: 0, dropped: 2, queued: 0 }, store.description);
  }
});
