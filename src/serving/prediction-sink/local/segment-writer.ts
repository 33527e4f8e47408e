import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';

/** Options of {@link createSegmentWriter}. */
export interface SegmentWriterOptions {
  dir: string;
  /** File name prefix, e.g. `predictions`. */
  prefix: string;
  /** Start a new segment past this many bytes; default 64 MiB. */
  maxBytes?: number;
  /** Start a new segment after this long, in ms; default 1 hour. */
  maxAgeMs?: number;
}

/**
 * Appends text to rotated JSONL segments `<prefix>-<UTC start, sortable>-<pid>-<seq>.jsonl`: a new segment once
 * the current one is over `maxBytes` or older than `maxAgeMs`. The pid keeps the processes of a `--workers`
 * cluster (or several replicas on one volume) in files of their own, never interleaving half lines.
 */
export function createSegmentWriter(options: SegmentWriterOptions) {
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const maxAgeMs = options.maxAgeMs ?? 60 * 60 * 1000;
  let handle: FileHandle | null = null;
  let bytes = 0;
  let openedAt = 0;
  let seq = 0;

  const rotate = async () => {
    await handle?.close();
    await mkdir(options.dir, { recursive: true });
    openedAt = Date.now();
    const stamp = new Date(openedAt).toISOString().replace(/[-:.]/g, '');
    seq++;
    const name = `${options.prefix}-${stamp}-${process.pid}-${String(seq).padStart(6, '0')}.jsonl`;
    handle = await open(join(options.dir, name), 'a');
    bytes = 0;
  };

  return {
    /**
     * Appends whole lines (text, UTF-8 bytes, or several byte chunks written with one writev) to the current
     * segment, rotating first when it is due. `lead` gives lines to write before them in the same write, told
     * whether the segment is a fresh one (the local log's shape lines, which every segment repeats).
     */
    async append(
      data: string | Buffer | readonly Buffer[],
      lead?: (fresh: boolean) => readonly Buffer[],
    ): Promise<void> {
      const fresh = handle === null || bytes >= maxBytes || Date.now() - openedAt >= maxAgeMs;
      if (fresh) await rotate();
      const first = lead?.(fresh) ?? [];
      if (first.length > 0) {
        const rest = typeof data === 'string' ? [Buffer.from(data)] : Buffer.isBuffer(data) ? [data] : data;
        bytes += (await handle!.writev([...first, ...rest])).bytesWritten;
      } else if (typeof data === 'string') bytes += (await handle!.write(data, null, 'utf8')).bytesWritten;
      else if (Buffer.isBuffer(data)) bytes += (await handle!.write(data)).bytesWritten;
      else bytes += (await handle!.writev(data as Buffer[])).bytesWritten;
    },
    async close(): Promise<void> {
      await handle?.close();
      handle = null;
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
