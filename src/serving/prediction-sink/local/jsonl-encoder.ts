import { writeNewestRequestId } from '../../request-id.js';
import {
  type ByteOutput,
  type PendingBatch,
  type PendingPrediction,
  type RecordFields,
  spansOf,
} from '../port.js';
import { type LogShape, shapeLine } from './compact-line.js';

const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const QUOTE = 34;
const BACKSLASH = 92;

const ascii = (s: string) => Buffer.from(s, 'latin1');
const REQUEST_ID = ascii('{"request_id":');
const LABELS = ascii('],"labels":"');
const ROWS = ascii('","rows":[');
const DIGIT_ZERO = 48;
const DIGIT_ONE = 49;
const PROBABILITY = ascii(',"probability":');
/** Most chars of a probability's shortest text (e.g. `2.2250738585072014e-308`). */
const PROBABILITY_ROOM = 24;
const COMMA = 44;
/** Room for the fixed parts of a line besides the cached ones (request id key, time, probability). */
const FIXED_ROOM = 96;

/**
 * Writes pending predictions as the local log's JSONL lines (one {@link PredictionRecord} per line, keys in the
 * reader's order) straight into bytes. A request's raw body (the fast lane's case) goes in as it arrived, copied
 * byte for byte: it is one JSON object of scalars, and raw CR/LF can only sit between its tokens, so they become
 * spaces. Other inputs are serialized once, here. The parts that repeat (model name and version, the time up to
 * the second, label, fallback and route) are kept as bytes per distinct value, and a request id of printable
 * ASCII (a UUID, or a caller's id without quotes or backslashes) is copied char by char. Why bytes and not
 * strings: each `Buffer.write` of a short string is a call into C++ that cost more than the copy itself; at tens
 * of thousands of logged requests a second the line's five writes were most of the logging's CPU.
 */
export function createJsonlEncoder(): (p: PendingPrediction, out: ByteOutput) => void {
  return createJsonlEncoding().encode;
}

/**
 * The JSONL encoder of {@link createJsonlEncoder} and its batch form (see {@link PredictionEncoding}). A
 * prediction whose inputs come with their fields (a body the record scanner read) is written as a compact row
 * (see compact-line.ts): `shapeLines()` gives the shape lines its rows refer to, which the writer puts in each
 * segment before them.
 */
