import { createReadStream } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { ColumnsBuilder } from '../columns.js';
import {
  type LookupResult,
  millisOf,
  type OutcomeRecord,
  outcomeKey,
  type PredictionColumns,
  type PredictionEncoding,
  type PredictionRecord,
  type PredictionStore,
} from '../port.js';
import { type BatchLine, batchLineRecords, isBatchLine } from './batch-line.js';
import { compactLineRecords, type ShapeTable } from './compact-line.js';
import { createGrowableOutput, createJsonlEncoding } from './jsonl-encoder.js';
import { scanInWorker } from './scan-worker.js';
import { createAlignedChunks, DIRECT_BLOCK } from './segment-file.js';
import { fileSizes, type SegmentSpan, scanSegments } from './segment-scanner.js';
import { createSegmentWriter, segmentStart } from './segment-writer.js';

/** Options of {@link createLocalPredictionStore}. */
export interface LocalPredictionStoreOptions {
  /** The log's folder (created): `predictions/` and `outcomes/` segments inside. */
  dir: string;
  /** Rotate a segment past this many bytes; default 64 MiB. */
  maxSegmentBytes?: number;
  /** Rotate a segment after this long (ms); default 1 hour. */
  maxSegmentAgeMs?: number;
  /**
   * A columnar read of at least this many bytes of segments (default 64 MiB) hands the older part to a worker
   * thread when the caller gives a fields recipe and the machine has more than one core.
   */
  parallelScanBytes?: number;
  /**
   * Write prediction segments with O_DIRECT where the file system allows it (default true; outcomes, small and
   * rare, always go through the page cache). A log written once and read rarely then costs no page-cache pages,
   * which on a VM whose free memory its host takes back cost a host fault each (see segment-file.ts).
   */
  directIo?: boolean;
}

/**
 * The embedded prediction log: JSONL segments under a local folder (the data directory by default), one
 * {@link PredictionRecord} or {@link OutcomeRecord} per line, rotated by size and time. Reads scan the segments
 * (skipping those that start after the query's end); a torn last line (a crash mid-write) is skipped.
 */
