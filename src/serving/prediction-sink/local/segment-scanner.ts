import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ColumnsBuilder } from '../columns.js';
import { batchLineRecords, isBatchLine } from './batch-line.js';
import { compactRecord, isRowTime, type LogShape, type ShapeTable, shapeOfLine } from './compact-line.js';
import { decimalQuotient } from './decimal.js';
import {
  createDirectStaging,
  DIRECT_STAGING_BYTES,
  openSegmentReader,
  type SegmentReader,
} from './segment-file.js';

/** Which lines a scan keeps. Times are epoch milliseconds. */
export interface ScanFilter {
  modelName: string;
  /** One version (null: a local bundle's); every version when undefined. */
  modelVersion?: string | null;
  since?: number;
  until?: number;
}

/** Thrown inside a line to parse it with JSON.parse instead (anything the fast path does not expect). */
const FALLBACK = Symbol('fallback');

const enc = (s: string) => Buffer.from(s, 'utf8');
const KEY = {
  request_id: enc('request_id'),
  time: enc('time'),
  model_name: enc('model_name'),
  model_version: enc('model_version'),
  inputs: enc('inputs'),
  probability: enc('probability'),
  probabilities: enc('probabilities'),
  rows: enc('rows'),
  shape: enc('shape'),
} as const;
const TOP = {
  other: 0,
  request_id: 1,
  time: 2,
  model_name: 3,
  model_version: 4,
  inputs: 5,
  probability: 6,
  probabilities: 7,
  rows: 8,
  shape: 9,
};
/** The keys a batch line's rows follow (bits by TOP index): the fast path expands the rows only after all. */
const BATCH_HEAD =
  (1 << TOP.request_id) |
  (1 << TOP.time) |
  (1 << TOP.model_name) |
  (1 << TOP.model_version) |
  (1 << TOP.probabilities);

// Exact powers of ten: a decimal of at most 2^53 scaled by one of them is correctly rounded (Clinger's fast path).
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/** Per text field: the parsed value by the bytes of the JSON string, so repeated categories make no string. */
class TextCache {
  private readonly buckets = new Map<number, Array<{ key: Buffer; parsed: string | null | undefined }>>();
  private size = 0;

  get(buf: Buffer, a: number, b: number, h: number): { parsed: string | null | undefined } | undefined {
    const bucket = this.buckets.get(h);
    if (bucket === undefined) return undefined;
    for (const entry of bucket) if (bytesEqual(buf, a, b, entry.key)) return entry;
    return undefined;
  }

  set(buf: Buffer, a: number, b: number, h: number, parsed: string | null | undefined): void {
    if (this.size >= 10_000) return; // an id-like field: parse each value
    const entry = { key: Buffer.from(buf.subarray(a, b)), parsed };
    const bucket = this.buckets.get(h);
    if (bucket) bucket.push(entry);
    else this.buckets.set(h, [entry]);
    this.size++;
  }
}

function bytesEqual(buf: Buffer, a: number, b: number, key: Buffer): boolean {
  if (b - a !== key.length) return false;
  for (let k = 0; k < key.length; k++) if (buf[a + k] !== key[k]) return false;
  return true;
}

/** Whether buf[i, ...) starts with `key` within the line ending at e. */
function matchAt(buf: Buffer, i: number, e: number, key: Buffer): boolean {
  const n = key.length;
  if (i + n > e) return false;
  for (let k = 0; k < n; k++) if (buf[i + k] !== key[k]) return false;
  return true;
}

/** An expected key no line matches (a NUL byte cannot start a key). */
const NO_KEY = Buffer.from([0]);

function hashBytes(buf: Buffer, a: number, b: number): number {
  let h = b - a;
  for (let i = a; i < b; i++) h = (Math.imul(h, 31) + buf[i]!) | 0;
  return h;
}

const isWs = (c: number) => c === 32 || c === 9 || c === 13 || c === 10;