export function createJsonlEncoding(): {
  encode: (p: PendingPrediction, out: ByteOutput) => void;
  encodeBatch: (batch: PendingBatch, rows: number, out: ByteOutput) => void;
  shapeLines: () => readonly Buffer[];
} {
  const timeOf = createIsoClock();
  const compact = createCompactRows();
  let lastName: string | null = null;
  let lastVersion: string | null | undefined;
  let modelPart = Buffer.alloc(0);
  let batchModelPart = Buffer.alloc(0);
  const tails = new Map<string, Buffer[]>();
  const batchTails = new Map<string, Buffer[]>();

  const modelPartOf = (p: Pick<PendingPrediction, 'model_name' | 'model_version'>) => {
    if (p.model_name !== lastName || p.model_version !== lastVersion) {
      lastName = p.model_name;
      lastVersion = p.model_version;
      const shared = `Z","model_name":${JSON.stringify(lastName)},"model_version":${JSON.stringify(lastVersion)}`;
      modelPart = Buffer.from(`${shared},"inputs":`);
      batchModelPart = Buffer.from(`${shared},"probabilities":[`);
    }
    return modelPart;
  };
  /** The model part of a batch line, which has no inputs key: `...,"model_version":V,"probabilities":[`. */
  const batchModelPartOf = (p: Pick<PendingPrediction, 'model_name' | 'model_version'>) => {
    modelPartOf(p);
    return batchModelPart;
  };
  /** `,"label":L,"fallback":F,"route":"R"}\n` for each label (0, 1) x fallback (false, true). */
  const tailOf = (route: string, label: number, fallback: boolean) => {
    let four = tails.get(route);
    if (four === undefined) {
      const r = JSON.stringify(route);
      four = [0, 1].flatMap((l) =>
        [false, true].map((f) => Buffer.from(`,"label":${l},"fallback":${f},"route":${r}}\n`)),
      );
      if (tails.size < 64) tails.set(route, four);
    }
    return four[label * 2 + (fallback ? 1 : 0)]!;
  };

  /** `],"fallback":F,"route":"R"}\n`, closing a batch line's rows. */
  const batchTailOf = (route: string, fallback: boolean) => {
    let two = batchTails.get(route);
    if (two === undefined) {
      const r = JSON.stringify(route);
      two = [false, true].map((f) => Buffer.from(`],"fallback":${f},"route":${r}}\n`));
      if (batchTails.size < 64) batchTails.set(route, two);
    }
    return two[fallback ? 1 : 0]!;
  };

  const encode = (p: PendingPrediction, out: ByteOutput) => {
    if (compact.encode(p, out)) return;
    const model = modelPartOf(p);
    const tail = tailOf(p.route, p.label, p.fallback);
    const raw = p.inputs_json ?? (p.inputs === null ? '{}' : JSON.stringify(p.inputs));
    const inputBytes = typeof raw === 'string' ? raw.length * 3 : raw.length;
    out.reserve(FIXED_ROOM + 6 * p.request_id.length + model.length + inputBytes + tail.length);
    const b = out.buffer;
    b.set(REQUEST_ID, out.offset);
    let o = writeJsonString(b, out.offset + REQUEST_ID.length, p.request_id);
    o = timeOf(b, o, p.time);
    b.set(model, o);
    o += model.length;
    const start = o;
    if (typeof raw === 'string') o += b.write(raw, o);
    else {
      b.set(raw, o);
      o += raw.length;
    }
    if (hasLineBreak(raw)) {
      for (let i = start; i < o; i++) if (b[i] === LF || b[i] === CR) b[i] = SPACE;
    }
    b.set(PROBABILITY, o);
    o = writeAscii(b, o + PROBABILITY.length, String(p.probability));
    b.set(tail, o);
    out.offset = o + tail.length;
  };

  /**
   * The first `rows` rows of a batch as ONE line (see {@link BatchLine}): the request id, time, model and route
   * once, the probabilities and labels, then each row's span of the request text as it arrived. Why one line and
   * not a line per row: the per-row header (id, time, model, route) was a quarter of the bytes written, and the
   * page cache's cost of fresh file pages is paid per byte. The rows' text is written straight from the request
   * string, in one write when the spans are one array's elements. Room is reserved for a byte a char (an ASCII
   * body, nearly every one) and the line is encoded again with three a char only when the text did not fit: a
   * UTF-8 length of the body first (Buffer.byteLength) was a pass over its 50 kB costing 4-10 us a request.
   */
  const encodeBatch = (batch: PendingBatch, rows: number, out: ByteOutput) => {
    if (!encodeBatchIn(batch, rows, out, 1)) encodeBatchIn(batch, rows, out, 3);
  };
  /** `text` into `b` at `o` (at most `room` bytes): byte for byte when known to be ASCII, else as UTF-8. */
  const writeText = (b: Buffer, o: number, text: string, room: number, ascii: boolean | undefined) =>
    b.write(text, o, room, ascii === true ? 'latin1' : 'utf8');

  /**
   * {@link encodeBatch} with room for `bytesPerChar` bytes a char of the rows' text; false (nothing written) when
   * the text needed more.
   */
  const encodeBatchIn = (batch: PendingBatch, rows: number, out: ByteOutput, bytesPerChar: number) => {
    const model = batchModelPartOf(batch);
    const { text, route, fallback } = batch;
    const tail = batchTailOf(route, fallback);
    const run = rowsRun(batch, rows);
    const { first, last } = run;
    out.reserve(
      FIXED_ROOM +
        6 * batch.request_id.length +
        model.length +
        bytesPerChar * (last - first) +
        rows * (PROBABILITY_ROOM + 2) +
        tail.length,
    );
    const b = out.buffer;
    b.set(REQUEST_ID, out.offset);
    let o = writeJsonString(b, out.offset + REQUEST_ID.length, batch.request_id);
    o = timeOf(b, o, batch.time);
    b.set(model, o);
    o += model.length;
    o = writeScores(b, o, batch.rows, rows);
    const start = o;
    // a write stops before a char that does not fit (4 bytes at most): fewer than 4 bytes left means maybe cut
    const end = b.length - tail.length;
    if (run.spans === null) {
      o += writeText(b, o, text.slice(first, last), end - o, batch.ascii);
      if (end - o < 4 && bytesPerChar < 3) return false;
    } else
      for (let i = 0; i < rows; i++) {
        if (i > 0) b[o++] = COMMA;
        o += writeText(b, o, text.slice(run.spans[2 * i]!, run.spans[2 * i + 1]!), end - o, batch.ascii);
        if (end - o < 4 && bytesPerChar < 3) return false;
      }
    if (hasLineBreak(text)) {
      for (let k = start; k < o; k++) if (b[k] === LF || b[k] === CR) b[k] = SPACE;
    }
    b.set(tail, o);
    out.offset = o + tail.length;
    return true;
  };

  return { encode, encodeBatch, shapeLines: compact.shapeLines };
}

