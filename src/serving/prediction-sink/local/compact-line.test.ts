import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { createJsonlPredictionSource } from '../../../monitoring/records.js';
import { columnsOfRecords } from '../columns.js';
import type { PendingPrediction, PredictionQuery, PredictionRecord, RecordFields } from '../port.js';
import { createPredictionSink } from '../sink.js';
import { createLocalPredictionStore } from './local-prediction-store.js';
import { scanTestFields } from './scan-fields.test-helper.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const freshDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'tassel-compact-'));
  dirs.push(d);
  return d;
};

/** The keys a scanner might know (plain printable ASCII without quotes or backslashes), by slot. */
const KEYS = ['a', 'n', 'c', 'pad', 'constructor', 'x y', 'Student_ID'];

/** One field of a body: its key's slot and its value's JSON text (as a client may spell it). */
type Field = { slot: number; text: string };

const valueText = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)),
  fc.integer().map(String),
  fc.constantFrom('-0', '-0.0', '1.50', '1e5', '1E-3', '0.1e+2', '123456789012345678901', '5e-324'),
  fc
    .string({ unit: fc.constantFrom(...' azAZ09-_.%/#~'.split('')), maxLength: 12 })
    .map((s) => JSON.stringify(s)),
  fc.constantFrom('null', 'true', 'false', '"East Anglian Region"', '""'),
);
const ws = fc.constantFrom('', '', ' ', '\n', '\r\n\t ');

/** A body of `fields` with whitespace between tokens, and the RecordFields a scanner reading it would give. */
function bodyOf(fields: Field[], spaces: string[]): { raw: Buffer; fields: RecordFields } {
  let text = `${spaces[0]}{`;
  const f: RecordFields = {
    raw: null,
    count: fields.length,
    slot: new Int32Array(KEYS.length),
    layout: 0,
    start: new Int32Array(KEYS.length),
    end: new Int32Array(KEYS.length),
    keys: KEYS,
  };
  fields.forEach((field, i) => {
    const s = spaces[(i + 1) % spaces.length]!;
    text += `${i > 0 ? `,${s}` : s}"${KEYS[field.slot]}"${s}:${s}`;
    f.slot[i] = field.slot;
    f.start[i] = text.length; // ASCII: chars are bytes
    text += field.text;
    f.end[i] = text.length;
  });
  text += `${spaces[1 % spaces.length]}}${spaces[2 % spaces.length]}`;
  const raw = Buffer.from(text);
  f.raw = raw;
  return { raw, fields: f };
}

const prediction = fc.record({
  fields: fc.uniqueArray(fc.record({ slot: fc.nat(KEYS.length - 1), text: valueText }), {
    selector: (f) => f.slot,
    maxLength: KEYS.length,
  }),
  spaces: fc.array(ws, { minLength: 3, maxLength: 3 }),
  id: fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 10 }), fc.constantFrom('ünï"\\\n', 'a/b')),
  dt: fc.nat(5000),
  probability: fc.double({ min: 0, max: 1, noNaN: true }),
  model: fc.constantFrom('m', 'm', 'other'),
  version: fc.constantFrom('1', '1', null),
  fallback: fc.boolean(),
  flushAfter: fc.boolean(),
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Logs the predictions through a sink on a fresh local store (compact rows when `compact`), flushing as told. */
async function logAll(
  items: Array<{ pending: PendingPrediction; flushAfter: boolean }>,
  compact: boolean,
  maxSegmentBytes?: number,
) {
  const dir = await freshDir();
  const sink = createPredictionSink({
    store: createLocalPredictionStore({ dir, maxSegmentBytes }),
    flushIntervalMs: 60_000,
  });
  for (const { pending, flushAfter } of items) {
    sink.record({ ...pending, inputs_fields: compact ? pending.inputs_fields : null });
    if (flushAfter) await sink.flush();
  }
  await sink.close();
  return dir;
}

/** Every read of a folder: records, columns (scanned, and from the records), the monitor's JSONL source. */
async function reads(dir: string, query: PredictionQuery) {
  const store = createLocalPredictionStore({ dir });
  const fields = scanTestFields({ nullableN: true });
  const records = await collect(store.readPredictions(query));
  const columns = await store.readPredictionColumns!(query, fields, { requestIds: true });
  const fromRecords = await columnsOfRecords(store.readPredictions(query), fields, { requestIds: true });
  const lookup = await store.findPredictions({
    requestIds: records.slice(0, 3).map((r) => r.request_id),
    entity: { field: 'Student_ID', ids: records.map((r) => String(r.inputs.Student_ID)) },
  });
  await store.close();
  const version = query.modelVersion;
  const monitored = await collect(
    createJsonlPredictionSource({ log: join(dir, 'predictions') }).predictions({
      model_name: query.modelName,
      ...(typeof version === 'string' ? { model_version: version } : {}),
      ...(query.since !== undefined ? { since: query.since as number } : {}),
      ...(query.until !== undefined ? { until: query.until as number } : {}),
    }),
  );
  const monitor = monitored.filter((r) => version !== null || r.model_version === null);
  return { records, columns, fromRecords, lookup, monitor };
}

