import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';

/** One open segment: appends whole lines, closes with exactly the bytes appended. */
export interface SegmentFile {
  /** Appends the chunks in order; resolves once they are in the file. */
  append(chunks: readonly Buffer[]): Promise<void>;
  /** Whether the file is written with O_DIRECT (see {@link openDirectSegment}). */
  readonly direct: boolean;
  /** Bytes appended so far. */
  readonly length: number;
  /** Bytes appended by copying them into staging memory first (direct writes of chunks not written in place). */
  readonly stagedBytes: number;
  close(): Promise<void>;
}

/** Opens (creating) `path` for appending through the page cache. */
export async function openBufferedSegment(path: string): Promise<SegmentFile> {
  const handle = await open(path, 'a');
  let length = 0;
  return {
    direct: false,
    get length() {
      return length;
    },
    stagedBytes: 0,
    async append(chunks) {
      if (chunks.length === 1) await handle.write(chunks[0]!);
      else await handle.writev(chunks as Buffer[]);
      for (const c of chunks) length += c.length;
    },
    close: () => handle.close(),
  };
}

/**
 * File offsets and lengths of direct writes are multiples of this: 4 KiB suits devices with 512-byte and with
 * 4 KiB logical blocks alike.
 */
export const DIRECT_BLOCK = 4096;
const BLOCK = DIRECT_BLOCK;
/** The one piece of the WebAssembly API used here (the project's type libraries do not declare it). */
declare const WebAssembly: { Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer } };
const WASM_PAGE = 65536;
/** Bytes one direct write carries at most (a larger append is written as several). */
export const DIRECT_STAGING_BYTES = 4 * 1024 * 1024;

/**
 * Page-aligned memory for direct writes, or null where none can be had. Why WebAssembly memory: O_DIRECT wants
 * the buffer's address aligned, JavaScript cannot see a Buffer's address, and a WebAssembly memory's backing
 * store is allocated in whole pages.
 */
export function createDirectStaging(bytes = DIRECT_STAGING_BYTES): Buffer | null {
  try {
    const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / WASM_PAGE) });
    return Buffer.from(memory.buffer, 0, bytes);
  } catch {
    return null; // e.g. no address space for its reservation under `ulimit -v`
  }
}

/**
 * Memories carved into whole blocks by {@link createAlignedChunks}: a Buffer on one of them starts at its block's
 * start plus its byteOffset modulo the block, and the rest of its first and last blocks are its chunk's own.
 */
const blockCarved = new WeakSet<ArrayBufferLike>();

/**
 * Chunks of `chunkBytes` (a multiple of {@link DIRECT_BLOCK}) that a direct segment can write in place, without
 * copying them into its staging memory: page-aligned, carved from WebAssembly memories of `slabBytes` (see
 * createDirectStaging for why WebAssembly). Returns an allocator that gives one chunk a call, or null once no
 * memory can be had (the caller then allocates ordinary chunks, which are copied).
 */
export function createAlignedChunks(chunkBytes: number, slabBytes = 16 * 1024 * 1024): () => Buffer | null {
  const perSlab = Math.max(1, Math.floor(slabBytes / chunkBytes));
  let slab: ArrayBuffer | null = null;
  let next = perSlab;
  let failed = chunkBytes % BLOCK !== 0;
  return () => {
    if (failed) return null;
    if (next === perSlab) {
      const memory = createDirectStaging(perSlab * chunkBytes);
      if (memory === null) {
        failed = true;
        return null;
      }
      slab = memory.buffer as ArrayBuffer;
      blockCarved.add(slab);
      next = 0;
    }
    return Buffer.from(slab!, chunkBytes * next++, chunkBytes);
  };
}

/** Whether `chunk` lies in memory from {@link createAlignedChunks} and starts `phase` bytes into a block. */
const writableInPlace = (chunk: Buffer, phase: number) =>
  chunk.length > 0 && chunk.byteOffset % BLOCK === phase && blockCarved.has(chunk.buffer);

