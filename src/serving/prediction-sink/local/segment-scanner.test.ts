import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { ColumnsBuilder, columnsOfRecords } from '../columns.js';
import type { ColumnField, PredictionColumns, PredictionQuery } from '../port.js';
import { createGrowableOutput, createJsonlEncoding } from './jsonl-encoder.js';
import { createLocalPredictionStore } from './local-prediction-store.js';
import { scanTestFields } from './scan-fields.test-helper.js';
import { scanSegments } from './segment-scanner.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const freshDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'tassel-scanner-'));
  dirs.push(d);
  return d;
};

const num = (v: unknown) =>
  v === undefined || v === null
    ? Number.NaN
    : typeof v === 'number'
      ? v
      : v === 'bad'
        ? undefined
        : Number(v);
const FIELDS: ColumnField[] = [
  { name: 'a', numeric: true, nullable: true, parse: num },
  // a range check, given for numbers too (the scanner's path without boxing)
  {
    name: 'b',
    numeric: true,
    nullable: false,
    parse: (v) => (typeof v === 'number' && v > 1e300 ? undefined : num(v)),
    parseNumber: (v) => (v > 1e300 ? undefined : v),
  },
  {
    name: 'c',
    numeric: false,
    nullable: true,
    parse: (v) => (v === undefined || v === null ? null : String(v)),
  },
  {
    name: 'é',
    numeric: false,
    nullable: true,
    parse: (v) => (v === 'nope' ? undefined : v == null ? null : String(v)),
  },
];

/** Both reads of the same segment folder: the columnar scan and JSON.parse of each record. */
async function bothReads(dir: string, query: PredictionQuery, fields = FIELDS) {
  const store = createLocalPredictionStore({ dir });
  const fast = await store.readPredictionColumns!(query, fields, { requestIds: true });
  const slow = await columnsOfRecords(store.readPredictions(query), fields, { requestIds: true });
  await store.close();
  return { fast, slow };
}

function assertSameColumns(fast: PredictionColumns, slow: PredictionColumns) {
  assert.equal(fast.n, slow.n);
  assert.deepEqual([...fast.time], [...slow.time]);
  assert.deepEqual([...fast.probability], [...slow.probability]);
  assert.deepEqual(fast.requestIds, slow.requestIds);
  for (const [name, col] of slow.columns) {
    const other = fast.columns.get(name)!;
    for (let i = 0; i < slow.n; i++)
      assert.ok(Object.is(other[i], col[i]), `${name}[${i}]: ${other[i]} vs ${col[i]}`);
  }
  assert.deepEqual(fast.invalid, slow.invalid);
}