/**
 * Decodes prediction-log lines (JSONL, one {@link PredictionRecord} per line) straight from the segment bytes into
 * a {@link ColumnsBuilder}: no object per line, no string per number or repeated category. Only the requested
 * input fields are decoded; numbers take Clinger's exact fast path (at most 2^53 scaled by a power of ten up to
 * 1e22) or Number() of their text, so every value is the double JSON.parse gives. Any line the fast path does
 * not expect (escaped keys, nested inputs, invalid JSON) is handed to JSON.parse, so the result is the same as
 * reading records; a line JSON.parse refuses (torn by a crash mid-write) is skipped.
 */
class LineScanner {
  private buf: Buffer = Buffer.alloc(0);
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private end = 0;
  private escaped = false;
  private readonly fieldKeys: Buffer[];
  private readonly fieldsByHash = new Map<number, number[]>();
  private readonly caches: (TextCache | null)[];
  /** Input keys by position in the previous line (with quotes and colon), and the field each named (-1: none). */
  private readonly orderKeys: Buffer[] = [];
  private readonly orderField: number[] = [];
  /** The field of the key {@link keyAt} read last. */
  private keyField = -1;
  private readonly modelName: Buffer;
  private readonly modelVersion: Buffer | null | undefined;
  private readonly since: number;
  private readonly until: number;
  /** The last ISO time's text up to the seconds, and its epoch ms (most lines share their second). */
  private readonly secondText = Buffer.alloc(19);
  private secondMs = Number.NaN;
  /** The number {@link number} read last. */
  private readonly value = new Float64Array(1);
  /** End of the line being scanned. */
  private lineEnd = 0;
  /** Rows committed before the line being scanned (a batch line's rows are undone when it falls back). */
  private lineStartRows = 0;
  /** A batch line's probabilities, and how many. */
  private probabilities = new Float64Array(128);
  private probabilityCount = 0;
  /** The shapes of the segment being scanned (see compact-line.ts), and how this scan reads each one's rows. */
  private shapes: ShapeTable = new Map();
  private readonly shapeReads = new Map<number, { keep: boolean; fieldOf: Int32Array }>();
  /** Earliest and latest served time of the lines scanned since {@link resetSpan} (every model's). */
  minTime = Number.POSITIVE_INFINITY;
  maxTime = Number.NEGATIVE_INFINITY;

  resetSpan(): void {
    this.minTime = Number.POSITIVE_INFINITY;
    this.maxTime = Number.NEGATIVE_INFINITY;
  }

  /** Starts a segment: its compact rows refer to its own shape lines. */
  startFile(): void {
    this.shapes = new Map();
    this.shapeReads.clear();
  }

  /** Adds a shape line's shape: whether its rows pass the model filter, and the field each value is. */
  private addShape(shape: LogShape): void {
    this.shapes.set(shape.id, shape);
    const byName = new Map(this.builder.fields.map((f, j) => [f.name, j]));
    const version = this.filter.modelVersion;
    this.shapeReads.set(shape.id, {
      keep:
        shape.model_name === this.filter.modelName &&
        (version === undefined || shape.model_version === version),
      fieldOf: Int32Array.from(shape.keys, (k) => byName.get(k) ?? -1),
    });
  }

  private seen(time: number): void {
    if (time < this.minTime) this.minTime = time;
    if (time > this.maxTime) this.maxTime = time;
  }

  constructor(
    private readonly builder: ColumnsBuilder,
    private readonly filter: ScanFilter,
  ) {
    this.fieldKeys = builder.fields.map((f) => enc(f.name));
    this.fieldKeys.forEach((k, j) => {
      const h = hashBytes(k, 0, k.length);
      const list = this.fieldsByHash.get(h);
      if (list) list.push(j);
      else this.fieldsByHash.set(h, [j]);
    });
    this.caches = builder.fields.map((f) => (f.numeric ? null : new TextCache()));
    this.modelName = enc(filter.modelName);
    this.modelVersion =
      filter.modelVersion === undefined
        ? undefined
        : filter.modelVersion === null
          ? null
          : enc(filter.modelVersion);
    this.since = filter.since ?? Number.NEGATIVE_INFINITY;
    this.until = filter.until ?? Number.POSITIVE_INFINITY;
  }

