import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { columnsOfRecords } from '../columns.js';
import type { ColumnField, PendingPrediction } from '../port.js';
import { createLocalPredictionStore } from './local-prediction-store.js';
import {
  createAlignedChunks,
  createDirectStaging,
  DIRECT_BLOCK,
  openDirectSegment,
  openSegmentReader,
} from './segment-file.js';
import { createSegmentWriter } from './segment-writer.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const freshDir = async (root = tmpdir()) => {
  const d = await mkdtemp(join(root, 'tassel-segment-file-'));
  dirs.push(d);
  return d;
};

/** Whether this machine's temporary folder takes O_DIRECT (else the direct tests say why they skip). */
async function directHere(): Promise<boolean> {
  const file = await openDirectSegment(join(await freshDir(), 'probe'), createDirectStaging(16384)!);
  await file?.close();
  if (file === null) console.log(`# skipped: ${tmpdir()} does not take O_DIRECT writes`);
  return file !== null;
}

test('a direct segment holds the bytes appended, zeros to a 4 KiB boundary while open, exactly them once closed', async (t) => {
  if (!(await directHere())) return t.skip(`${tmpdir()} does not take O_DIRECT writes`);
  // 16 KiB of staging, so that appends larger than it are written in several pieces
  const staging = createDirectStaging(16384)!;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.integer({ min: 0, max: 40_000 }), { minLength: 1, maxLength: 3 }), {
        minLength: 1,
        maxLength: 8,
      }),
      async (appends) => {
        const path = join(await freshDir(), 'segment.jsonl');
        const file = (await openDirectSegment(path, staging))!;
        assert.equal(file.direct, true);
        const expected: Buffer[] = [];
        let byte = 0;
        for (const sizes of appends) {
          const chunks = sizes.map((n) => Buffer.from(Array.from({ length: n }, () => 97 + (byte++ % 26))));
          await file.append(chunks);
          expected.push(...chunks);
          const want = Buffer.concat(expected);
          const open = await readFile(path);
          assert.equal(open.length % 4096, 0);
          assert.ok(open.subarray(0, want.length).equals(want), 'the bytes appended so far');
          assert.ok(
            open.subarray(want.length).every((b) => b === 0),
            'then zeros',
          );
        }
        await file.close();
        assert.ok((await readFile(path)).equals(Buffer.concat(expected)));
      },
    ),
    { numRuns: 40 },
  );
});

test('chunks placed at the file offset of their block are written from their own memory, others through staging', async (t) => {
  if (!(await directHere())) return t.skip(`${tmpdir()} does not take O_DIRECT writes`);
  const staging = createDirectStaging(16384)!;
  const chunkBytes = 3 * DIRECT_BLOCK;
  const allocate = createAlignedChunks(chunkBytes, 8 * chunkBytes);
  // each chunk: its length, and whether it is placed (an aligned chunk starting at the file's block offset),
  // misplaced (an aligned chunk starting elsewhere) or plain (ordinary memory, as the shape lines are)
  const kind = fc.constantFrom('placed', 'placed', 'misplaced', 'plain');
  const piece = fc.record({ kind, length: fc.integer({ min: 1, max: chunkBytes - DIRECT_BLOCK }) });
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(piece, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 8 }),
      async (appends) => {
        const path = join(await freshDir(), 'segment.jsonl');
        const file = (await openDirectSegment(path, staging))!;
        const expected: Buffer[] = [];
        let byte = 0;
        let staged = 0;
        for (const pieces of appends) {
          let offset = file.length;
          const chunks = pieces.map(({ kind, length }) => {
            const phase = offset % DIRECT_BLOCK;
            const start = kind === 'placed' ? phase : (phase + 1) % DIRECT_BLOCK;
            const memory = kind === 'plain' ? Buffer.alloc(chunkBytes) : allocate()!;
            memory.fill(7); // old bytes of a reused chunk, which must not reach the file
            const chunk = memory.subarray(start, start + length);
            for (let i = 0; i < length; i++) chunk[i] = 97 + (byte++ % 26);
            if (kind !== 'placed') staged += length;
            offset += length;
            return chunk;
          });
          // the file's bytes as appended, copied now: written in place, the chunks' memory around them changes
          expected.push(Buffer.concat(chunks));
          await file.append(chunks);
          const want = Buffer.concat(expected);
          const open = await readFile(path);
          assert.equal(file.length, want.length);
          assert.ok(open.subarray(0, want.length).equals(want), 'the bytes appended so far');
          assert.ok(
            open.subarray(want.length).every((b) => b === 0),
            'then zeros',
          );
        }
        assert.equal(file.stagedBytes, staged, 'only chunks not placed are copied');
        await file.close();
        assert.ok((await readFile(path)).equals(Buffer.concat(expected)));
      },
    ),
    { numRuns: 60 },
  );
});