test('columnar scan of segments gives exactly what JSON.parse of each line gives, odd lines included', async () => {
  const dir = await freshDir();
  const line = (o: Record<string, unknown>) => JSON.stringify(o);
  const base = {
    model_name: 'm',
    model_version: '1',
    probability: 0.25,
    label: 0,
    fallback: false,
    route: '/predict',
  };
  const lines = [
    line({
      request_id: 'r1',
      time: '2026-01-01T00:00:00.001Z',
      ...base,
      inputs: { a: 1.5, b: -0, c: 'x', é: 'ü' },
    }),
    // another key order, whitespace and a raw body as the fast lane writes it
    `{ "inputs" : {"b": 1e3 , "a":-2.5E-3,"c":"y\\"q","é":"\\u00e9"} , "time":"2026-01-01T00:00:01.5Z","request_id":"r\\n2","model_name":"m","model_version":"1","probability":1,"label":1}`,
    // numbers JSON.parse must decide: 17 digits, huge, tiny, exponents; a string number, a bad value, booleans
    line({
      request_id: 'r3',
      time: '2026-01-01T00:00:02.000Z',
      ...base,
      inputs: { a: 0.0026488029460613035, b: 1.7976931348623157e308, c: 12, é: true },
    }),
    line({
      request_id: 'r4',
      time: '2026-01-01T00:00:02.000Z',
      ...base,
      inputs: { a: 5e-324, b: '42', c: null, é: 'nope' },
    }),
    line({
      request_id: 'r5',
      time: '2026-01-01T00:00:03.000Z',
      ...base,
      inputs: { a: 'bad', c: { nested: [1, 2] }, extra: [1, { x: '}' }] },
    }),
    '{"request_id":"r6","time":"2026-01-01T00:00:04.000Z","model_name":"m","model_version":"1","inputs":{"a":1,"a":2,"b":3},"probability":0.5}',
    // other models / versions, a null version, a line without inputs, a non-ISO time
    line({
      request_id: 'r7',
      time: '2026-01-01T00:00:05.000Z',
      ...base,
      model_name: 'other',
      inputs: { a: 1 },
    }),
    line({
      request_id: 'r8',
      time: '2026-01-01T00:00:05.000Z',
      ...base,
      model_version: null,
      inputs: { a: 1 },
    }),
    line({
      request_id: 'r9',
      time: '2026-01-01T00:00:06.000Z',
      ...base,
      model_version: '2',
      inputs: { a: 2 },
    }),
    line({ request_id: 'r10', time: 'Thu, 01 Jan 2026 00:00:07 GMT', ...base, inputs: { b: 7 } }),
    line({
      request_id: 'r11',
      time: '2026-01-01T00:00:08.000Z',
      ...base,
      probability: null,
      inputs: { a: 9, b: 9 },
    }),
    '{"request_id":"r12","time":"2026-01-01T00:00:09.000Z","model_name":"m","model_version":"1","inputs":{"a":01}}',
    '',
    line({
      request_id: 'r13',
      time: '2026-01-01T00:00:10.000Z',
      ...base,
      inputs: { a: 123456789012345680000, b: -1.0000000000000002 },
    }),
    // a torn last line (a crash mid-write)
    '{"request_id":"r14","time":"2026-01-01T00:00:11.000Z","model_name":"m","model_version":"1","inputs":{"a":1',
  ];
  await writeSegment(dir, lines.join('\n'));
  for (const query of [
    { modelName: 'm' },
    { modelName: 'm', modelVersion: '1' },
    { modelName: 'm', modelVersion: null },
    {
      modelName: 'm',
      since: Date.parse('2026-01-01T00:00:01.000Z'),
      until: Date.parse('2026-01-01T00:00:05.000Z'),
    },
    { modelName: 'other' },
  ]) {
    const { fast, slow } = await bothReads(dir, query);
    assertSameColumns(fast, slow);
  }
  const { fast } = await bothReads(dir, { modelName: 'm', modelVersion: '1' });
  assert.deepEqual(fast.requestIds, ['r1', 'r\n2', 'r3', 'r4', 'r5', 'r6', 'r10', 'r11', 'r13']);
  assert.equal((fast.columns.get('a') as Float64Array)[5], 2, 'a repeated key: the last wins');
  assert.deepEqual(fast.invalid.get('a'), [4], 'r5: "bad"');
  assert.deepEqual(fast.invalid.get('b'), [2, 4], 'r3: out of range; b is not nullable: r5 lacks it');
  assert.ok(Number.isNaN(fast.probability[7]!), 'r11 carries no probability');
  assert.deepEqual(fast.invalid.get('é'), [3]);
});