/** Columns equal value for value (Object.is: -0 and NaN as they are). */
function assertSameColumns(a: Awaited<ReturnType<typeof reads>>['columns'], b: typeof a) {
  assert.equal(a.n, b.n);
  assert.deepEqual([...a.time], [...b.time]);
  assert.deepEqual([...a.probability], [...b.probability]);
  assert.deepEqual(a.requestIds, b.requestIds);
  for (const [name, col] of b.columns) {
    const other = a.columns.get(name)!;
    for (let i = 0; i < b.n; i++)
      assert.ok(Object.is(other[i], col[i]), `${name}[${i}]: ${other[i]} vs ${col[i]}`);
  }
  assert.deepEqual(a.invalid, b.invalid);
}

/** Records equal, inputs with their keys in the same order. */
function assertSameRecords(
  a: readonly Pick<PredictionRecord, 'inputs'>[],
  b: readonly Pick<PredictionRecord, 'inputs'>[],
) {
  assert.deepStrictEqual(a, b);
  a.forEach((r, i) => {
    assert.deepEqual(Object.keys(r.inputs), Object.keys(b[i]!.inputs));
  });
}

test('compact rows read back as the record lines of the same predictions, in every reader (property)', async () => {
  const t0 = Date.UTC(2026, 11, 6, 9, 0, 0, 0);
  await fc.assert(
    fc.asyncProperty(
      fc.array(prediction, { minLength: 1, maxLength: 25 }),
      fc.constantFrom(undefined, 400),
      async (drawn, maxSegmentBytes) => {
        let time = t0;
        const items = drawn.map((d) => {
          const { raw, fields } = bodyOf(d.fields, d.spaces);
          time += d.dt;
          const pending: PendingPrediction = {
            request_id: d.id,
            time,
            model_name: d.model,
            model_version: d.version,
            inputs: null,
            inputs_json: raw,
            probability: d.probability,
            label: d.probability >= 0.5 ? 1 : 0,
            fallback: d.fallback,
            route: '/predict',
            inputs_fields: fields,
          };
          return { pending, flushAfter: d.flushAfter };
        });
        const compact = await logAll(items, true, maxSegmentBytes);
        const full = await logAll(items, false);
        for (const query of [
          { modelName: 'm' },
          { modelName: 'm', modelVersion: null },
          { modelName: 'other', modelVersion: '1' },
          { modelName: 'm', since: t0 + 3000, until: t0 + 40_000 },
        ]) {
          const got = await reads(compact, query);
          const want = await reads(full, query);
          assertSameRecords(got.records, want.records);
          assertSameColumns(got.columns, want.columns);
          assertSameColumns(got.columns, got.fromRecords);
          assert.deepEqual(got.lookup, want.lookup);
          assertSameRecords(got.monitor, want.monitor);
        }
        // the records are the bodies' JSON.parse, and the rows compact
        const all = await collect(
          createLocalPredictionStore({ dir: compact }).readPredictions({ modelName: 'm' }),
        );
        const byId = new Map(items.map(({ pending }) => [pending.request_id, pending]));
        for (const r of all) {
          const p = byId.get(r.request_id)!;
          if (p.model_name === 'm') assert.ok(r.inputs !== null);
        }
        const segments = await readdir(join(compact, 'predictions'));
        for (const s of segments.filter((n) => n.endsWith('.jsonl'))) {
          const lines = (await readFile(join(compact, 'predictions', s), 'utf8')).split('\n').filter(Boolean);
          const rows = lines.filter((l) => l.startsWith('['));
          assert.ok(
            rows.length > 0 &&
              rows.length === lines.length - lines.filter((l) => l.startsWith('{"shape"')).length,
          );
          // each segment defines the shapes its rows use before them
          const defined = new Set<number>();
          for (const l of lines) {
            if (l.startsWith('{"shape"')) defined.add(JSON.parse(l).shape.id);
            else assert.ok(defined.has(JSON.parse(l)[0]), `${s}: row before its shape`);
          }
        }
      },
    ),
    { numRuns: 30 },
  );
});