test("a segment writer's next offset counts the appends not over yet, so chunks placed by it are all written in place", async (t) => {
  if (!(await directHere())) return t.skip(`${tmpdir()} does not take O_DIRECT writes`);
  const dir = await freshDir();
  const writer = createSegmentWriter({ dir, prefix: 'p', directIo: true });
  const allocate = createAlignedChunks(2 * DIRECT_BLOCK);
  const appends: Promise<void>[] = [];
  const expected: Buffer[] = [];
  for (let i = 0; i < 30; i++) {
    // as the prediction queue does: the chunk's bytes start at the offset they will land at, modulo the block
    const start = writer.nextOffset() % DIRECT_BLOCK;
    const chunk = allocate()!.subarray(start, start + 1 + ((i * 797) % DIRECT_BLOCK));
    chunk.fill(97 + (i % 26));
    expected.push(Buffer.from(chunk));
    appends.push(writer.append([chunk]));
  }
  assert.equal(writer.nextOffset(), Buffer.concat(expected).length, 'before any append is over');
  await Promise.all(appends);
  assert.equal(writer.stagedBytes, 0, 'nothing copied');
  await writer.close();
  const [name] = await readdir(dir);
  assert.ok((await readFile(join(dir, name!))).equals(Buffer.concat(expected)));
});

test('openDirectSegment leaves a file that already holds bytes to the page cache', async () => {
  const held = join(await freshDir(), 'held.jsonl');
  await writeFile(held, 'x\n');
  assert.equal(await openDirectSegment(held, createDirectStaging(16384)!), null);
  assert.equal(await readFile(held, 'utf8'), 'x\n');
});

test('a segment writer runs appends one at a time in call order, rotating direct segments by size', async (t) => {
  if (!(await directHere())) return t.skip(`${tmpdir()} does not take O_DIRECT writes`);
  const dir = await freshDir();
  const writer = createSegmentWriter({ dir, prefix: 'p', directIo: true, maxBytes: 4000 });
  const lines = Array.from({ length: 400 }, (_, i) => `{"i":${i},"pad":"${'z'.repeat(i % 97)}"}\n`);
  await Promise.all(lines.map((l) => writer.append(l)));
  assert.equal(writer.direct, true);
  await writer.close();
  const names = (await readdir(dir)).sort();
  assert.ok(names.length > 3, `${names.length} segments`);
  let text = '';
  for (const n of names) text += await readFile(join(dir, n), 'utf8');
  assert.equal(text, lines.join(''));
});

const FIELDS: ColumnField[] = [
  { name: 'a', numeric: true, nullable: true, parse: (v) => (typeof v === 'number' ? v : Number.NaN) },
];
const prediction = (i: number): PendingPrediction => ({
  request_id: `r${i}`,
  time: Date.UTC(2026, 11, 6) + i,
  model_name: 'm',
  model_version: '1',
  inputs: { a: i },
  inputs_json: null,
  probability: i / 1000,
  label: 0,
  fallback: false,
  route: '/predict',
});

test("both reads skip the zeros after a direct segment's last line: while it is written, and after a crash", async (t) => {
  if (!(await directHere())) return t.skip(`${tmpdir()} does not take O_DIRECT writes`);
  const dir = await freshDir();
  const store = createLocalPredictionStore({ dir });
  for (let i = 0; i < 50; i++) await store.appendPredictions([prediction(i)]);
  const [segment] = await readdir(join(dir, 'predictions'));
  const path = join(dir, 'predictions', segment!);
  const { size } = await stat(path);
  assert.equal(size % 4096, 0, 'written directly: whole blocks while open');
  const ids = async (s: typeof store) => {
    const fast = await s.readPredictionColumns!({ modelName: 'm' }, FIELDS, { requestIds: true });
    const slow = await columnsOfRecords(s.readPredictions({ modelName: 'm' }), FIELDS, { requestIds: true });
    assert.deepEqual(fast.requestIds, slow.requestIds);
    assert.deepEqual([...fast.columns.get('a')!], [...slow.columns.get('a')!]);
    return fast.requestIds;
  };
  const all = Array.from({ length: 50 }, (_, i) => `r${i}`);
  assert.deepEqual(await ids(store), all);
  // a crash leaves the zeros in the file; a restarted server reads it as it is and writes a new segment
  const crashed = await freshDir();
  await mkdir(join(crashed, 'predictions'));
  await copyFile(path, join(crashed, 'predictions', segment!));
  const restarted = createLocalPredictionStore({ dir: crashed });
  await restarted.appendPredictions([prediction(50)]);
  assert.deepEqual(await ids(restarted), [...all, 'r50']);
  await restarted.close();
  await store.close();
  assert.ok((await stat(path)).size < size, 'closed: cut to the bytes appended');
  assert.deepEqual(await ids(createLocalPredictionStore({ dir })), all);
});