  /** Scans the lines of buf[start, stop) (each ends at a newline or at stop). */
  scan(buf: Buffer, start: number, stop: number): void {
    if (buf !== this.buf) this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.buf = buf;
    let s = start;
    while (s < stop) {
      let e = buf.indexOf(10, s);
      if (e < 0 || e > stop) e = stop;
      if (e > s) {
        try {
          this.lineStartRows = this.builder.n;
          if (buf[s] === 91) this.compactLine(s, e);
          else this.line(s, e);
        } catch (error) {
          if (error !== FALLBACK) throw error;
          this.builder.discard();
          this.builder.truncate(this.lineStartRows);
          this.slowLine(s, e);
        }
      }
      s = e + 1;
    }
  }

  private ws(i: number): number {
    const buf = this.buf;
    const e = this.lineEnd;
    while (i < e && isWs(buf[i]!)) i++;
    return i;
  }

  private expect(i: number, c: number): number {
    if (i >= this.lineEnd || this.buf[i] !== c) throw FALLBACK;
    return i + 1;
  }

  /** The closing quote's index of the string opening at i (sets `escaped`). */
  private stringEnd(i: number, stop: number): number {
    const buf = this.buf;
    this.escaped = false;
    for (let k = i + 1; k < stop; k++) {
      const c = buf[k]!;
      if (c === 34) return k;
      if (c === 92) {
        this.escaped = true;
        k++;
      }
    }
    throw FALLBACK;
  }

  private text(a: number, b: number): string {
    // a JSON string's contents [a, b): decoded by JSON.parse when it holds escapes
    return this.escaped
      ? (JSON.parse(this.buf.toString('utf8', a - 1, b + 1)) as string)
      : this.buf.toString('utf8', a, b);
  }

  private line(s: number, e: number): void {
    const buf = this.buf;
    const builder = this.builder;
    this.lineEnd = e;
    let i = this.expect(this.ws(s), 123);
    let time = Number.NaN;
    let probability = Number.NaN;
    let requestId: string | null = null;
    let nameOk = false;
    let versionOk = this.modelVersion === undefined;
    let seenKeys = 0; // bits by TOP index
    i = this.ws(i);
    if (buf[i] === 125) i++;
    else
      for (;;) {
        i = this.expect(i, 34);
        const ke = this.stringEnd(i - 1, e);
        if (this.escaped) throw FALLBACK;
        const key = this.topKey(i, ke);
        seenKeys |= 1 << key;
        i = this.ws(this.expect(this.ws(ke + 1), 58));
        const c = buf[i]!;
        switch (key) {
          case TOP.request_id: {
            if (c !== 34) throw FALLBACK;
            const ve = this.stringEnd(i, e);
            if (builder.wantsRequestIds) requestId = this.text(i + 1, ve);
            i = ve + 1;
            break;
          }
          case TOP.time: {
            if (c !== 34) throw FALLBACK;
            const ve = this.stringEnd(i, e);
            time = this.isoTime(i + 1, ve);
            i = ve + 1;
            break;
          }
          case TOP.model_name: {
            if (c !== 34) throw FALLBACK;
            const ve = this.stringEnd(i, e);
            nameOk = this.escaped
              ? this.text(i + 1, ve) === this.filter.modelName
              : bytesEqual(buf, i + 1, ve, this.modelName);
            i = ve + 1;
            break;
          }
          case TOP.model_version: {
            if (c === 34) {
              const ve = this.stringEnd(i, e);
              const want = this.modelVersion;
              if (want !== undefined)
                versionOk =
                  want !== null &&
                  (this.escaped
                    ? this.text(i + 1, ve) === this.filter.modelVersion
                    : bytesEqual(buf, i + 1, ve, want));
              i = ve + 1;
            } else {
              i = this.skipValue(i, e);
              if (this.modelVersion !== undefined) versionOk = this.modelVersion === null && c === 110;
            }
            break;
          }
          case TOP.probability:
            if (c === 45 || (c >= 48 && c <= 57)) {
              this.number(i, e);
              probability = this.value[0]!;
              i = this.end;
            } else i = this.skipValue(i, e);
            break;
          case TOP.probabilities:
            if (c !== 91) throw FALLBACK;
            i = this.probabilityList(i, e);
            break;
          case TOP.rows: {
            if (c !== 91 || (seenKeys & BATCH_HEAD) !== BATCH_HEAD || seenKeys & (1 << TOP.inputs))
              throw FALLBACK;
            const keep = nameOk && versionOk && this.keeps(time);
            i = keep ? this.rows(i, e, time, requestId) : this.skipValue(i, e);
            break;
          }
          case TOP.shape:
            throw FALLBACK; // a shape line: slowLine adds it to the segment's shapes
          case TOP.inputs:
            if (seenKeys & (1 << TOP.rows)) throw FALLBACK;
            if (c === 123) i = this.inputs(i, e);
            else if (c === 110) i = this.skipValue(i, e);
            else throw FALLBACK;
            break;
          default:
            i = this.skipValue(i, e);
        }
        i = this.ws(i);
        if (buf[i] === 44) {
          i = this.ws(i + 1);
          continue;
        }
        i = this.expect(i, 125);
        break;
      }
    if (this.ws(i) < e) throw FALLBACK;
    this.seen(time);
    if (seenKeys & (1 << TOP.rows)) return; // a batch line: its rows are committed
    if (nameOk && versionOk && this.keeps(time)) {
      builder.stageRow(time, probability, requestId);
      builder.commit();
    } else builder.discard();
  }