/** Most shapes one encoder defines; past them, predictions of new shapes are written as record lines. */
const MAX_SHAPES = 1024;
const BRACKET_CLOSE = 93;

/** A shape as the encoder keeps it: the scanner's keys and slot order it was last matched with. */
interface EncoderShape extends LogShape {
  /** The scanner's key list and the slots (indices into it) of the fields in order. */
  scannerKeys: readonly string[];
  slots: Int32Array;
  /** The scanner's fields and their layout when they last matched `slots`. */
  fields: RecordFields;
  layout: number;
  /** `[<id>,` */
  head: Buffer;
}

/**
 * The compact rows of {@link createJsonlEncoding}: a prediction with its record's fields becomes
 * `[shape,"id",ms,p,label,v1,...]` with its values copied byte for byte from the request, its shape (model,
 * route, fallback and the keys in the order sent) defined once. The last shape is checked first (nearly every request
 * has the same keys in the same order): by the scanner's layout when the fields are the ones it last matched,
 * else field by field against the scanner's slot order; then a map by the keys' names.
 */
function createCompactRows() {
  const shapes = new Map<string, EncoderShape>();
  const lines: Buffer[] = [];
  let last: EncoderShape | null = null;
  const epochOf = createEpochClock();

  const sameShape = (s: EncoderShape, p: PendingPrediction, f: RecordFields) => {
    if (
      s.scannerKeys !== f.keys ||
      s.slots.length !== f.count ||
      s.model_name !== p.model_name ||
      s.model_version !== p.model_version ||
      s.route !== p.route ||
      s.fallback !== p.fallback
    )
      return false;
    if (s.fields === f && s.layout === f.layout) return true;
    for (let i = 0; i < f.count; i++) if (s.slots[i] !== f.slot[i]) return false;
    s.fields = f;
    s.layout = f.layout;
    return true;
  };

  const shapeOf = (p: PendingPrediction, f: RecordFields): EncoderShape | null => {
    if (last !== null && sameShape(last, p, f)) return last;
    const keys = Array.from(f.slot.subarray(0, f.count), (k) => f.keys[k]!);
    const name = JSON.stringify([p.model_name, p.model_version, p.route, p.fallback, keys]);
    let s = shapes.get(name);
    if (s === undefined) {
      if (shapes.size >= MAX_SHAPES) return null;
      const id = shapes.size + 1;
      s = {
        id,
        model_name: p.model_name,
        model_version: p.model_version,
        route: p.route,
        fallback: p.fallback,
        keys,
        scannerKeys: f.keys,
        slots: f.slot.slice(0, f.count),
        fields: f,
        layout: f.layout,
        head: Buffer.from(`[${id},`, 'latin1'),
      };
      shapes.set(name, s);
      lines.push(Buffer.from(shapeLine(s)));
    } else {
      // the same names through another scanner (a reloaded model): matched by its slots from now on
      s.scannerKeys = f.keys;
      s.slots = f.slot.slice(0, f.count);
      s.fields = f;
      s.layout = f.layout;
    }
    last = s;
    return s;
  };

  /** Writes `p` as a compact row and returns true, or returns false (nothing written) when it is not one. */
  const encode = (p: PendingPrediction, out: ByteOutput): boolean => {
    const f = p.inputs_fields;
    if (f === undefined || f === null || f.count < 0 || f.raw === null || f.raw !== p.inputs_json)
      return false;
    const t = p.time;
    if (!(Number.isSafeInteger(t) && t >= 1000 && Number.isFinite(p.probability))) return false;
    const shape = shapeOf(p, f);
    if (shape === null) return false;
    const raw = f.raw;
    const n = f.count;
    // the values lie between the first's start and the last's end
    const values = n === 0 ? 0 : f.end[n - 1]! - f.start[0]!;
    out.reserve(shape.head.length + 6 * p.request_id.length + 24 + PROBABILITY_ROOM + 4 + n + values);
    const b = out.buffer;
    b.set(shape.head, out.offset);
    let o = out.offset + shape.head.length;
    const id = p.request_id;
    const afterId = writeNewestRequestId(id, b, o);
    o = afterId >= 0 ? afterId : writeJsonString(b, o, id);
    b[o++] = COMMA;
    o = epochOf(b, o, t);
    b[o++] = COMMA;
    o = writeAscii(b, o, String(p.probability));
    b[o++] = COMMA;
    b[o++] = p.label === 1 ? DIGIT_ONE : DIGIT_ZERO;
    const { start, end } = f;
    for (let i = 0; i < n; i++) {
      b[o++] = COMMA;
      let k = start[i]!;
      const z = end[i]!;
      while (k < z) b[o++] = raw[k++]!;
    }
    b[o++] = BRACKET_CLOSE;
    b[o++] = LF;
    out.offset = o;
    return true;
  };

  return { encode, shapeLines: (): readonly Buffer[] => lines };
}