/**
 * Opens a fresh (empty) `path` with O_DIRECT, or returns null where the platform or file system refuses it (no
 * O_DIRECT on macOS or Windows, EINVAL on tmpfs) or the file already holds bytes.
 *
 * Why: a prediction log is written once and read rarely, yet through the page cache each logged byte lands in a
 * page the kernel allocates afresh; on a virtual machine whose free memory is handed back to its host (free
 * page reporting, as Firecracker's balloon does), each such page costs a host fault, ~150 us of CPU a batch
 * request of 100 rows (bench:serving --logging-only) against ~7 us written directly.
 *
 * How: every write covers whole blocks from the block holding the end of the file. The bytes of that last,
 * partial block are kept in `staging` and written again in front of the next append; the rest of the last
 * block is zero bytes, overwritten by the next append and cut off by `close` (ftruncate to the bytes
 * appended). Readers see the zeros after the last newline as a torn last line, as they see a crash mid-write,
 * and skip it; after a crash they stay in the file, which is never appended to again (a restart opens a new
 * segment). `staging` (page-aligned, a multiple of the block) is this file's alone while it is open.
 *
 * Appended bytes are copied into `staging` and written from there, except chunks from {@link createAlignedChunks}
 * whose bytes start as far into a block as the file's end is (the prediction queue places them so, see
 * PredictionEncoding.placement): those are written from their own memory, the partial block's bytes copied in
 * front of them, so a logged byte is copied once on the request path (encoded) instead of twice.
 */
export async function openDirectSegment(path: string, staging: Buffer): Promise<SegmentFile | null> {
  const flag = constants.O_DIRECT;
  if (flag === undefined || staging.length < 2 * BLOCK || staging.length % BLOCK !== 0) return null;
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_CREAT | flag, 0o644);
  } catch {
    return null;
  }
  if ((await handle.stat()).size !== 0) {
    await handle.close();
    return null;
  }
  let length = 0; // bytes appended
  let held = 0; // bytes of the last partial block, at the start of staging
  let stagedBytes = 0;

  /** Writes staging[0, filled) as whole blocks at the block holding the end of the file; keeps the rest. */
  const writeStaged = async (filled: number) => {
    const padded = Math.ceil(filled / BLOCK) * BLOCK;
    staging.fill(0, filled, padded);
    const at = length - held;
    const { bytesWritten } = await handle.write(staging, 0, padded, at);
    if (bytesWritten !== padded)
      throw new Error(`short direct write to ${path}: ${bytesWritten} of ${padded}`);
    const kept = filled % BLOCK;
    staging.copyWithin(0, filled - kept, filled);
    stagedBytes += filled - held;
    length = at + filled;
    held = kept;
  };

  /**
   * Writes `run` (chunks from createAlignedChunks, the first starting `held` bytes into a block, each next one
   * where the one before it ends) from their own memory: the bytes before each chunk in its first block are
   * those of the file's partial block (staging's, or the chunk before's last block), the rest of the last block
   * zeros. Only a few KiB are copied, whatever the chunks hold.
   */
  const writeInPlace = async (run: readonly Buffer[]) => {
    const views: Buffer[] = [];
    let carried = staging.subarray(0, held);
    let total = 0;
    let data = 0;
    for (let i = 0; i < run.length; i++) {
      const chunk = run[i]!;
      const bytes = carried.length + chunk.length; // from the start of the chunk's first block
      const whole = Math.floor(bytes / BLOCK) * BLOCK;
      const upTo = i === run.length - 1 ? Math.ceil(bytes / BLOCK) * BLOCK : whole;
      const memory = Buffer.from(chunk.buffer, chunk.byteOffset - carried.length, Math.max(bytes, upTo));
      carried.copy(memory, 0);
      memory.fill(0, bytes, upTo);
      if (upTo > 0) views.push(memory.subarray(0, upTo));
      carried = memory.subarray(whole, bytes);
      total += upTo;
      data += chunk.length;
    }
    const at = length - held;
    const { bytesWritten } = await handle.writev(views, at);
    if (bytesWritten !== total) throw new Error(`short direct write to ${path}: ${bytesWritten} of ${total}`);
    carried.copy(staging, 0);
    length += data;
    held = carried.length;
  };

  return {
    direct: true,
    get length() {
      return length;
    },
    get stagedBytes() {
      return stagedBytes;
    },
    async append(chunks) {
      let filled = held;
      for (let k = 0; k < chunks.length; ) {
        if (writableInPlace(chunks[k]!, filled % BLOCK)) {
          if (filled > held) await writeStaged(filled);
          let m = k + 1;
          let end = chunks[k]!.byteOffset + chunks[k]!.length;
          while (m < chunks.length && writableInPlace(chunks[m]!, end % BLOCK)) {
            end = chunks[m]!.byteOffset + chunks[m]!.length;
            m++;
          }
          await writeInPlace(chunks.slice(k, m));
          filled = held;
          k = m;
          continue;
        }
        const chunk = chunks[k++]!;
        for (let from = 0; from < chunk.length; ) {
          const n = Math.min(chunk.length - from, staging.length - filled);
          chunk.copy(staging, filled, from, from + n);
          filled += n;
          from += n;
          if (filled === staging.length) {
            await writeStaged(filled);
            filled = held;
          }
        }
      }
      if (filled > held) await writeStaged(filled);
    },
    async close() {
      try {
        await handle.truncate(length);
      } finally {
        await handle.close();
      }
    },
  };
}

