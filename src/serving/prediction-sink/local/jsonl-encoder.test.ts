import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ByteOutput, type PendingBatch, type PendingPrediction, pendingRow } from '../port.js';
import { batchLineRecords, isBatchLine } from './batch-line.js';
import { recordsRange } from '../../record-spans.js';
import { createGrowableOutput, createJsonlEncoder, createJsonlEncoding } from './jsonl-encoder.js';

/** The line as the JSON text of its record: what the encoder's byte writes must reproduce exactly. */
function referenceLine(p: PendingPrediction): string {
  const inputs =
    p.inputs_json === null ? JSON.stringify(p.inputs ?? {}) : String(p.inputs_json).replace(/[\r\n]/g, ' ');
  return (
    `{"request_id":${JSON.stringify(p.request_id)},"time":${JSON.stringify(new Date(p.time).toISOString())},` +
    `"model_name":${JSON.stringify(p.model_name)},"model_version":${JSON.stringify(p.model_version)},` +
    `"inputs":${inputs},"probability":${p.probability},"label":${p.label},"fallback":${p.fallback},` +
    `"route":${JSON.stringify(p.route)}}\n`
  );
}

const IDS = [
  '5d9f0c1e-1234-4a5b-8c9d-0123456789ab',
  'caller-id/7',
  'with"quote',
  'back\\slash',
  'ünïcode-id',
  'tab\there',
  '~!#$%&()*+,-./:;<=>?@[]^_`{|}',
];
const TIMES = [
  Date.UTC(2026, 11, 5, 3, 0, 0, 0),
  Date.UTC(2026, 11, 5, 3, 0, 0, 7),
  Date.UTC(2026, 11, 5, 3, 0, 0, 45),
  Date.UTC(2026, 11, 5, 3, 0, 0, 999),
  Date.UTC(2026, 11, 5, 3, 0, 1, 100),
  Date.UTC(2027, 0, 1, 0, 0, 0, 1),
  Date.UTC(2026, 11, 5, 3, 0, 0, 0), // a time earlier than the one before (another second again)
];
const PROBABILITIES = [0, 1, 0.5, 1e-7, 0.123456789012345, 0.9999999999999999, 2.5e-12];

test('jsonl encoder: every line is byte for byte the JSON text of its record (ids, times, names, inputs, routes)', () => {
  const encode = createJsonlEncoder();
  const out = createGrowableOutput(64);
  const expected: string[] = [];
  let i = 0;
  for (const request_id of IDS)
    for (const time of TIMES) {
      const inputs = { Age: i, region: i % 3 === 0 ? 'Île-de-France' : 'East', ok: i % 2 === 0, gone: null };
      const form = i % 4;
      const p: PendingPrediction = {
        request_id,
        time,
        model_name: i % 5 === 0 ? 'mödel "x"' : 'course-completion',
        model_version: i % 3 === 0 ? null : String(i % 2),
        inputs: form === 3 ? inputs : null,
        inputs_json:
          form === 0
            ? Buffer.from(JSON.stringify(inputs))
            : form === 1
              ? Buffer.from(JSON.stringify(inputs, null, '\r\n'))
              : form === 2
                ? JSON.stringify(inputs, null, 2)
                : null,
        probability: PROBABILITIES[i % PROBABILITIES.length]!,
        label: i % 2 === 0 ? 1 : 0,
        fallback: i % 3 === 1,
        route: ['/predict', '/predict/batch', '/invocations'][i % 3]!,
      };
      encode(p, out);
      expected.push(referenceLine(p));
      i++;
    }
  assert.equal(out.bytes().toString(), expected.join(''));
  for (const line of expected) assert.equal(typeof JSON.parse(line).inputs, 'object');
});

/** A batch body `{"records": [...]}` and the spans of its records (as record-spans.ts finds them). */
function batchOf(records: readonly Record<string, unknown>[], indent?: string) {
  const parts = records.map((r) => JSON.stringify(r, null, indent));
  let text = '{"records": [';
  const spans = new Int32Array(2 * records.length);
  parts.forEach((part, i) => {
    if (i > 0) text += ', ';
    spans[2 * i] = text.length;
    text += part;
    spans[2 * i + 1] = text.length;
  });
  return { text: `${text}]}`, spans };
}