test('compact rows: a row is JSON.parse of its body, keys in the order sent; unicode ids, -0, big numbers', async () => {
  const fields: Field[] = [
    { slot: 6, text: '"S-1"' },
    { slot: 0, text: '-0' },
    { slot: 1, text: '123456789012345678901' },
    { slot: 2, text: 'null' },
    { slot: 4, text: '"x"' },
  ];
  const { raw, fields: f } = bodyOf(fields, [' ', '\r\n', '']);
  const time = Date.UTC(2026, 11, 6, 9, 30, 1, 7);
  const dir = await logAll(
    [
      {
        pending: {
          request_id: 'ïd "1"\\',
          time,
          model_name: 'm',
          model_version: null,
          inputs: null,
          inputs_json: raw,
          probability: 0.1 + 0.2,
          label: 0,
          fallback: true,
          route: '/predict',
          inputs_fields: f,
        },
        flushAfter: false,
      },
    ],
    true,
  );
  const [r] = await collect(createLocalPredictionStore({ dir }).readPredictions({ modelName: 'm' }));
  const parsed = JSON.parse(raw.toString());
  assert.deepStrictEqual(r, {
    request_id: 'ïd "1"\\',
    time: new Date(time).toISOString(),
    model_name: 'm',
    model_version: null,
    inputs: parsed,
    probability: 0.1 + 0.2,
    label: 0,
    fallback: true,
    route: '/predict',
  });
  assert.deepEqual(Object.keys(r!.inputs), ['Student_ID', 'a', 'n', 'c', 'constructor']);
  assert.ok(Object.is(r!.inputs.a, -0));
  assert.ok(Object.hasOwn(r!.inputs, 'constructor'));
  const [segment] = await readdir(join(dir, 'predictions'));
  const text = await readFile(join(dir, 'predictions', segment!), 'utf8');
  assert.equal(
    text.split('\n')[1],
    `[1,${JSON.stringify('ïd "1"\\')},${time},${0.1 + 0.2},0,"S-1",-0,123456789012345678901,null,"x"]`,
  );
});

test('compact rows: unknown shapes, wrong arity, torn rows, other models, bad times are skipped alike by every reader', async () => {
  const dir = await freshDir();
  await mkdir(join(dir, 'predictions'));
  const shape = (id: number, model: string, keys: string[]) =>
    JSON.stringify({
      shape: { id, model_name: model, model_version: '1', route: '/predict', fallback: false, keys },
    });
  const t = Date.UTC(2026, 0, 1);
  const lines = [
    `[1,"before its shape",${t},0.5,1,2]`,
    shape(1, 'm', ['a']),
    shape(2, 'other', ['a']),
    '{"shape":{"id":3,"model_name":"m"}}', // malformed: no shape
    `[1,"ok",${t},0.5,1,2]`,
    `[ 1 , "spaced" , ${t + 1} , 0.25 , 0 , 3 ]`,
    `[1,"short",${t},0.5,1]`,
    `[1,"long",${t},0.5,1,2,3]`,
    `[2,"other model",${t},0.5,1,2]`,
    `[3,"malformed shape",${t},0.5,1,2]`,
    `[1,"fractional ms",${t + 0.5},0.5,1,2]`,
    `[1,7,${t},0.5,1,2]`,
    `[1,"no probability",${t + 2},null,1,"x"]`,
    `[1,"torn",${t},0.5,1,`,
    `{"request_id":"record line","time":"2026-01-01T00:00:00.003Z","model_name":"m","model_version":"1","inputs":{"a":9},"probability":0.5,"label":1,"fallback":false,"route":"/predict"}`,
    shape(1, 'm', ['n', 'a']), // redefined: later rows use the new keys
    `[1,"redefined",${t + 4},0.5,1,5,6]`,
  ];
  await writeFile(
    join(dir, 'predictions', 'predictions-20260101T000000000Z-1-000001.jsonl'),
    lines.join('\n'),
  );
  const got = await reads(dir, { modelName: 'm' });
  assert.deepEqual(
    got.records.map((r) => r.request_id),
    ['ok', 'spaced', 'no probability', 'record line', 'redefined'],
  );
  assert.deepEqual(got.records.at(-1)!.inputs, { n: 5, a: 6 });
  assertSameColumns(got.columns, got.fromRecords);
  assertSameRecords(got.monitor, got.records);
  assert.ok(Number.isNaN(got.columns.probability[2]!));
});