export function createLocalPredictionStore(options: LocalPredictionStoreOptions): PredictionStore {
  const predictionsDir = join(options.dir, 'predictions');
  const outcomesDir = join(options.dir, 'outcomes');
  const rotation = { maxBytes: options.maxSegmentBytes, maxAgeMs: options.maxSegmentAgeMs };
  const predictions = createSegmentWriter({
    dir: predictionsDir,
    prefix: 'predictions',
    ...rotation,
    directIo: options.directIo ?? true,
  });
  const outcomes = createSegmentWriter({ dir: outcomesDir, prefix: 'outcomes', ...rotation });
  // served-time spans of the segments scanned so far, in memory and in a sidecar beside each segment: a
  // time-bounded columnar read (every monitoring pass after the first, one-shot or --watch) skips a segment
  // unchanged since (same size and modification time) whose served times lie wholly outside the bounds
  const spans = new Map<string, SegmentSpan>();
  const outsideSpan = async (file: string, since?: number, until?: number): Promise<boolean> => {
    if (since === undefined && until === undefined) return false;
    let span = spans.get(file);
    if (span === undefined) {
      span = await readSpan(file);
      if (span === undefined) return false;
      spans.set(file, span);
    }
    if (!((since !== undefined && span.maxTime < since) || (until !== undefined && span.minTime >= until)))
      return false;
    const now = await stat(file).catch(() => null);
    return now !== null && now.size === span.size && now.mtimeMs === span.mtimeMs;
  };

  const { encode, encodeBatch, shapeLines } = createJsonlEncoding();
  // shape lines the current segment holds: the rest are written before the next lines (all of them in a fresh
  // segment, and again after a failed write, which may have lost some)
  let shapesWritten = 0;
  const appendLines = async (data: Buffer | readonly Buffer[]) => {
    let upTo = 0;
    try {
      await predictions.append(data, (fresh) => {
        const lines = shapeLines();
        upTo = lines.length;
        const missing = lines.slice(fresh ? 0 : shapesWritten);
        return missing.length === 0 ? missing : [Buffer.concat(missing)];
      });
      shapesWritten = upTo;
    } catch (error) {
      shapesWritten = 0;
      throw error;
    }
  };
  const encoding: PredictionEncoding = {
    encode,
    encodeBatch,
    append: appendLines,
    // direct segments write page-aligned chunks that start at their offset in the file's blocks from where they
    // lie: a 100-row batch's ~54 kB is then not copied into staging memory (~6 us of the request path, ~1 %)
    ...((options.directIo ?? true)
      ? {
          placement: {
            block: DIRECT_BLOCK,
            chunks: (chunkBytes: number) => createAlignedChunks(chunkBytes),
            nextOffset: () => predictions.nextOffset(),
          },
        }
      : {}),
  };

  return {
    description: options.dir,
    encoding,
    async appendPredictions(batch) {
      const out = createGrowableOutput();
      for (const p of batch) encode(p, out);
      await appendLines(out.bytes());
    },
    async appendOutcomes(batch) {
      let text = '';
      for (const o of batch) text += `${JSON.stringify(o)}\n`;
      await outcomes.append(text);
    },
    async *readPredictions(query) {
      const since = millisOf(query.since);
      const until = millisOf(query.until);
      const needle = `"model_name":${JSON.stringify(query.modelName)}`;
      const keep = (r: PredictionRecord) => {
        if (r.model_name !== query.modelName) return false;
        if (query.modelVersion !== undefined && r.model_version !== query.modelVersion) return false;
        const t = Date.parse(r.time);
        return (since === undefined || t >= since) && (until === undefined || t < until);
      };
      const all = predictionLines(predictionsDir, needle, keep);
      if (query.last === undefined) yield* all;
      else yield* await lastByTime(all, query.last);
    },
    async readPredictionColumns(query, fields, readOptions) {
      const since = millisOf(query.since);
      const until = millisOf(query.until);
      const files: string[] = [];
      for (const file of await segments(predictionsDir))
        if (!(await outsideSpan(file, since, until))) files.push(file);
      const filter = {
        modelName: query.modelName,
        ...(query.modelVersion !== undefined ? { modelVersion: query.modelVersion } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
      };
      const requestIds = readOptions?.requestIds ?? false;
      const sidecars: Promise<void>[] = [];
      const learnt = (file: string, span: SegmentSpan) => {
        if (spans.size >= 100_000) spans.clear();
        const known = spans.get(file);
        spans.set(file, span);
        if (known?.size !== span.size || known.mtimeMs !== span.mtimeMs) sidecars.push(writeSpan(file, span));
      };
      const builder = (part: string[]) => {
        const b = new ColumnsBuilder(fields, { requestIds });
        return scanSegments(part, filter, b, undefined, learnt).then(() => b);
      };
      const recipe = readOptions?.fieldsRecipe;
      const split = recipe
        ? await splitForWorker(files, options.parallelScanBytes ?? 64 * 1024 * 1024)
        : null;
      let columns: PredictionColumns;
      if (recipe && split) {
        // the older segments on a worker thread while this one scans the newer: two cores on a large read
        const [older, newer] = split;
        const worker = scanInWorker({ files: older, filter, recipe, requestIds });
        const mine = await builder(newer);
        const theirs = await worker;
        for (const [file, span] of theirs?.spans ?? []) learnt(file, span);
        columns = mine.finish(theirs ? theirs.columns : (await builder(older)).finish());
      } else columns = (await builder(files)).finish();
      await Promise.all(sidecars);
      return columns;
    },
    async *readOutcomes(query = {}) {
      const since = millisOf(query.since);
      const until = millisOf(query.until);
      yield* parsedLines<OutcomeRecord>(outcomesDir, null, (o) => {
        const t = Date.parse(o.time);
        return (since === undefined || t >= since) && (until === undefined || t < until);
      });
    },
    async findPredictions(lookup) {
      const result: LookupResult = { requestIds: new Set(), entityIds: new Set() };
      const requestIds = new Set(lookup.requestIds ?? []);
      const entityIds = new Set(lookup.entity?.ids ?? []);
      if (requestIds.size === 0 && entityIds.size === 0) return result;
      const field = lookup.entity?.field;
      for await (const r of predictionLines(predictionsDir, null, () => true)) {
        if (requestIds.has(r.request_id)) result.requestIds.add(r.request_id);
        if (field !== undefined && r.inputs) {
          const v = r.inputs[field];
          if (v !== undefined && v !== null && entityIds.has(String(v))) result.entityIds.add(String(v));
        }
      }
      return result;
    },
    async latestOutcomes(keys) {
      const wanted = new Set(keys);
      const latest = new Map<string, OutcomeRecord>();
      if (wanted.size === 0) return latest;
      for await (const o of parsedLines<OutcomeRecord>(outcomesDir, null, () => true)) {
        const key = outcomeKey(o);
        if (!wanted.has(key)) continue;
        const before = latest.get(key);
        if (before === undefined || Date.parse(o.time) >= Date.parse(before.time)) latest.set(key, o);
      }
      return latest;
    },
    async close() {
      await predictions.close();
      await outcomes.close();
    },
  };
}

/**
 * Segment files of a folder in start order. None is skipped by its start time: a record's time is when it was
 * served, which may precede the segment it was written to (queued across a rotation, or imported).
 */
async function segments(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => n.endsWith('.jsonl'))
    .sort((a, b) => segmentStart(a) - segmentStart(b) || (a < b ? -1 : 1))
    .map((n) => join(dir, n));
}