  /** Whether a line served at `time` is in the filter's bounds (a line without a time only in an unbounded read). */
  private keeps(time: number): boolean {
    if (time >= this.since && time < this.until) return true;
    return Number.isNaN(time) && this.filter.since === undefined && this.filter.until === undefined;
  }

  /** A batch line's probabilities array opening at i, into {@link probabilities}; returns the index after it. */
  private probabilityList(i: number, e: number): number {
    const buf = this.buf;
    this.probabilityCount = 0;
    i = this.ws(i + 1);
    if (buf[i] === 93) return i + 1;
    for (;;) {
      const c = buf[i]!;
      if (!(c === 45 || (c >= 48 && c <= 57))) throw FALLBACK;
      this.number(i, e);
      if (this.probabilityCount === this.probabilities.length) {
        const bigger = new Float64Array(2 * this.probabilities.length);
        bigger.set(this.probabilities);
        this.probabilities = bigger;
      }
      this.probabilities[this.probabilityCount++] = this.value[0]!;
      i = this.ws(this.end);
      if (buf[i] === 44) {
        i = this.ws(i + 1);
        continue;
      }
      return this.expect(i, 93);
    }
  }

  /**
   * A batch line's rows array opening at i: each row (an object of inputs) committed as a row of its own, with
   * the line's time, the row's probability and the request id `<id>/<row>`; returns the index after it.
   */
  private rows(i: number, e: number, time: number, requestId: string | null): number {
    const buf = this.buf;
    const builder = this.builder;
    i = this.ws(i + 1);
    if (buf[i] === 93) return i + 1;
    for (let k = 0; ; k++) {
      if (buf[i] !== 123) throw FALLBACK;
      i = this.ws(this.inputs(i, e));
      const p = k < this.probabilityCount ? this.probabilities[k]! : Number.NaN;
      builder.stageRow(time, p, requestId === null ? null : `${requestId}/${k}`);
      builder.commit();
      if (buf[i] === 44) {
        i = this.ws(i + 1);
        continue;
      }
      return this.expect(i, 93);
    }
  }

  private topKey(a: number, b: number): number {
    const buf = this.buf;
    switch (b - a) {
      case 4:
        return bytesEqual(buf, a, b, KEY.time)
          ? TOP.time
          : bytesEqual(buf, a, b, KEY.rows)
            ? TOP.rows
            : TOP.other;
      case 5:
        return bytesEqual(buf, a, b, KEY.shape) ? TOP.shape : TOP.other;
      case 6:
        return bytesEqual(buf, a, b, KEY.inputs) ? TOP.inputs : TOP.other;
      case 10:
        return bytesEqual(buf, a, b, KEY.request_id)
          ? TOP.request_id
          : bytesEqual(buf, a, b, KEY.model_name)
            ? TOP.model_name
            : TOP.other;
      case 11:
        return bytesEqual(buf, a, b, KEY.probability) ? TOP.probability : TOP.other;
      case 13:
        return bytesEqual(buf, a, b, KEY.model_version)
          ? TOP.model_version
          : bytesEqual(buf, a, b, KEY.probabilities)
            ? TOP.probabilities
            : TOP.other;
      default:
        return TOP.other;
    }
  }