test('jsonl encoder: a batch is one line whose rows read back as the records of its pending rows (ASCII, non-ASCII, CR/LF bodies)', () => {
  const { encodeBatch } = createJsonlEncoding();
  const forms = [
    { name: 'ascii', region: 'East', indent: undefined },
    { name: 'non-ascii', region: 'Île-de-France', indent: undefined },
    { name: 'line breaks', region: 'East', indent: '\r\n' },
  ];
  let k = 0;
  for (const form of forms)
    for (const request_id of IDS) {
      const records = Array.from({ length: 12 }, (_, i) => ({
        Age: i,
        region: form.region,
        ok: i % 2 === 0,
      }));
      const { text, spans } = batchOf(records, form.indent);
      const batch: PendingBatch = {
        request_id,
        time: TIMES[k % TIMES.length]!,
        model_name: k % 5 === 0 ? 'mödel "x"' : 'course-completion',
        model_version: k % 3 === 0 ? null : String(k % 2),
        fallback: k % 2 === 1,
        route: '/predict/batch',
        text,
        // the route's flag (isAsciiBody) when the text is ASCII, on every other batch: both copies are checked
        ascii: k % 2 === 0 && Buffer.byteLength(text) === text.length,
        spans,
        rows: records.map((_, i) => ({
          probability: PROBABILITIES[(i + k) % PROBABILITIES.length]!,
          label: (i + k) % 2,
        })),
      };
      const rows = 1 + (k % records.length); // the first `rows` only, as a nearly full queue takes
      k++;
      const out = createGrowableOutput(64); // small: the line's reserve grows it
      encodeBatch(batch, rows, out);
      const written = out.bytes().toString();
      assert.equal(written.indexOf('\n'), written.length - 1, `${form.name}, id ${request_id}: one line`);
      const line = JSON.parse(written) as object;
      assert.ok(isBatchLine(line));
      const expected = Array.from({ length: rows }, (_, i) =>
        JSON.parse(referenceLine(pendingRow(batch, i))),
      );
      assert.deepEqual(batchLineRecords(line), expected, `${form.name}, id ${request_id}`);
    }
});

test('jsonl encoder: a batch whose spans are not neighbours in one array (rows skipped) is written row by row, the same records', () => {
  const { encodeBatch } = createJsonlEncoding();
  const records = Array.from({ length: 6 }, (_, i) => ({ Age: i, region: i % 2 ? 'Île' : 'East' }));
  const { text, spans: all } = batchOf(records);
  const picked = [0, 2, 3, 5];
  const spans = Int32Array.from(picked.flatMap((r) => [all[2 * r]!, all[2 * r + 1]!]));
  const batch: PendingBatch = {
    request_id: 'req',
    time: TIMES[0]!,
    model_name: 'm',
    model_version: '1',
    fallback: false,
    route: '/invocations',
    text,
    spans,
    rows: picked.map((r) => ({ probability: r / 10, label: r % 2 })),
  };
  const out = createGrowableOutput(64);
  encodeBatch(batch, picked.length, out);
  const line = JSON.parse(out.bytes().toString()) as object;
  assert.ok(isBatchLine(line));
  assert.deepEqual(
    batchLineRecords(line).map((r) => r.inputs),
    picked.map((r) => records[r]),
  );
});

/** An output whose buffer is never larger than what was last reserved: room for the ASCII estimate, no more. */
function tightOutput(): ByteOutput & { bytes(): Buffer } {
  const out = {
    buffer: Buffer.alloc(0),
    offset: 0,
    reserve(n: number) {
      if (out.offset + n <= out.buffer.length) return;
      const next = Buffer.alloc(out.offset + n);
      out.buffer.copy(next, 0, 0, out.offset);
      out.buffer = next;
    },
    bytes: () => out.buffer.subarray(0, out.offset),
  };
  return out;
}