/** The parsed lines of a folder's segments that pass `keep`. */
async function* parsedLines<T>(dir: string, needle: null, keep: (value: T) => boolean): AsyncGenerator<T> {
  for (const file of await segments(dir))
    for await (const value of fileLines<T>(file, needle)) if (keep(value)) yield value;
}

/**
 * The parsed lines of one segment (objects and arrays). With a `needle` (a cheap pre-filter), the object lines
 * without it are skipped, except shape lines: compact rows, which never hold it, are left to the caller.
 */
async function* fileLines<T>(file: string, needle: string | null): AsyncGenerator<T> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line === '') continue;
    if (
      needle !== null &&
      line.charCodeAt(0) === 123 &&
      !line.startsWith('{"shape"') &&
      !line.includes(needle)
    )
      continue;
    let value: T;
    try {
      value = JSON.parse(line) as T;
    } catch {
      continue; // a torn line from a crash mid-write
    }
    if (value !== null && typeof value === 'object') yield value;
  }
}

/**
 * The records of a folder's prediction lines (a batch line gives one per row, a compact row one with its
 * segment's shape) that pass `keep`.
 */
async function* predictionLines(
  dir: string,
  needle: string | null,
  keep: (r: PredictionRecord) => boolean,
): AsyncGenerator<PredictionRecord> {
  for (const file of await segments(dir)) {
    const shapes: ShapeTable = new Map();
    for await (const value of fileLines<PredictionRecord | BatchLine | unknown[]>(file, needle)) {
      const compact = compactLineRecords(value, shapes);
      const records =
        compact ??
        (isBatchLine(value as object) ? batchLineRecords(value as BatchLine) : [value as PredictionRecord]);
      for (const r of records) if (keep(r)) yield r;
    }
  }
}

/** The `n` most recent records by time, oldest first (segments of several processes interleave in time). */
async function lastByTime(records: AsyncIterable<PredictionRecord>, n: number): Promise<PredictionRecord[]> {
  if (n <= 0) return [];
  let kept: PredictionRecord[] = [];
  const byTime = (a: PredictionRecord, b: PredictionRecord) =>
    a.time < b.time ? -1 : a.time > b.time ? 1 : 0;
  for await (const r of records) {
    kept.push(r);
    if (kept.length >= 2 * n) kept = kept.sort(byTime).slice(-n);
  }
  return kept.sort(byTime).slice(-n);
}

/**
 * The older and newer segments of a read, about 45 % of the bytes to the older part (its worker pays a start),
 * or null when the read is too small to share or there is one core.
 */
async function splitForWorker(files: string[], minBytes: number): Promise<[string[], string[]] | null> {
  if (files.length < 2 || availableParallelism() < 2) return null;
  const sizes = await fileSizes(files);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total < minBytes) return null;
  let k = 0;
  for (let bytes = 0; k < files.length - 1 && bytes + sizes[k]! <= 0.45 * total; k++) bytes += sizes[k]!;
  k = Math.max(1, k);
  return [files.slice(0, k), files.slice(k)];
}

/** The sidecar of a segment: `.<segment name>.span`, hidden, not a `.jsonl` file, so no reader lists it. */
const spanFile = (segment: string) => join(dirname(segment), `.${basename(segment)}.span`);

/** Infinite bounds (a segment without lines) as null in JSON. */
const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null);

/** Writes a segment's span sidecar; best effort (a read-only log folder only loses the shortcut). */
async function writeSpan(segment: string, span: SegmentSpan): Promise<void> {
  const text = JSON.stringify({
    size: span.size,
    mtimeMs: span.mtimeMs,
    minTime: finiteOrNull(span.minTime),
    maxTime: finiteOrNull(span.maxTime),
  });
  await writeFile(spanFile(segment), text).catch(() => {});
}

/** A segment's span from its sidecar, if there is a readable one. */
async function readSpan(segment: string): Promise<SegmentSpan | undefined> {
  try {
    const o = JSON.parse(await readFile(spanFile(segment), 'utf8')) as Record<string, unknown>;
    const num = (v: unknown, empty: number) => (v === null ? empty : typeof v === 'number' ? v : Number.NaN);
    const span = {
      size: num(o.size, Number.NaN),
      mtimeMs: num(o.mtimeMs, Number.NaN),
      minTime: num(o.minTime, Number.POSITIVE_INFINITY),
      maxTime: num(o.maxTime, Number.NEGATIVE_INFINITY),
    };
    return Object.values(span).some(Number.isNaN) ? undefined : span;
  } catch {
    return undefined;
  }
}
