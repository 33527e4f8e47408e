import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createDirectStaging,
  openBufferedSegment,
  openDirectSegment,
  type SegmentFile,
} from './segment-file.js';

/** Options of {@link createSegmentWriter}. */
export interface SegmentWriterOptions {
  dir: string;
  /** File name prefix, e.g. `predictions`. */
  prefix: string;
  /** Start a new segment past this many bytes; default 64 MiB. */
  maxBytes?: number;
  /** Start a new segment after this long, in ms; default 1 hour. */
  maxAgeMs?: number;
  /**
   * Write segments with O_DIRECT, past the page cache, where the platform and file system allow it (else through
   * the page cache, as without it); default false. See openDirectSegment for why and how.
   */
  directIo?: boolean;
  /** Memory for direct writes (default: page-aligned WebAssembly memory, see createDirectStaging). */
  directStaging?: Buffer;
}

/**
 * Appends text to rotated JSONL segments `<prefix>-<UTC start, sortable>-<pid>-<seq>.jsonl`: a new segment once
 * the current one is over `maxBytes` or older than `maxAgeMs`, and after an append that failed (it may have left
 * a torn line, which a fresh segment keeps apart from the next lines). The pid keeps the processes of a
 * `--workers` cluster (or several replicas on one volume) in files of their own, never interleaving half lines.
 * Appends run one at a time, in call order.
 */
export function createSegmentWriter(options: SegmentWriterOptions) {
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const maxAgeMs = options.maxAgeMs ?? 60 * 60 * 1000;
  let file: SegmentFile | null = null;
  let failed = false;
  let bytes = 0;
  let openedAt = 0;
  let seq = 0;
  // null until the first direct open; false once direct writes proved unavailable here
  let staging: Buffer | null | false = options.directIo === true ? (options.directStaging ?? null) : false;

  const openSegment = async (path: string): Promise<SegmentFile> => {
    if (staging === null) staging = createDirectStaging() ?? false;
    const direct = staging === false ? null : await openDirectSegment(path, staging);
    if (direct !== null) return direct;
    staging = false;
    return openBufferedSegment(path);
  };

  let stagedBefore = 0; // stagedBytes of the segments closed
  const rotate = async () => {
    const old = file;
    stagedBefore += old?.stagedBytes ?? 0;
    file = null;
    await old?.close().catch(() => {}); // a segment that cannot be closed must not stop the log
    await mkdir(options.dir, { recursive: true });
    openedAt = Date.now();
    const stamp = new Date(openedAt).toISOString().replace(/[-:.]/g, '');
    seq++;
    const name = `${options.prefix}-${stamp}-${process.pid}-${String(seq).padStart(6, '0')}.jsonl`;
    file = await openSegment(join(options.dir, name));
    bytes = 0;
    failed = false;
  };

  let pending = 0; // bytes of the appends called and not over yet
  const sizeOf = (data: string | Buffer | readonly Buffer[]) =>
    typeof data === 'string'
      ? Buffer.byteLength(data)
      : Buffer.isBuffer(data)
        ? data.length
        : data.reduce((t, c) => t + c.length, 0);

  const appendNow = async (
    data: string | Buffer | readonly Buffer[],
    lead?: (fresh: boolean) => readonly Buffer[],
  ): Promise<void> => {
    const fresh = file === null || failed || bytes >= maxBytes || Date.now() - openedAt >= maxAgeMs;
    if (fresh) await rotate();
    const rest = typeof data === 'string' ? [Buffer.from(data)] : Buffer.isBuffer(data) ? [data] : data;
    let chunks = [...(lead?.(fresh) ?? []), ...rest];
    try {
      await file!.append(chunks);
    } catch (error) {
      failed = true;
      if (!(file!.direct && (error as NodeJS.ErrnoException).code === 'EINVAL')) throw error;
      // a file system that opens files with O_DIRECT but refuses its writes: the page cache from now on, and
      // these lines go to a fresh segment through it instead of being lost
      staging = false;
      await rotate();
      chunks = [...(lead?.(true) ?? []), ...rest];
      await file!.append(chunks);
    }
    for (const c of chunks) bytes += c.length;
  };
  let tail: Promise<unknown> = Promise.resolve();

  return {
    /**
     * Appends whole lines (text, UTF-8 bytes, or several byte chunks written with one writev) to the current
     * segment, rotating first when it is due. `lead` gives lines to write before them in the same write, told
     * whether the segment is a fresh one (the local log's shape lines, which every segment repeats).
     */
    append(
      data: string | Buffer | readonly Buffer[],
      lead?: (fresh: boolean) => readonly Buffer[],
    ): Promise<void> {
      const n = sizeOf(data);
      pending += n;
      const done = tail.then(() =>
        appendNow(data, lead).finally(() => {
          pending -= n;
        }),
      );
      tail = done.catch(() => {});
      return done;
    },
    /**
     * Where the next appended byte is expected to land in the current segment: its bytes so far and those of the
     * appends not over yet (wrong when one of them starts a new segment). The prediction queue starts its chunks
     * at this offset modulo the block, so that direct segments write them in place (see openDirectSegment).
     */
    nextOffset(): number {
      return (file?.length ?? 0) + pending;
    },
    /** Bytes copied into staging memory before their direct write, over all segments (the rest went in place). */
    get stagedBytes(): number {
      return stagedBefore + (file?.stagedBytes ?? 0);
    },
    /** Whether the current segment is written with O_DIRECT. */
    get direct(): boolean {
      return file?.direct === true;
    },
    async close(): Promise<void> {
      await tail;
      const old = file;
      file = null;
      await old?.close();
    },
  };
}

/** Start time (epoch ms) of a segment from its name, or NaN. */
export function segmentStart(name: string): number {
  const m = /-(\d{8})T(\d{6})(\d{3})Z-/.exec(name);
  if (!m) return Number.NaN;
  const [d, t, ms] = [m[1]!, m[2]!, m[3]!];
  return Date.UTC(
    +d.slice(0, 4),
    +d.slice(4, 6) - 1,
    +d.slice(6, 8),
    +t.slice(0, 2),
    +t.slice(2, 4),
    +t.slice(4, 6),
    +ms,
  );
}
