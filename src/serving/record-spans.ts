/**
 * Where each record of a batch body sits in the request text: `[{...}, ...]` or `{"records": [{...}, ...]}` (other
 * top-level keys skipped; the last "records" wins, as in JSON.parse). Why: the prediction log records each row's
 * inputs as the caller sent them; slicing the request text is a fraction of serializing every parsed row again.
 * Returns [start, end) pairs (2 per record), or null when the text is not one of those shapes (the caller then
 * serializes the rows). The text is known to be valid JSON (it was parsed), so the scan only tracks structure.
 * With `expected` (how many records the parser found), a body of flat records is split by its `}`s alone.
 */
export function recordSpans(text: string, expected?: number): Int32Array | null {
  if (expected !== undefined) {
    const quick = quickSpans(text, expected);
    if (quick !== null) return quick;
  }
  const at = skipSpace(text, 0);
  const c = text.charCodeAt(at);
  if (c === OPEN_ARRAY) return elementSpans(text, at)?.spans ?? null;
  if (c !== OPEN_OBJECT) return null;
  let spans: Int32Array | null = null;
  let i = skipSpace(text, at + 1);
  if (text.charCodeAt(i) === CLOSE_OBJECT) return null;
  for (;;) {
    const keyEnd = stringEnd(text, i);
    const isRecords = text.slice(i, keyEnd) === '"records"';
    i = skipSpace(text, skipSpace(text, keyEnd) + 1); // past the colon
    if (isRecords) {
      if (text.charCodeAt(i) !== OPEN_ARRAY) return null;
      const found = elementSpans(text, i);
      if (found === null) return null;
      spans = found.spans;
      i = skipSpace(text, found.end); // not valueEnd: the array is not scanned twice
    } else i = skipSpace(text, valueEnd(text, i));
    if (text.charCodeAt(i) !== COMMA) return spans;
    i = skipSpace(text, i + 1);
  }
}

/** [start, end) of a batch's records in its text, from the first record's `{` to the last one's `}`. */
export interface RecordsRange {
  start: number;
  end: number;
}

/** Where the records array of `[...]` or `{"records": [...]}` opens (the index of its `[`), or -1. */
function recordsArrayStart(text: string): number {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) === OPEN_OBJECT) {
    i = skipSpace(text, i + 1);
    if (!text.startsWith('"records"', i)) return -1;
    i = skipSpace(text, i + 9);
    if (text.charCodeAt(i) !== COLON) return -1;
    i = skipSpace(text, i + 1);
  }
  return text.charCodeAt(i) === OPEN_ARRAY ? i : -1;
}

/**
 * Where a batch body's records lie as one run of text, when their array is the body's only one: `[...]` or
 * `{"records": [...]}` (no other key) holding no `]`, or null (recordSpans then finds each record). Why: the
 * prediction log writes the rows as one run of the request text; this is one search for `]` over the body instead
 * of one search a record. Why it cannot be wrong for valid JSON: the array's closing `]` is the first `]` after
 * its `[`, and only the wrapper's `}` may follow it, so the body holds no other value; start === end for none.
 */
export function recordsRange(text: string): RecordsRange | null {
  const i = recordsArrayStart(text);
  if (i < 0) return null;
  const wrapped = text.charCodeAt(skipSpace(text, 0)) === OPEN_OBJECT;
  const close = text.indexOf(']', i + 1);
  if (close < 0) return null;
  let after = skipSpace(text, close + 1);
  if (wrapped) {
    if (text.charCodeAt(after) !== CLOSE_OBJECT) return null;
    after = skipSpace(text, after + 1);
  }
  if (after !== text.length) return null;
  const start = skipSpace(text, i + 1);
  let end = close;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  return { start, end };
}

/**
 * The spans of a body that is only an array of `expected` flat records (`[...]` or `{"records": [...]}`), each
 * taken to end at the first `}` after its `{` (one indexOf a record, no scan of its text); null when that reading
 * does not hold up. Why it cannot be wrong when it returns: in valid JSON the only `]` followed by nothing but the
 * body's end (and the wrapper's `}`) is the array's own, and no span can step over a record's closing `}` (it
 * ends at the first one), so every record's end closes some span; a `}` inside a string or a nested object adds
 * one more span, and the count no longer matches.
 */