test('columnar scan: ranges checked inline, keys that move, prefix one another or carry spaces, as JSON.parse reads them', async () => {
  const dir = await freshDir();
  const ranged = (name: string, min: number, max: number, integer: boolean): ColumnField => {
    const check = (v: number) =>
      Number.isFinite(v) && !(v < min) && !(v > max) && (!integer || Number.isInteger(v)) ? v : undefined;
    return {
      name,
      numeric: true,
      nullable: true,
      parse: (v) =>
        v === undefined || v === null ? Number.NaN : typeof v === 'number' ? check(v) : undefined,
      parseNumber: check,
      numberRange: { min, max, integer },
    };
  };
  const fields = [
    ranged('x1', Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, false),
    ranged('x12', -10, 10, false),
    ranged('n', 0, 100, true),
    FIELDS[2]!,
  ];
  const head = (i: number) =>
    `"request_id":"r${i}","time":"2026-01-01T00:00:0${i % 10}.000Z","model_name":"m","model_version":"1"`;
  const lines = [
    `{${head(0)},"inputs":{"x1":-1.5,"x12":10,"n":3,"c":"a"},"probability":0.1}`,
    // the same keys in another order, one of them a prefix of the next; out of range and not integer
    `{${head(1)},"inputs":{"x12":10.5,"x1":-0.0026488029460613035,"n":3.5,"c":"b"},"probability":0.2}`,
    // spaces before a colon and after values, a key missing, an extra key, exponents, -0, many digits
    `{${head(2)},"inputs":{"x1" : 1e-7 ,"x12":-1E1,"zz":[1,{"a":"}"}],"c":"\\u00e9\\"x"},"probability":1e0}`,
    `{${head(3)},"inputs":{"x1":-0,"x12":1.00000000000000000001,"n":100,"c":null},"probability":0}`,
    `{${head(4)},"inputs":{"x1":123456789012345678901234,"x12":-9.999999999999999e0,"n":-1,"c":"a"}}`,
    `{${head(5)},"inputs":{"x1":null,"x12":"3","n":1e2,"c":"a"},"probability":0.5}`,
    `{${head(6)},"inputs":{"x":1,"x1":2,"x12":3,"n":4,"c":"a"},"probability":0.5}`,
    `{${head(7)},"inputs":{"x1":1.7976931348623157e309,"x12":5e-324,"n":0,"c":"a"},"probability":0.5}`,
    `{${head(8)},"inputs":{},"probability":0.5}`,
    // the last line of a segment being written: cut inside a number
    `{${head(9)},"inputs":{"x1":0.12`,
  ];
  await writeSegment(dir, lines.join('\n'));
  const { fast, slow } = await bothReads(dir, { modelName: 'm' }, fields);
  assertSameColumns(fast, slow);
  assert.equal(fast.n, 9);
  assert.deepEqual(fast.invalid.get('x12'), [1, 5], '10.5 is out of range; "3" is not a number');
  assert.deepEqual(fast.invalid.get('n'), [1, 4], '3.5 is not an integer, -1 is below 0');
  assert.deepEqual(fast.invalid.get('x1'), [7], 'an infinite number');
  assert.equal((fast.columns.get('x1') as Float64Array)[1], -0.0026488029460613035);
  assert.equal((fast.columns.get('c') as Array<string | null>)[2], 'é"x');
});

test('a large columnar read shares its segments with a worker thread: the same columns, spans and sidecars', async () => {
  const dir = await freshDir();
  const writer = createLocalPredictionStore({ dir, maxSegmentBytes: 2000 });
  const t0 = Date.UTC(2026, 0, 1);
  for (let b = 0; b < 6; b++)
    await writer.appendPredictions(
      Array.from({ length: 15 }, (_, k) => {
        const i = 15 * b + k;
        return {
          request_id: `r${i}`,
          time: t0 + 1000 * i,
          model_name: i % 7 === 0 ? 'other' : 'm',
          model_version: '1',
          inputs: {
            a: i % 5 === 0 ? null : i / 7 - 3,
            n: i % 9 === 0 ? 2.5 : i % 101,
            c: ['x', 'y', null][i % 3],
          },
          inputs_json: null,
          probability: i / 90,
          label: 0 as const,
          fallback: false,
          route: '/predict',
        };
      }),
    );
  await writer.close();
  const fields = scanTestFields({ nullableN: false });
  const fieldsRecipe: { module: string; exportName: string; args: unknown } = {
    module: new URL('./scan-fields.test-helper.ts', import.meta.url).href,
    exportName: 'scanTestFields',
    args: { nullableN: false },
  };
  const read = async (parallelScanBytes: number, recipe = fieldsRecipe) => {
    const store = createLocalPredictionStore({ dir, parallelScanBytes });
    const cols = await store.readPredictionColumns!({ modelName: 'm' }, fields, {
      requestIds: true,
      fieldsRecipe: recipe,
    });
    await store.close();
    return cols;
  };
  const { readdir } = await import('node:fs/promises');
  const segmentDir = join(dir, 'predictions');
  assert.ok((await readdir(segmentDir)).filter((f) => f.endsWith('.jsonl')).length >= 4);
  const alone = await read(Number.POSITIVE_INFINITY);
  for (const f of await readdir(segmentDir)) if (f.endsWith('.span')) await rm(join(segmentDir, f));
  const shared = await read(1);
  assertSameColumns(shared, alone);
  assert.equal(shared.n, 90 - 13);
  assert.ok(shared.invalid.get('n')!.length > 0, 'a non-integer n is invalid, and n is not nullable');
  // the worker's segments got their sidecars too
  const sidecars = (await readdir(segmentDir)).filter((f) => f.endsWith('.span'));
  assert.equal(sidecars.length, (await readdir(segmentDir)).filter((f) => f.endsWith('.jsonl')).length);
  // the worker read the older rows: with a recipe that upper-cases text, they alone are upper-cased
  const marked = await read(1, { ...fieldsRecipe, args: { nullableN: false, upper: true } });
  const c = marked.columns.get('c') as Array<string | null>;
  const upper = c.map((v) => v !== null && v === v.toUpperCase());
  const k = upper.lastIndexOf(true) + 1;
  assert.ok(k > 0 && k < marked.n, `${k} of ${marked.n} rows read by the worker`);
  assert.ok(
    upper.slice(k).every((u) => !u) && c.slice(0, k).every((v) => v === null || v === v.toUpperCase()),
  );
  // a recipe the worker cannot follow: this thread scans those segments itself
  const fallback = await read(1, { ...fieldsRecipe, exportName: 'nothingHere' });
  assertSameColumns(fallback, alone);
});