  /**
   * The inputs object opening at i: each requested field's value staged in the builder. A profiled hot loop (40
   * values a line): a key is first matched with its quotes and colon against the previous line's key at the same
   * position, numbers go straight into the builder's typed column.
   */
  private inputs(i: number, e: number): number {
    const buf = this.buf;
    i = this.ws(i + 1);
    if (buf[i] === 125) return i + 1;
    const keys = this.orderKeys;
    for (let ordinal = 0; ; ordinal++) {
      let j: number;
      const known = ordinal < keys.length ? keys[ordinal]! : null;
      if (known !== null && matchAt(buf, i, e, known)) {
        j = this.orderField[ordinal]!;
        i += known.length;
      } else {
        i = this.keyAt(ordinal, i, e);
        j = this.keyField;
      }
      let c = buf[i]!;
      if (c <= 32) i = this.ws(i);
      i = this.fieldValue(j, i, e);
      c = buf[i]!;
      if (c <= 32) {
        i = this.ws(i);
        c = buf[i]!;
      }
      if (c === 44) {
        i++;
        if (buf[i] !== 34) i = this.ws(i);
        continue;
      }
      return this.expect(i, 125);
    }
  }

  /** The JSON value at i of field `j` (-1: not requested) staged in the builder; returns the index after it. */
  private fieldValue(j: number, i: number, e: number): number {
    const buf = this.buf;
    const c = buf[i]!;
    if (j < 0) return this.skipValue(i, e);
    if (c === 45 || (c >= 48 && c <= 57)) {
      this.number(i, e);
      this.builder.setNumber(j, this.value[0]!);
      return this.end;
    }
    if (c === 34) return this.textValue(j, i, e);
    const ve = this.skipValue(i, e);
    this.builder.setValue(j, JSON.parse(buf.toString('utf8', i, ve)));
    return ve;
  }

  /**
   * A compact row `[shape,"id",ms,p,label,v1,...]` (see compact-line.ts): its values staged as the fields its
   * shape names, committed when the shape's model and the time pass the filter. Anything unexpected (an unknown
   * shape, a value count other than the shape's keys) goes to JSON.parse, which decides.
   */
  private compactLine(s: number, e: number): void {
    const buf = this.buf;
    const builder = this.builder;
    this.lineEnd = e;
    let i = this.ws(s + 1);
    const c0 = buf[i]!;
    if (!(c0 >= 48 && c0 <= 57)) throw FALLBACK;
    this.number(i, e);
    const read = this.shapeReads.get(this.value[0]!);
    if (read === undefined) throw FALLBACK;
    i = this.expect(this.ws(this.end), 44);
    i = this.ws(i);
    if (buf[i] !== 34) throw FALLBACK;
    const ie = this.stringEnd(i, e);
    const requestId = read.keep && builder.wantsRequestIds ? this.text(i + 1, ie) : null;
    i = this.expect(this.ws(ie + 1), 44);
    i = this.ws(i);
    let c = buf[i]!;
    if (!(c === 45 || (c >= 48 && c <= 57))) throw FALLBACK;
    this.number(i, e);
    const time = this.value[0]!;
    i = this.expect(this.ws(this.end), 44);
    i = this.ws(i);
    c = buf[i]!;
    let probability = Number.NaN;
    if (c === 45 || (c >= 48 && c <= 57)) {
      this.number(i, e);
      probability = this.value[0]!;
      i = this.end;
    } else i = this.skipValue(i, e);
    i = this.expect(this.ws(i), 44);
    i = this.skipValue(this.ws(i), e); // the label: no column
    const fieldOf = read.fieldOf;
    for (let k = 0; k < fieldOf.length; k++) {
      i = this.expect(this.ws(i), 44);
      i = this.fieldValue(read.keep ? fieldOf[k]! : -1, this.ws(i), e);
    }
    i = this.expect(this.ws(i), 93);
    if (this.ws(i) < e || !isRowTime(time)) throw FALLBACK;
    this.seen(time);
    if (read.keep && this.keeps(time)) {
      builder.stageRow(time, probability, requestId);
      builder.commit();
    } else builder.discard();
  }