test('jsonl encoder: a batch whose text needs more bytes than chars (2-, 3- and 4-byte UTF-8) fills an output reserved for exactly what it asks, the same line as with room to spare', () => {
  const regions = ['East', 'Île', '東京都', 'emoji 🚀🚀', '\u00e9'.repeat(40)];
  for (const region of regions)
    for (const skip of [false, true]) {
      const records = Array.from({ length: 8 }, (_, i) => ({ Age: i, region }));
      const { text, spans: all } = batchOf(records);
      const picked = skip ? [0, 2, 5, 7] : [0, 1, 2, 3, 4, 5, 6, 7];
      const spans = Int32Array.from(picked.flatMap((r) => [all[2 * r]!, all[2 * r + 1]!]));
      const batch: PendingBatch = {
        request_id: 'req',
        time: TIMES[1]!,
        model_name: 'm',
        model_version: null,
        fallback: false,
        route: '/predict/batch',
        text,
        spans,
        rows: picked.map((r) => ({ probability: PROBABILITIES[r % PROBABILITIES.length]!, label: r % 2 })),
      };
      const tight = tightOutput();
      createJsonlEncoding().encodeBatch(batch, picked.length, tight);
      const roomy = createGrowableOutput(1 << 20);
      createJsonlEncoding().encodeBatch(batch, picked.length, roomy);
      assert.equal(tight.bytes().toString(), roomy.bytes().toString(), `${region}, skip ${skip}`);
      const line = JSON.parse(tight.bytes().toString()) as object;
      assert.ok(isBatchLine(line));
      assert.deepEqual(
        batchLineRecords(line).map((r) => r.inputs),
        picked.map((r) => records[r]),
        `${region}, skip ${skip}`,
      );
    }
});

test('jsonl encoder: a batch given as one run of records (elements, no spans) is written byte for byte as with its spans, whole or cut short', () => {
  const forms = [
    { region: 'East', indent: undefined, ascii: true },
    { region: 'Île-de-France', indent: undefined, ascii: false },
    { region: 'East', indent: '\r\n', ascii: true },
  ];
  for (const form of forms)
    for (const count of [1, 2, 9]) {
      const records = Array.from({ length: count }, (_, i) => ({ Age: i, region: form.region, s: '}{' }));
      const { text, spans } = batchOf(records, form.indent);
      const elements = recordsRange(text);
      assert.ok(elements !== null, text);
      const common = {
        request_id: IDS[count % IDS.length]!,
        time: TIMES[count % TIMES.length]!,
        model_name: 'course-completion',
        model_version: '3',
        fallback: count === 2,
        route: '/predict/batch',
        text,
        ascii: form.ascii,
        rows: records.map((_, i) => ({
          probability: PROBABILITIES[i % PROBABILITIES.length]!,
          label: i % 2,
        })),
      };
      for (const rows of new Set([count, Math.max(1, count - 3)])) {
        const bySpans = createGrowableOutput(64);
        createJsonlEncoding().encodeBatch({ ...common, spans }, rows, bySpans);
        const byRun: PendingBatch = { ...common, elements };
        const out = tightOutput();
        createJsonlEncoding().encodeBatch(byRun, rows, out);
        assert.equal(out.bytes().toString(), bySpans.bytes().toString(), `${text}, ${rows} rows`);
        // a cut-short batch needs its rows one by one: their spans are found then, and only then
        assert.equal(byRun.spans !== undefined, rows < count, `${text}, ${rows} rows`);
      }
    }
});

test('pending rows of a batch given as one run of records are the rows of its spans', () => {
  const records = [{ a: 1 }, { b: 'x' }, { c: null }];
  const { text, spans } = batchOf(records, '  ');
  const common = {
    request_id: 'r',
    time: TIMES[0]!,
    model_name: 'm',
    model_version: null,
    fallback: false,
    route: '/predict/batch',
    text,
    rows: records.map((_, i) => ({ probability: i / 4, label: i % 2 })),
  };
  const elements = recordsRange(text)!;
  records.forEach((_, i) => {
    assert.deepEqual(pendingRow({ ...common, elements }, i), pendingRow({ ...common, spans }, i));
  });
  // text whose rows cannot be split (not a route's batch): no row is made up
  assert.throws(() => pendingRow({ ...common, text: '[1, 2, 3]', elements: { start: 1, end: 8 } }, 0));
});