test('columnar scan: fraction digits read four at a time stop at any non-digit, exactly as JSON.parse', async () => {
  const dir = await freshDir();
  const texts = [
    '0.1234',
    '0.12345',
    '1.2345e+21',
    '0.1234e5',
    '0.1234E-5',
    '-0.000123456789012',
    '123.4567',
    '9.9999',
    '0.12345678901234567890123',
    '1.23456789012345678',
    '0.00000000000000000000012345678',
    '12345678.123456789',
    '0.1:23',
    '0.123/4',
    '4.5',
  ];
  const lines = texts.map(
    (t, i) =>
      `{"request_id":"r${i}","time":"2026-01-01T00:00:00.000Z","model_name":"m","inputs":{"a":${t}},"probability":${t}}`,
  );
  // the last line ends inside the fraction (a segment being written)
  lines.push('{"request_id":"cut","time":"2026-01-01T00:00:00.000Z","model_name":"m","inputs":{"a":0.1234');
  await writeSegment(dir, lines.join('\n'));
  const { fast, slow } = await bothReads(dir, { modelName: 'm' });
  assertSameColumns(fast, slow);
  assert.equal(fast.n, texts.length - 2, 'two lines are not JSON');
});

/** Writes `content` as the one prediction segment of the log at `dir`. */
async function writeSegment(dir: string, content: string | Uint8Array) {
  const { mkdir } = await import('node:fs/promises');
  const d = join(dir, 'predictions');
  await mkdir(d, { recursive: true });
  await writeFile(join(d, 'predictions-20260101T000000000Z-1-000001.jsonl'), content);
}

test('columnar scan: every double JSON.stringify prints reads back as the same double; lines longer than a chunk', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          fc.double({ noNaN: true, noDefaultInfinity: true }),
          fc.integer(),
          fc.float({ noNaN: true, noDefaultInfinity: true }),
        ),
        {
          minLength: 1,
          maxLength: 50,
        },
      ),
      async (xs) => {
        const text = xs
          .map((a, i) =>
            JSON.stringify({
              request_id: `r${i}`,
              time: '2026-01-01T00:00:00.000Z',
              model_name: 'm',
              inputs: { a, pad: 'x'.repeat(i * 7) },
              probability: a,
            }),
          )
          .join('\n');
        const dir = await freshDir();
        const file = join(dir, 'p.jsonl');
        await writeFile(file, `${text}\n`);
        const builder = new ColumnsBuilder(FIELDS.slice(0, 1));
        await scanSegments([file], { modelName: 'm' }, builder, 64);
        const cols = builder.finish();
        assert.equal(cols.n, xs.length);
        const back = JSON.parse(`[${xs.map((x) => JSON.stringify(x)).join(',')}]`) as number[];
        for (let i = 0; i < xs.length; i++) {
          assert.ok(Object.is(cols.columns.get('a')![i], back[i]), `${xs[i]}`);
          assert.ok(Object.is(cols.probability[i], back[i]));
        }
      },
    ),
    { numRuns: 60 },
  );
});