/** Sequential reads of one segment file (see {@link openSegmentReader}). */
export interface SegmentReader {
  /** Reads the file's next bytes into `dest` at `offset`, at most `length`; 0 at the end of the file. */
  read(dest: Buffer, offset: number, length: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * Opens `path` for reading from its start, with O_DIRECT when `staging` is given and the file system allows it,
 * else through the page cache. Why direct: a log written directly is not in the page cache, and a read through it
 * would fill as many pages afresh, each a host fault on VMs whose free memory the host takes back (the write
 * side's reason, see {@link openDirectSegment}). The reads are of whole blocks into the two halves of `staging`
 * (page-aligned, a multiple of two blocks) in turn, the next one started as soon as the last one is in, so the
 * device works while the caller decodes; the end of the file ends the reads (bytes appended after it are left to
 * the next reader), and a read the file system refuses goes on through the page cache from the same offset.
 * `staging` is this reader's alone while it is open.
 */
export async function openSegmentReader(path: string, staging: Buffer | null): Promise<SegmentReader> {
  const flag = constants.O_DIRECT;
  const half = staging === null ? 0 : Math.floor(staging.length / 2 / BLOCK) * BLOCK;
  const direct =
    flag !== undefined && half > 0 ? await open(path, constants.O_RDONLY | flag).catch(() => null) : null;
  if (direct === null) {
    const buffered = await open(path, 'r');
    return {
      read: async (dest, offset, length) => (await buffered.read(dest, offset, length, null)).bytesRead,
      close: () => buffered.close(),
    };
  }
  const halves = [staging!.subarray(0, half), staging!.subarray(half, 2 * half)];
  let buffered: FileHandle | null = null;
  let position = 0; // where the next read starts
  let ended = false;
  /** The read in flight: its half, its offset in the file, its byte count (-1: refused). */
  let pending: Promise<{ into: number; at: number; n: number }> | null = null;
  let next = 0; // the half the next read fills
  // the bytes read and not yet handed out: halves[readyHalf][readyFrom, readyTo)
  let readyHalf = 0;
  let readyFrom = 0;
  let readyTo = 0;

  const start = () => {
    const into = next;
    const at = position;
    next = 1 - next;
    pending = direct.read(halves[into]!, 0, half, at).then(
      ({ bytesRead }) => ({ into, at, n: bytesRead }),
      () => ({ into, at, n: -1 }),
    );
    position += half;
  };

  const read = async (dest: Buffer, offset: number, length: number): Promise<number> => {
    if (readyFrom === readyTo) {
      if (buffered !== null) {
        const { bytesRead } = await buffered.read(dest, offset, length, position);
        position += bytesRead;
        return bytesRead;
      }
      if (ended) return 0;
      if (pending === null) start();
      const { into, at, n } = await pending!;
      pending = null;
      if (n < 0) {
        position = at;
        buffered = await open(path, 'r');
        return read(dest, offset, length);
      }
      ended = n < half;
      if (!ended) start();
      [readyHalf, readyFrom, readyTo] = [into, 0, n];
      if (n === 0) return 0;
    }
    const count = Math.min(length, readyTo - readyFrom);
    halves[readyHalf]!.copy(dest, offset, readyFrom, readyFrom + count);
    readyFrom += count;
    return count;
  };
  return {
    read,
    async close() {
      await pending;
      await direct.close();
      await buffered?.close();
    },
  };
}