function quickSpans(text: string, expected: number): Int32Array | null {
  let i = recordsArrayStart(text);
  if (i < 0) return null;
  const wrapped = text.charCodeAt(skipSpace(text, 0)) === OPEN_OBJECT;
  const spans = new Int32Array(2 * expected);
  let n = 0;
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) !== CLOSE_ARRAY) {
    for (;;) {
      if (text.charCodeAt(i) !== OPEN_OBJECT || n === spans.length) return null;
      const close = text.indexOf('}', i);
      if (close < 0) return null;
      spans[n++] = i;
      spans[n++] = close + 1;
      i = skipSpace(text, close + 1);
      const c = text.charCodeAt(i);
      if (c === CLOSE_ARRAY) break;
      if (c !== COMMA) return null;
      i = skipSpace(text, i + 1);
    }
  }
  if (n !== spans.length) return null;
  i = skipSpace(text, i + 1);
  if (wrapped) {
    if (text.charCodeAt(i) !== CLOSE_OBJECT) return null;
    i = skipSpace(text, i + 1);
  }
  return i === text.length ? spans : null;
}

const COLON = 58;
const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const OPEN_ARRAY = 91;
const CLOSE_ARRAY = 93;
const OPEN_OBJECT = 123;
const CLOSE_OBJECT = 125;

/**
 * The spans of the elements of the array at `start`, each an object, and the index past the array; null when an
 * element is not an object.
 */
function elementSpans(text: string, start: number): { spans: Int32Array; end: number } | null {
  let spans = new Int32Array(64);
  let n = 0;
  let i = skipSpace(text, start + 1);
  if (text.charCodeAt(i) === CLOSE_ARRAY) return { spans: spans.subarray(0, 0), end: i + 1 };
  for (;;) {
    if (text.charCodeAt(i) !== OPEN_OBJECT) return null;
    const end = flatObjectEnd(text, i) ?? valueEnd(text, i);
    if (n + 2 > spans.length) {
      const grown = new Int32Array(spans.length * 2);
      grown.set(spans);
      spans = grown;
    }
    spans[n++] = i;
    spans[n++] = end;
    i = skipSpace(text, end);
    if (text.charCodeAt(i) !== COMMA) return { spans: spans.subarray(0, n), end: i + 1 }; // past the ]
    i = skipSpace(text, i + 1);
  }
}

/**
 * A flat object (scalars only) from `{` to its `}`, strings matched whole: irregexp's native code scans a record
 * about twice as fast as the char-by-char loop of valueEnd. Each character can match one way only, so a record
 * that is not flat (a nested value) fails in linear time and is left to valueEnd.
 */
const FLAT_OBJECT = /\{(?:[^"{}[\]]|"[^"\\]*(?:\\.[^"\\]*)*")*\}/y;

/** The end of the flat object at `i`, or null when it is not one (or the match gives up on a huge record). */
function flatObjectEnd(text: string, i: number): number | null {
  FLAT_OBJECT.lastIndex = i;
  try {
    return FLAT_OBJECT.test(text) ? FLAT_OBJECT.lastIndex : null;
  } catch {
    return null; // irregexp's backtracking stack overflowed on an enormous record
  }
}

/** The end of the JSON value starting at `i`. */
function valueEnd(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return stringEnd(text, i);
  if (c !== OPEN_OBJECT && c !== OPEN_ARRAY) {
    // a number or a literal: up to the next delimiter
    let k = i + 1;
    for (;;) {
      const d = text.charCodeAt(k);
      if (
        d === COMMA ||
        d === CLOSE_OBJECT ||
        d === CLOSE_ARRAY ||
        d === 32 ||
        d === 10 ||
        d === 13 ||
        d === 9
      )
        return k;
      if (k >= text.length) return k;
      k++;
    }
  }
  // an object or array: to its matching bracket, strings skipped whole
  let depth = 0;
  let k = i;
  for (;;) {
    if (k >= text.length) return text.length;
    const d = text.charCodeAt(k);
    if (d === QUOTE) {
      k = stringEnd(text, k);
      continue;
    }
    if (d === OPEN_OBJECT || d === OPEN_ARRAY) depth++;
    else if (d === CLOSE_OBJECT || d === CLOSE_ARRAY) {
      depth--;
      if (depth === 0) return k + 1;
    }
    k++;
  }
}

/** The index just past the string whose opening quote is at `i`. */
function stringEnd(text: string, i: number): number {
  let k = text.indexOf('"', i + 1);
  for (;;) {
    if (k < 0) return text.length;
    // a quote preceded by an odd run of backslashes is escaped
    let b = k - 1;
    while (text.charCodeAt(b) === BACKSLASH) b--;
    if ((k - 1 - b) % 2 === 0) return k + 1;
    k = text.indexOf('"', k + 1);
  }
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 13 || c === 9;