test('a time-bounded columnar read skips segments known to lie outside the bounds, rescans any that changed', async () => {
  const dir = await freshDir();
  const store = createLocalPredictionStore({ dir, maxSegmentBytes: 1 });
  const row = (id: string, time: number) => ({
    request_id: id,
    time,
    model_name: 'm',
    model_version: '1',
    inputs: { a: 1, b: 2 },
    inputs_json: null,
    probability: 0.5,
    label: 1 as const,
    fallback: false,
    route: '/predict',
  });
  const t0 = Date.UTC(2026, 0, 1);
  await store.appendPredictions([row('old', t0)]);
  await store.appendPredictions([row('new', t0 + 60_000)]);
  const ids = async (s: ReturnType<typeof createLocalPredictionStore>, since?: number) =>
    (
      await s.readPredictionColumns!({ modelName: 'm', ...(since ? { since } : {}) }, FIELDS, {
        requestIds: true,
      })
    ).requestIds;
  // the old segment gets a whole-second modification time, so it can be set back exactly below
  const { readdir, readFile, utimes } = await import('node:fs/promises');
  const oldFile = join(dir, 'predictions', (await readdir(join(dir, 'predictions'))).sort()[0]!);
  await utimes(oldFile, 1_700_000_000, 1_700_000_000);
  assert.deepEqual(await ids(store), ['old', 'new']);
  // the old segment now says it was served later, same size and modification time: a store trusts what it
  // learnt (in memory, or from the segment's sidecar) and skips it; without the sidecar a new store reads it
  const text = await readFile(oldFile, 'utf8');
  await writeFile(oldFile, text.replace('2026-01-01T00:00:00.000Z', '2026-01-01T00:05:00.000Z'));
  await utimes(oldFile, 1_700_000_000, 1_700_000_000);
  assert.deepEqual(await ids(store, t0 + 30_000), ['new']);
  const restarted = createLocalPredictionStore({ dir });
  assert.deepEqual(await ids(restarted, t0 + 30_000), ['new']);
  await restarted.close();
  const sidecar = join(dirname(oldFile), `.${basename(oldFile)}.span`);
  assert.ok(JSON.parse(await readFile(sidecar, 'utf8')).maxTime === t0);
  await rm(sidecar);
  const fresh = createLocalPredictionStore({ dir });
  assert.deepEqual(await ids(fresh, t0 + 30_000), ['old', 'new']);
  await fresh.close();
  // a segment that grew is scanned again
  await writeFile(
    oldFile,
    `${text}${text.replace('"old"', '"later"').replace('00:00:00.000Z', '00:09:00.000Z')}`,
  );
  assert.deepEqual(await ids(store, t0 + 30_000), ['later', 'new']);
  await store.close();
});