test('a line torn by zeros in the middle of a segment (a read racing a direct write) is skipped by both reads', async () => {
  const dir = await freshDir();
  const writer = createLocalPredictionStore({ dir, directIo: false });
  for (let i = 0; i < 3; i++) await writer.appendPredictions([prediction(i)]);
  await writer.close();
  const [segment] = await readdir(join(dir, 'predictions'));
  const path = join(dir, 'predictions', segment!);
  const text = await readFile(path);
  // the second record's line: its first bytes, zeros, then its last bytes
  const lines = text.toString('latin1').split('\n');
  const second = lines.findIndex((l) => l.includes('"r1"') || l.includes(',"r1",'));
  assert.ok(second > 0);
  const torn = Buffer.from(lines[second]!, 'latin1');
  torn.fill(0, 10, torn.length - 5);
  lines[second] = torn.toString('latin1');
  await writeFile(path, Buffer.from(lines.join('\n'), 'latin1'));
  const store = createLocalPredictionStore({ dir });
  const fast = await store.readPredictionColumns!({ modelName: 'm' }, FIELDS, { requestIds: true });
  const slow = await columnsOfRecords(store.readPredictions({ modelName: 'm' }), FIELDS, {
    requestIds: true,
  });
  assert.deepEqual(fast.requestIds, ['r0', 'r2']);
  assert.deepEqual(slow.requestIds, ['r0', 'r2']);
  await store.close();
});

test("a segment reader gives the file's bytes in order, past the page cache, through it, or through it after a refused direct read, in reads of any length", async () => {
  const dir = await freshDir();
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 70_000 }),
      fc.array(fc.integer({ min: 1, max: 30_000 }), { minLength: 1, maxLength: 5 }),
      fc.constantFrom('direct', 'page cache', 'refused'),
      async (size, lengths, how) => {
        const path = join(dir, `f${size}.jsonl`);
        const bytes = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7919) % 251));
        await writeFile(path, bytes);
        // 'refused': staging off its page boundary, so each direct read fails and the reader goes on through the cache
        const staging =
          how === 'page cache'
            ? null
            : how === 'direct'
              ? createDirectStaging(16384)
              : Buffer.from(createDirectStaging(65536 + 16384)!.buffer, 8, 16384);
        const reader = await openSegmentReader(path, staging);
        const got: Buffer[] = [];
        for (let k = 0; ; k++) {
          const length = lengths[k % lengths.length]!;
          const dest = Buffer.alloc(length + 3);
          const n = await reader.read(dest, 3, length);
          if (n === 0) break;
          assert.ok(n <= length);
          got.push(dest.subarray(3, 3 + n));
        }
        await reader.close();
        assert.ok(Buffer.concat(got).equals(bytes));
      },
    ),
    { numRuns: 40 },
  );
});

test('a file system that opens with O_DIRECT but refuses its writes: the writer goes on through the page cache, nothing lost', async (t) => {
  if (!(await directHere())) return t.skip(`${tmpdir()} does not take O_DIRECT writes`);
  // staging 8 bytes past a page boundary: the device's alignment rule refuses the write (EINVAL)
  const misaligned = Buffer.from(createDirectStaging(3 * 65536)!.buffer, 8, 65536);
  const dir = await freshDir();
  const writer = createSegmentWriter({ dir, prefix: 'p', directIo: true, directStaging: misaligned });
  let leads = 0;
  await writer.append('{"a":1}\n', (fresh) => {
    if (fresh) leads++;
    return fresh ? [Buffer.from('{"shape":1}\n')] : [];
  });
  assert.equal(writer.direct, false);
  await writer.append('{"a":2}\n');
  await writer.close();
  const names = (await readdir(dir)).sort();
  let text = '';
  for (const n of names) text += await readFile(join(dir, n), 'utf8');
  // the refused segment is left empty (cut to the bytes appended: none); the lines are in the next one
  assert.equal(text, '{"shape":1}\n{"a":1}\n{"a":2}\n');
  assert.equal(leads, 2, 'the fresh segment got its lead lines again');
});