  /** Field `j`'s JSON string opening at i, parsed (repeated categories from the cache); returns the index after it. */
  private textValue(j: number, i: number, e: number): number {
    const buf = this.buf;
    const ve = this.stringEnd(i, e);
    const cache = this.caches[j];
    if (cache !== null && !this.escaped) {
      const h = hashBytes(buf, i + 1, ve);
      const hit = cache.get(buf, i + 1, ve, h);
      if (hit !== undefined) this.builder.setParsed(j, hit.parsed);
      else {
        const parsed = this.builder.fields[j]!.parse(buf.toString('utf8', i + 1, ve));
        cache.set(buf, i + 1, ve, h, parsed as string | null | undefined);
        this.builder.setParsed(j, parsed);
      }
    } else this.builder.setValue(j, this.text(i + 1, ve));
    return ve + 1;
  }

  /**
   * The input key at i (not the one expected there): its field in `keyField` (-1: not requested); returns the
   * index after its colon. Remembered, with its quotes and colon, as the key expected at `ordinal`.
   */
  private keyAt(ordinal: number, i: number, e: number): number {
    const buf = this.buf;
    const a = this.expect(i, 34);
    const ke = this.stringEnd(a - 1, e);
    if (this.escaped) throw FALLBACK;
    let j = -1;
    for (const candidate of this.fieldsByHash.get(hashBytes(buf, a, ke)) ?? [])
      if (bytesEqual(buf, a, ke, this.fieldKeys[candidate]!)) j = candidate;
    this.keyField = j;
    const colon = this.expect(this.ws(ke + 1), 58);
    if (ordinal < 1000 && ordinal <= this.orderKeys.length) {
      // a key written with spaces before its colon is looked up each time
      this.orderKeys[ordinal] = colon === ke + 2 ? Buffer.from(buf.subarray(i, colon)) : NO_KEY;
      this.orderField[ordinal] = j;
    }
    return colon;
  }

  /**
   * The JSON number at i, exact as JSON.parse reads it, into `value[0]` (a double returned from a call that is not
   * inlined is boxed: 37 heap numbers a line); its end in `end`. A profiled hot loop: the first 15 significant
   * digits in hi, 4 more in lo, Clinger's fast path or {@link decimalQuotient}, else Number().
   */
  private number(i: number, e: number): void {
    const buf = this.buf;
    const start = i;
    let c = buf[i]!;
    const neg = c === 45;
    if (neg) c = buf[++i]!;
    let hi = 0;
    let lo = 0;
    let sig = 0;
    let frac = 0;
    if (c === 48) c = buf[++i]!;
    else if (c >= 49 && c <= 57) {
      do {
        if (sig < 15) hi = hi * 10 + (c - 48);
        else if (sig < 19) lo = lo * 10 + (c - 48);
        sig++;
        c = buf[++i]!;
      } while (c >= 48 && c <= 57);
    } else throw FALLBACK;
    if (c === 46) {
      c = buf[++i]!;
      if (!(c >= 48 && c <= 57)) throw FALLBACK;
      if (sig === 0)
        while (c === 48) {
          frac++;
          c = buf[++i]!;
        }
      // four fraction digits at a time while hi takes them (SWAR on a little-endian 32-bit read)
      const view = this.view;
      while (sig <= 11 && i + 4 <= e) {
        const v = view.getUint32(i, true);
        if (((v & 0xf0f0f0f0) | (((v + 0x06060606) & 0xf0f0f0f0) >>> 4)) !== 0x33333333) break;
        let d = v - 0x30303030;
        d = (d * 10 + (d >>> 8)) & 0x00ff00ff;
        hi = hi * 10000 + ((d & 0xffff) * 100 + (d >>> 16));
        sig += 4;
        frac += 4;
        i += 4;
      }
      c = buf[i]!;
      while (c >= 48 && c <= 57) {
        if (sig < 15) hi = hi * 10 + (c - 48);
        else if (sig < 19) lo = lo * 10 + (c - 48);
        sig++;
        frac++;
        c = buf[++i]!;
      }
    }
    let exp = 0;
    if (c === 101 || c === 69) {
      c = buf[++i]!;
      let expNeg = false;
      if (c === 43 || c === 45) {
        expNeg = c === 45;
        c = buf[++i]!;
      }
      if (!(c >= 48 && c <= 57)) throw FALLBACK;
      do {
        exp = exp * 10 + (c - 48);
        c = buf[++i]!;
      } while (c >= 48 && c <= 57 && exp < 10_000);
      if (expNeg) exp = -exp;
    }
    if (i > e) throw FALLBACK;
    this.end = i;
    // the value is (hi 10^(sig-15) + lo) 10^scale; frac counted the fraction's digits, significant or not
    if (sig <= 19) {
      const scale = exp - frac;
      if (sig <= 15 && scale >= -22 && scale <= 22) {
        // Clinger: an integer below 2^53 scaled by an exact power of ten is correctly rounded
        const v = scale < 0 ? hi / POW10[-scale]! : hi * POW10[scale]!;
        this.value[0] = neg ? -v : v;
        return;
      }
      if (sig > 15 && scale >= -22 && scale < 0) {
        const v = decimalQuotient(hi, lo, sig - 15, -scale);
        if (!Number.isNaN(v)) {
          this.value[0] = neg ? -v : v;
          return;
        }
      }
    }
    this.value[0] = Number(
      (buf as unknown as { latin1Slice(a: number, b: number): string }).latin1Slice(start, i),
    );
  }