/** Writes an integer epoch ms of at least 1000 as its digits; the seconds' digits are made once per second. */
function createEpochClock(): (b: Buffer, o: number, ms: number) => number {
  return createMillisClock((s) => ascii(String(s)));
}

/**
 * The rows' text as one run `[first, last)` (spans null) when they are the elements of one JSON array: the whole
 * batch with its `elements` (see recordsRange), or spans with only whitespace and one comma between each row and
 * the next. Else each row's span, written one by one. Either way the same rows' text.
 */
function rowsRun(
  batch: PendingBatch,
  rows: number,
): { first: number; last: number; spans: Int32Array | null } {
  const whole = rows === batch.rows.length ? batch.elements : undefined;
  if (whole !== undefined) return { first: whole.start, last: whole.end, spans: null };
  const spans = spansOf(batch);
  const first = spans[0] ?? 0;
  const last = rows > 0 ? spans[2 * rows - 1]! : first;
  return { first, last, spans: rows > 0 && elementsOfOneArray(batch.text, spans, rows) ? null : spans };
}

/**
 * Whether only whitespace and one comma lie between each of the first `rows` spans and the next (the elements of
 * one JSON array, as record-spans.ts finds them): the rows' text is then copied with one write, from the first
 * span's start to the last one's end, instead of one write per row.
 */
function elementsOfOneArray(text: string, spans: Int32Array, rows: number): boolean {
  for (let i = 1; i < rows; i++) {
    let commas = 0;
    for (let k = spans[2 * i - 1]!; k < spans[2 * i]!; k++) {
      const c = text.charCodeAt(k);
      if (c === COMMA) commas++;
      else if (c !== SPACE && c !== LF && c !== CR && c !== TAB) return false;
    }
    if (commas !== 1) return false;
  }
  return true;
}