test('columnar scan: a batch line gives a row per record, exactly as JSON.parse of the line expands it, odd lines included', async () => {
  const dir = await freshDir();
  const head = (id: string, second: number, model = 'm') =>
    `"request_id":"${id}","time":"2026-01-01T00:00:0${second}.000Z","model_name":"${model}","model_version":"1"`;
  const tail = ',"fallback":false,"route":"/predict/batch"}';
  const lines = [
    // an old per-row line before and after the batch lines: both kinds in one segment
    `{${head('old', 0)},"inputs":{"a":1,"c":"x"},"probability":0.5,"label":1,"fallback":false,"route":"/predict"}`,
    `{${head('b1', 1)},"probabilities":[0.25,1e-7,0.75],"labels":"001","rows":[{"a":1.5,"b":2,"c":"x"},{"b":-0,"é":"ü"},{"a":"bad","c":{"n":[1]}}]${tail}`,
    // spaces everywhere, a row without its probability (a short list), a row that is not an object
    `{ ${head('b2', 2)} , "probabilities" : [ 0.5 , 1 ] ,"labels":"01", "rows" : [ {"a" : 2} , { } , 3 ] ${tail}`,
    // rows before the keys they need (read by JSON.parse), a probability that is not a number, an empty batch
    `{"rows":[{"a":3},{"a":4}],${head('b3', 3)},"probabilities":[0.1,null],"labels":"00"${tail}`,
    `{${head('b4', 3)},"probabilities":[],"labels":"","rows":[]${tail}`,
    // another model, a line with both inputs and rows, a batch line cut by a crash mid-write
    `{${head('b5', 4, 'other')},"probabilities":[0.5],"labels":"1","rows":[{"a":5}]${tail}`,
    `{${head('b6', 5)},"inputs":{"a":6},"probabilities":[0.5],"labels":"1","rows":[{"a":7}]${tail}`,
    `{${head('b7', 6)},"probabilities":[0.5,0.5],"labels":"11","rows":[{"a":8},{"a":`,
  ];
  await writeSegment(dir, lines.join('\n'));
  for (const query of [
    { modelName: 'm' },
    { modelName: 'm', modelVersion: '1' },
    { modelName: 'm', since: Date.parse('2026-01-01T00:00:02.000Z') },
    { modelName: 'other' },
  ]) {
    const { fast, slow } = await bothReads(dir, query);
    assertSameColumns(fast, slow);
  }
  const { fast } = await bothReads(dir, { modelName: 'm' });
  assert.deepEqual(fast.requestIds, [
    'old',
    'b1/0',
    'b1/1',
    'b1/2',
    'b2/0',
    'b2/1',
    'b2/2',
    'b3/0',
    'b3/1',
    'b6/0',
  ]);
  assert.deepEqual([...fast.probability.subarray(1, 4)], [0.25, 1e-7, 0.75]);
  assert.ok(Number.isNaN(fast.probability[6]!), 'b2/2 has no probability');
  assert.ok(Number.isNaN(fast.probability[8]!), 'b3/1: null is no probability');
  assert.deepEqual(fast.invalid.get('a'), [3], 'b1/2: "bad"');
});

test('columnar scan: batches the encoder wrote read back as the records of their rows (property, with JSON.parse)', async () => {
  const value = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.string({ maxLength: 6 }),
    fc.constantFrom(null, true, 'x'),
  );
  const record = fc.record(
    { a: value, b: value, c: value, é: value, pad: fc.string({ maxLength: 3 }) },
    {
      requiredKeys: [],
    },
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          id: fc.string({ minLength: 1, maxLength: 8 }),
          rows: fc.array(fc.tuple(record, fc.double({ min: 0, max: 1, noNaN: true })), { maxLength: 12 }),
          indent: fc.constantFrom(undefined, 1, '\r\n'),
          keep: fc.nat(12),
        }),
        { minLength: 1, maxLength: 8 },
      ),
      async (batches) => {
        const dir = await freshDir();
        const encoding = createJsonlEncoding();
        const out = createGrowableOutput(64);
        const t0 = Date.UTC(2026, 0, 1);
        const expected: string[] = [];
        batches.forEach((b, n) => {
          const parts = b.rows.map(([r]) => JSON.stringify(r, null, b.indent));
          let text = '[';
          const spans = new Int32Array(2 * parts.length);
          parts.forEach((part, i) => {
            if (i > 0) text += ',';
            spans[2 * i] = text.length;
            text += part;
            spans[2 * i + 1] = text.length;
          });
          const rows = Math.min(b.keep, b.rows.length);
          encoding.encodeBatch(
            {
              request_id: b.id,
              time: t0 + n,
              model_name: 'm',
              model_version: '1',
              fallback: false,
              route: '/predict/batch',
              text: `${text}]`,
              spans,
              rows: b.rows.map(([, p]) => ({ probability: p, label: p >= 0.5 ? 1 : 0 })),
            },
            rows,
            out,
          );
          for (let i = 0; i < rows; i++) expected.push(`${b.id}/${i}`);
        });
        await writeSegment(dir, out.bytes());
        const { fast, slow } = await bothReads(dir, { modelName: 'm' });
        assertSameColumns(fast, slow);
        assert.deepEqual(fast.requestIds, expected);
      },
    ),
    { numRuns: 40 },
  );
});