  /** Skips the JSON value at i; returns the index after it. */
  private skipValue(i: number, e: number): number {
    const buf = this.buf;
    const c = buf[i]!;
    if (c === 34) return this.stringEnd(i, e) + 1;
    if (c === 123 || c === 91) {
      let depth = 0;
      for (let k = i; k < e; k++) {
        const d = buf[k]!;
        if (d === 34) k = this.stringEnd(k, e);
        else if (d === 123 || d === 91) depth++;
        else if (d === 125 || d === 93) {
          depth--;
          if (depth === 0) return k + 1;
        }
      }
      throw FALLBACK;
    }
    let k = i;
    while (k < e) {
      const d = buf[k]!;
      if (d === 44 || d === 125 || d === 93 || isWs(d)) break;
      k++;
    }
    if (k === i) throw FALLBACK;
    return k;
  }

  /** Epoch ms of an ISO time's text [a, b); "YYYY-MM-DDTHH:MM:SS.mmmZ" without a Date per line. */
  private isoTime(a: number, b: number): number {
    const buf = this.buf;
    if (b - a !== 24 || buf[a + 19] !== 46 || buf[a + 23] !== 90 || buf[a + 10] !== 84 || this.escaped)
      return Date.parse(this.text(a, b));
    const ms = (buf[a + 20]! - 48) * 100 + (buf[a + 21]! - 48) * 10 + (buf[a + 22]! - 48);
    if (!(ms >= 0 && ms <= 999)) return Date.parse(this.text(a, b));
    if (!bytesEqual(buf, a, a + 19, this.secondText)) {
      buf.copy(this.secondText, 0, a, a + 19);
      this.secondMs = Date.parse(`${buf.toString('latin1', a, a + 19)}Z`);
    }
    return this.secondMs + ms;
  }

  /** A compact row the fast path did not take (parsed by JSON.parse): its record, if its shape is known. */
  private slowCompactRow(row: unknown[]): void {
    const r = compactRecord(row, this.shapes);
    if (r === null) return;
    const time = row[2] as number;
    this.seen(time);
    if (!this.shapeReads.get(row[0] as number)!.keep || !this.keeps(time)) return;
    this.builder.addRecord({ time, probability: r.probability, request_id: r.request_id, inputs: r.inputs });
  }