/**
 * Writes `p0,p1,...],"labels":"01...","rows":[` for the first `rows` rows at `o`; returns the offset past it. Why
 * one joined string: a byte store per char of each probability's text was ~7 us a batch of 100, one write of
 * their join ~3 us (a string built by `+=` cost as much again in concatenation and GC).
 */
function writeScores(b: Buffer, o: number, scored: PendingBatch['rows'], rows: number): number {
  const probabilities = new Array<number>(rows);
  for (let i = 0; i < rows; i++) probabilities[i] = scored[i]!.probability;
  o += b.write(probabilities.join(','), o, 'latin1');
  b.set(LABELS, o);
  o += LABELS.length;
  for (let i = 0; i < rows; i++) b[o++] = scored[i]!.label === 1 ? DIGIT_ONE : DIGIT_ZERO;
  b.set(ROWS, o);
  return o + ROWS.length;
}

/** Writes `s` (known to be ASCII, e.g. a number's text) at `o`; returns the offset past it. */
function writeAscii(b: Buffer, o: number, s: string): number {
  for (let i = 0; i < s.length; i++) b[o++] = s.charCodeAt(i);
  return o;
}

/**
 * Writes JSON.stringify(s) at `o` (room for 6 bytes a char is reserved); returns the offset past it. Printable
 * ASCII without quotes or backslashes (every UUID and nearly every caller's id) is copied char by char; anything
 * else is stringified.
 */
function writeJsonString(b: Buffer, o: number, s: string): number {
  const o0 = o;
  b[o++] = QUOTE;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) return o0 + b.write(JSON.stringify(s), o0);
    b[o++] = c;
  }
  b[o++] = QUOTE;
  return o;
}

const hasLineBreak = (s: string | Buffer): boolean =>
  typeof s === 'string'
    ? s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0
    : s.indexOf(LF) >= 0 || s.indexOf(CR) >= 0;

/**
 * Writes `,"time":"<ISO 8601 up to the millisecond>` for a run of increasing epoch milliseconds (the closing
 * `Z"` is the model part's): the bytes up to the seconds are made once per second, not once per prediction (a
 * second holds tens of thousands of predictions).
 */
function createIsoClock(): (b: Buffer, o: number, ms: number) => number {
  // ',"time":"2026-12-04T23:45:01.'
  return createMillisClock((s) => ascii(`,"time":"${new Date(s * 1000).toISOString().slice(0, 20)}`));
}

/**
 * Writes a millisecond time as the bytes `prefixOf(second)` gives for its second, made once per second, then the
 * three digits of its millisecond.
 */
function createMillisClock(
  prefixOf: (second: number) => Buffer,
): (b: Buffer, o: number, ms: number) => number {
  let second = Number.NaN;
  let prefix: Buffer = Buffer.alloc(0);
  return (b, o, ms) => {
    const s = Math.floor(ms / 1000);
    if (s !== second) {
      second = s;
      prefix = prefixOf(s);
    }
    b.set(prefix, o);
    o += prefix.length;
    const frac = ms - s * 1000;
    if (Number.isInteger(frac)) {
      b[o++] = 48 + Math.floor(frac / 100);
      b[o++] = 48 + (Math.floor(frac / 10) % 10);
      b[o++] = 48 + (frac % 10);
      return o;
    }
    // a fractional millisecond (never from Date.now()) keeps the text toISOString's caller used to get
    return writeAscii(b, o, `${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`);
  };
}

/** A growable {@link ByteOutput} (for writing a batch outside the sink's chunks). */
export function createGrowableOutput(initial = 64 * 1024): ByteOutput & { bytes(): Buffer } {
  const out = {
    buffer: Buffer.allocUnsafe(initial),
    offset: 0,
    reserve(n: number) {
      if (out.offset + n <= out.buffer.length) return;
      const next = Buffer.allocUnsafe(Math.max(2 * out.buffer.length, out.offset + n));
      out.buffer.copy(next, 0, 0, out.offset);
      out.buffer = next;
    },
    bytes: () => out.buffer.subarray(0, out.offset),
  };
  return out;
}