  /** A line the fast path did not take: parsed whole, then the same filter and fields. */
  private slowLine(s: number, e: number): void {
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(this.buf.toString('utf8', s, e)) as Record<string, unknown>;
    } catch {
      return; // a torn line (a crash mid-write)
    }
    if (r === null || typeof r !== 'object') return;
    if (Array.isArray(r)) {
      this.slowCompactRow(r);
      return;
    }
    if ('shape' in r) {
      const shape = shapeOfLine(r);
      if (shape !== null) this.addShape(shape);
      return;
    }
    const time = typeof r.time === 'string' ? Date.parse(r.time) : Number.NaN;
    this.seen(time);
    if (r.model_name !== this.filter.modelName) return;
    if (this.filter.modelVersion !== undefined && r.model_version !== this.filter.modelVersion) return;
    const bounded = this.filter.since !== undefined || this.filter.until !== undefined;
    if (bounded && !(time >= this.since && time < this.until)) return;
    if (isBatchLine(r)) {
      for (const row of batchLineRecords(r))
        this.builder.addRecord({
          time,
          probability: row.probability,
          request_id: row.request_id,
          inputs: row.inputs,
        });
      return;
    }
    this.builder.addRecord({
      time,
      probability: typeof r.probability === 'number' ? r.probability : null,
      request_id: typeof r.request_id === 'string' ? r.request_id : '',
      inputs: (r.inputs ?? null) as Record<string, unknown> | null,
    });
  }
}

/** What a scan learnt of a segment: its size and modification time when scanned, its served-time span. */
export interface SegmentSpan {
  size: number;
  mtimeMs: number;
  /** Earliest and latest served time of its lines (+/-Infinity when it has none). */
  minTime: number;
  maxTime: number;
}

/** Each file's size in bytes (0 for one that is gone: a segment removed by retention while a read starts). */
export function fileSizes(files: readonly string[]): Promise<number[]> {
  return Promise.all(
    files.map((f) =>
      stat(f).then(
        (s) => s.size,
        () => 0,
      ),
    ),
  );
}

/**
 * Scans segment files (in the given order) into `builder`, reading `chunkBytes` at a time; a segment's last
 * line without a newline is read too (JSON.parse decides whether it is whole). `onSpan` learns each segment's
 * served-time span, keyed by its size and modification time before the scan (a segment that grew meanwhile is
 * known by its older size, so it is scanned again next time).
 */
export async function scanSegments(
  files: readonly string[],
  filter: ScanFilter,
  builder: ColumnsBuilder,
  chunkBytes = 8 * 1024 * 1024,
  onSpan?: (file: string, span: SegmentSpan) => void,
): Promise<void> {
  const scanner = new LineScanner(builder, filter);
  let buf = Buffer.allocUnsafe(chunkBytes);
  // the columns are sized once from the rows kept per byte of the first chunk (growing 40 columns by doubling
  // cost more than the decoding of some of them)
  const sizes = await fileSizes(files);
  let unread = sizes.reduce((a, b) => a + b, 0);
  let read = 0;
  let sized = false;
  const size = (bytes: number) => {
    read += bytes;
    unread -= bytes;
    if (sized || builder.n < 1000) return;
    sized = true;
    builder.reserve(builder.n + (1.02 * builder.n * Math.max(0, unread)) / read + 1024);
  };
  const staging = createDirectStaging(Math.min(DIRECT_STAGING_BYTES, chunkBytes));
  for (const file of files) {
    let before: Stats | null = null;
    let reader: SegmentReader;
    try {
      // the span is keyed by the size before the read: stat first
      if (onSpan) before = await stat(file);
      reader = await openSegmentReader(file, staging);
    } catch {
      continue; // removed since it was listed (retention)
    }
    scanner.resetSpan();
    scanner.startFile();
    try {
      let held = 0; // bytes of an unfinished line kept at the start of buf
      for (;;) {
        if (held === buf.length) {
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, held);
          buf = bigger;
        }
        const bytesRead = await reader.read(buf, held, buf.length - held);
        const filled = held + bytesRead;
        if (bytesRead === 0) {
          if (filled > 0) scanner.scan(buf, 0, filled);
          break;
        }
        const lastNewline = buf.lastIndexOf(10, filled - 1);
        if (lastNewline < 0) {
          held = filled;
          continue;
        }
        scanner.scan(buf, 0, lastNewline);
        size(bytesRead);
        held = filled - lastNewline - 1;
        buf.copy(buf, 0, lastNewline + 1, filled);
      }
      if (before)
        onSpan!(file, {
          size: before.size,
          mtimeMs: before.mtimeMs,
          minTime: scanner.minTime,
          maxTime: scanner.maxTime,
        });
    } finally {
      await reader.close();
    }
  }
}
