import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { type ColumnSpec, type DatasetSchema, isRequiredInput } from '../data/schema.js';
import type { RawRecord } from '../data/table.js';
import { compileRecordEncoder } from '../features/compiled-encoder.js';
import type { FittedTransform } from '../features/transform.js';
import { createServingApp } from './app.js';
import { isScalarRecord } from './fast-lane.js';
import { createModelHolder } from './model-holder.js';
import { createGrowableOutput, createJsonlEncoding } from './prediction-sink/local/jsonl-encoder.js';
import type { PendingPrediction, RecordFields } from './prediction-sink/port.js';
import { compileRecordScanner, type RecordScanner } from './record-scanner.js';
import { createRecordValidator, type RecordValidator } from './record-validator.js';
import type { ServedModel } from './served-model.js';
import { postOverSocket, trainTestModel } from './testing.js';

// The scanner reads a /predict body straight from its bytes into the feature row. For any body it must either
// decline (leaving the row alone) or write exactly the row the usual path writes: JSON.parse, the lane's
// scalar-record check, the record validator accepting, then the record encoder.

type Entry = [key: string, value: string];

const WS = ['', '', '', ' ', '\n', '\t', '\r\n', '  '];

/** Renders entries as a JSON object with the given whitespace between tokens (k-th gap takes ws[k % n]). */
function render(entries: readonly Entry[], ws: readonly string[]): string {
  let k = 0;
  const gap = () => ws[k++ % ws.length]!;
  const parts = entries.map(([key, value]) => `${gap()}${key}${gap()}:${gap()}${value}${gap()}`);
  return `${gap()}{${parts.join(',')}}${gap()}`;
}

/** Spellings of a number: JSON's own and other valid ones (exponents, trailing zeros, -0), as text. */
function numberText(x: fc.Arbitrary<number>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: x.map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: x.map((v) => v.toExponential()) },
    { weight: 1, arbitrary: x.map((v) => v.toExponential().toUpperCase()) },
    { weight: 1, arbitrary: x.map((v) => `${JSON.stringify(v)}${Number.isInteger(v) ? '.0' : '0'}`) },
    { weight: 1, arbitrary: x.map((v) => v.toPrecision(21)) },
  );
}

const edgeNumbers = fc.constantFrom(
  '-0',
  '0',
  '-0.0',
  '1e-7',
  '1E+2',
  '1e2',
  '0.1',
  '2.5',
  '12345678901234567890',
  '9007199254740993',
  '0.30000000000000004',
  '69.66666666666667',
  '1.00000000000000000000000001',
  '123.456e-300',
  '1e308',
  '1e999',
  '-1e-400',
  '5e-324',
  '0e0',
  '1e0000000000000000000002',
);
const badNumbers = fc.constantFrom(
  '01',
  '1.',
  '.5',
  '+1',
  '1e',
  '-',
  '--1',
  '1e+',
  'NaN',
  'Infinity',
  '0x10',
  '1_0',
);

/** The value texts a column gets: mostly valid for it, sometimes edge, wrong or malformed. */
function valueText(spec: ColumnSpec, transform: FittedTransform): fc.Arbitrary<string> {
  const fitted = transform.columns.find((c) => c.name === spec.name);
  const known =
    fitted && fitted.kind === 'categorical' && fitted.encoding === 'onehot' ? fitted.categories : [];
  const strings = fc.oneof(
    fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s)),
    fc.constantFrom(
      '""',
      '" "',
      '"Yes"',
      '"no"',
      '" yes "',
      '"maybe"',
      '"12"',
      '"\\u0041"',
      '"a\\"b"',
      '"é"',
    ),
  );
  const odd = fc.oneof(
    fc.constantFrom('null', 'true', 'false', '{}', '[1]', '{"a":1}', 'nul', 'tru', 'True', 'undefined'),
    edgeNumbers,
    badNumbers,
    strings,
  );
  let usual: fc.Arbitrary<string>;
  switch (spec.type) {
    case 'numeric':
      usual = numberText(fc.double({ min: spec.min ?? -1e6, max: spec.max ?? 1e6, noNaN: true }));
      break;
    case 'integer':
      usual = numberText(fc.integer({ min: Math.ceil(spec.min ?? -1e6), max: Math.floor(spec.max ?? 1e6) }));
      break;
    case 'boolean':
      usual = fc.constantFrom('true', 'false', '0', '1', '"Yes"', '"No"', '"yes"', '" NO "', '""');
      break;
    default: {
      const values = [...(spec.allowed ?? []), ...known];
      usual =
        values.length > 0
          ? fc.oneof(
              { weight: 20, arbitrary: fc.constantFrom(...values).map((v) => JSON.stringify(v)) },
              { weight: 1, arbitrary: fc.constant('"unseen"') },
            )
          : strings;
    }
  }
  // rare enough that about half the bodies have no odd value in any of their ~40 fields
  return fc.oneof(
    { weight: 120, arbitrary: usual },
    { weight: 1, arbitrary: fc.constant('null') },
    { weight: 1, arbitrary: odd },
  );
}

/** Escaped or unusual spellings of a key (each one JSON.parse reads as a string; most are not schema names). */
const keyVariants = (name: string) =>
  fc.constantFrom(
    `"\\u${name.charCodeAt(0).toString(16).padStart(4, '0')}${name.slice(1)}"`,
    `"${name.toLowerCase()}"`,
    `"${name} "`,
    '"__proto__"',
    '"\\u005f_proto__"',
    '"__proto\\u005f_"',
    '"features"',
    '"constructor"',
    '"unknown"',
    '""',
  );

/** Bodies around valid records of `schema`: reordered, thinned, repeated keys, odd keys, odd whitespace, damaged. */
function bodies(schema: DatasetSchema, transform: FittedTransform): fc.Arbitrary<string> {
  const columns = schema.columns.filter((c) => c.role !== 'target');
  const entries = fc
    .tuple(...columns.map((c) => valueText(c, transform)))
    .map((values) => values.map((v, j): Entry => [JSON.stringify(columns[j]!.name), v]));
  const edited = fc
    .tuple(
      entries,
      fc.array(fc.nat(), { maxLength: 3 }),
      fc.nat({ max: 9 }),
      fc.nat(),
      fc.constantFrom(...columns.map((c) => c.name)).chain(keyVariants),
      fc.shuffledSubarray(WS, { minLength: 1 }),
    )
    .map(([list, drops, edit, at, key, ws]) => {
      let out = [...list];
      for (const d of drops) if (edit < 4) out.splice(d % Math.max(1, out.length), 1);
      const i = at % Math.max(1, out.length);
      if (edit === 4 && out.length > 0) out.push([out[i]![0], out[(i + 1) % out.length]![1]]);
      if (edit === 5) out.splice(i, 0, [key, '1']);
      if (edit === 6) out = out.reverse();
      if (edit === 7 && out.length > 1) out = [...out.slice(i), ...out.slice(0, i)];
      return render(out, edit === 8 ? ws : ['']);
    });
  return fc.oneof(
    { weight: 10, arbitrary: edited },
    {
      weight: 2,
      arbitrary: fc.tuple(edited, fc.nat()).map(([text, cut]) => text.slice(0, cut % (text.length + 1))),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          edited,
          fc.constantFrom('\uFEFF', '\u00a0', '\f', '\v', 'x', ',', '[', '{}', '\u0000'),
          fc.boolean(),
        )
        .map(([text, extra, front]) => (front ? extra + text : text + extra)),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null') },
  );
}

// the served schema (every feature required but three) and the same with every feature optional, where absent,
// null and empty values reach the encoder's missing-value paths
for (const relaxed of [false, true]) {
  describe(`the record scanner writes the row the usual path writes, or declines${relaxed ? ' (optional fields)' : ''}`, () => {
    let served: ServedModel;
    let validator: RecordValidator;
    let transform: FittedTransform;
    let schema: DatasetSchema;
    let records: RawRecord[];
    let scanner: RecordScanner;
    let reference: (text: string) => Float64Array | null;

    before(async () => {
      // the date column is left out: models with date or hashed columns get no scanner
      const trained = await trainTestModel({ rows: 400, trees: 10, dropColumns: ['Enrollment_Date'] });
      served = trained.served();
      transform = trained.transform;
      schema = relaxed
        ? { ...served.schema!, columns: served.schema!.columns.map((c) => ({ ...c, nullable: true })) }
        : served.schema!;
      validator = createRecordValidator(schema);
      records = trained.records;
      scanner = compileRecordScanner(schema, transform.columns)!;
      const encoder = compileRecordEncoder(transform);
      const row = new Float64Array(transform.width);
      reference = (text) => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          return null;
        }
        if (!isScalarRecord(body) || validator.check(body) !== null) return null;
        encoder.encode(body, row);
        return row;
      };
    });

    const stats = { total: 0, valid: 0 };
    /** Scans `text`; asserts agreement with the reference; true when the scanner took it. */
    const agree = (text: string): boolean => {
      const out = new Float64Array(transform.width).fill(-7);
      const took = scanner.scan(Buffer.from(text), out);
      const expected = reference(text);
      stats.total++;
      if (expected !== null) stats.valid++;
      if (!took) {
        assert.ok(
          out.every((v) => v === -7),
          `declined but wrote the row: ${text}`,
        );
        return false;
      }
      assert.ok(expected !== null, `scanned a body the usual path refuses: ${text}`);
      for (let j = 0; j < out.length; j++) {
        assert.ok(Object.is(out[j], expected[j]), `output ${j}: ${out[j]} != ${expected[j]} for ${text}`);
      }
      return true;
    };

    test('every valid record as a client sends it is scanned, to the same row', () => {
      for (const r of records) assert.ok(agree(JSON.stringify(r)), JSON.stringify(r));
      assert.ok(records.length >= 100);
    });

    test('edge spellings the scanner takes give the same row', () => {
      const base = records.find((r) => validator.check(r) === null)!;
      const text = JSON.stringify(base);
      const numeric = schema.columns.find(
        (c) => c.type === 'numeric' && !isRequiredInput(c) && c.min === 0 && (c.max ?? 1e9) >= 100,
      )!;
      const optionalCity = relaxed ? [{ City: '' }, { City: null }, { City: undefined }] : [];
      const taken = [
        text.replace(/^\{/, ' \r\n\t{ ').replace(/,/g, ' ,\n ').replace(/:/g, ' : '),
        JSON.stringify(Object.fromEntries(Object.entries(base).reverse())),
        ...[
          '-0',
          '0',
          '1e-7',
          '1E+2',
          '1e0',
          '0.30000000000000004',
          '12.345000000000000000001',
          '5e-324',
        ].map((n) =>
          JSON.stringify({ ...base, [numeric.name]: 0 }).replace(
            `"${numeric.name}":0`,
            `"${numeric.name}":${n}`,
          ),
        ),
        JSON.stringify({ ...base, [numeric.name]: null }),
        JSON.stringify({ ...base, City: 'never seen in training' }),
        ...optionalCity.map((c) => JSON.stringify({ ...base, ...c })),
        JSON.stringify({ ...base, Fee_Paid: ' yes ' }),
        JSON.stringify({ ...base, Fee_Paid: 1 }),
        JSON.stringify({ ...base, Student_ID: 12, Name: null }),
      ];
      for (const t of taken) assert.ok(agree(t), `not scanned: ${t}`);
      const declined = [
        text.replace('{', '\uFEFF{'),
        text.replace(
          `"${numeric.name}"`,
          `"\\u${numeric.name.charCodeAt(0).toString(16).padStart(4, '0')}${numeric.name.slice(1)}"`,
        ),
        text.replace('}', ',"__proto__":1}'),
        text.replace('}', ',"__proto__":{"x":1}}'),
        text.replace('}', ',"\\u005f_proto__":1}'),
        text.replace('}', ',"features":[1]}'),
        text.replace('}', ',"unknown":1}'),
        text.replace('}', `,"${numeric.name}":1}`),
        text.replace(`"${numeric.name}":`, `"${numeric.name}":1e999,"x":`),
        text.slice(0, -1),
        `${text}x`,
        `[${text}]`,
        text.replace('{', '{\f'),
        JSON.stringify({ ...base, City: 'Zürich' }),
        JSON.stringify({ ...base, City: 'a"b' }),
      ];
      for (const t of declined) assert.ok(!agree(t), `scanned: ${t}`);
    });

    test('generated bodies: declined, or exactly the usual row', () => {
      let taken = 0;
      let total = 0;
      fc.assert(
        fc.property(bodies(schema, transform), (text) => {
          total++;
          if (agree(text)) taken++;
        }),
        { numRuns: 4000, seed: 2020 },
      );
      // the property is not vacuous: a fair share of the bodies took the scanner
      assert.ok(taken > total / 20, `${taken} of ${total} scanned (${stats.valid} valid)`);
    });

    test('the log writes a record the scanner read the same through its reused fields as through a copy of them', () => {
      // the encoder skips comparing the keys' order when the scanner's layout says it is the last one's; a copy
      // (a fresh object and key list each time) is always matched by the keys' names
      const copyOf = (f: RecordFields): RecordFields => ({
        ...f,
        slot: f.slot.slice(),
        start: f.start.slice(),
        end: f.end.slice(),
        keys: [...f.keys],
      });
      const sequences = fc.array(
        fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom(...records.slice(0, 20)).map((r) => JSON.stringify(r)) },
          { weight: 3, arbitrary: bodies(schema, transform) },
        ),
        { minLength: 1, maxLength: 40 },
      );
      let logged = 0;
      fc.assert(
        fc.property(
          sequences,
          fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
          (texts, fallback) => {
            const live = createJsonlEncoding();
            const copied = createJsonlEncoding();
            const a = createGrowableOutput(1024);
            const b = createGrowableOutput(1024);
            const out = new Float64Array(transform.width);
            texts.forEach((text, i) => {
              const raw = Buffer.from(text);
              if (!scanner.scan(raw, out)) return;
              const p: PendingPrediction = {
                request_id: `r${i}`,
                time: 1_700_000_000_000 + i,
                model_name: 'm',
                model_version: '1',
                inputs: null,
                inputs_json: raw,
                probability: i / 40,
                label: i % 2 === 0 ? 0 : 1,
                fallback: fallback[i]!,
                route: '/predict',
                inputs_fields: scanner.fields,
              };
              live.encode(p, a);
              copied.encode({ ...p, inputs_fields: copyOf(scanner.fields) }, b);
              logged++;
            });
            assert.equal(a.bytes().toString(), b.bytes().toString());
            assert.deepEqual(live.shapeLines().map(String), copied.shapeLines().map(String));
          },
        ),
        { numRuns: 300, seed: 7 },
      );
      assert.ok(logged > 1000, `${logged} records logged`);
    });

    test('a model with date columns, feature steps or no schema gets no scanner', () => {
      assert.equal(compileRecordScanner(null, transform.columns), null);
      const dated = {
        ...schema,
        columns: [...schema.columns, { name: 'When', type: 'date', role: 'feature' } as ColumnSpec],
      };
      const datedColumns = [
        ...transform.columns,
        {
          name: 'When',
          kind: 'date',
          offset: transform.width,
          parts: ['days'],
          impute: [null],
          center: [0],
          scale: [1],
        },
      ] as FittedTransform['columns'];
      assert.equal(compileRecordScanner(dated, datedColumns), null);
      const proto = {
        ...schema,
        columns: [...schema.columns, { name: 'toString', type: 'numeric', role: 'feature' } as ColumnSpec],
      };
      assert.equal(compileRecordScanner(proto, transform.columns), null);
    });
  });
}

interface Answer {
  status: number;
  type: string | undefined;
  body: string;
}

/** POST /predict over a real socket (so the fast lane answers): status, content type and body text. */
async function post(base: string, body: string): Promise<Answer> {
  const { status, headers, text } = await postOverSocket(base, '/predict', body);
  return { status, type: headers['content-type'] as string | undefined, body: text };
}

describe('the fast lane with a scanner answers exactly as the Fastify route', () => {
  let app: FastifyInstance;
  let base: string;
  let scanned = 0;
  let schema: DatasetSchema;
  let transform: FittedTransform;
  let records: RawRecord[];

  before(async () => {
    const trained = await trainTestModel({ rows: 400, trees: 10, dropColumns: ['Enrollment_Date'] });
    const served = trained.served();
    const scoreJson = served.scoreJson!;
    schema = served.schema!;
    transform = trained.transform;
    records = trained.records;
    const counted: ServedModel = {
      ...served,
      scoreJson(raw) {
        const p = scoreJson(raw);
        if (p !== null) scanned++;
        return p;
      },
    };
    app = await createServingApp({ holder: createModelHolder(counted), bodyLimit: 16 * 1024 });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await app?.close();
  });

  const viaRoute = async (body: string): Promise<Answer> => {
    const r = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'content-type': 'application/json' },
      payload: body,
    });
    return { status: r.statusCode, type: r.headers['content-type'] as string | undefined, body: r.body };
  };

  test('same status and bytes for generated bodies; the scanner answers the plain ones', async () => {
    const before = scanned;
    let ok = 0;
    await fc.assert(
      fc.asyncProperty(bodies(schema, transform), async (text) => {
        const lane = await post(base, text);
        const route = await viaRoute(text);
        if (lane.status === 200) ok++;
        assert.deepEqual(lane, route, text);
      }),
      { numRuns: 400, seed: 77 },
    );
    for (const r of records.slice(0, 50)) {
      const text = JSON.stringify(r);
      assert.deepEqual(await post(base, text), await viaRoute(text));
    }
    assert.ok(scanned - before >= 50 + ok / 10, `${scanned - before} scanned, ${ok} answered 200`);
  });

  test('the scanned answers count the same request and prediction metrics as the route', async () => {
    const metric = async (pattern: RegExp) => {
      const m = (await app.inject({ method: 'GET', url: '/metrics' })).body.match(pattern);
      return m ? Number(m[1]) : 0;
    };
    const ok = /tassel_serving_requests_total\{route="\/predict",method="POST",status="200"\} (\d+)/;
    const predictions = async () =>
      (await metric(/tassel_serving_predictions_total\{label="0",fallback="false"\} (\d+)/)) +
      (await metric(/tassel_serving_predictions_total\{label="1",fallback="false"\} (\d+)/));
    const [ok0, p0, s0] = [await metric(ok), await predictions(), scanned];
    for (const r of records.slice(0, 7)) await post(base, JSON.stringify(r));
    assert.equal(scanned - s0, 7);
    assert.equal((await metric(ok)) - ok0, 7);
    assert.equal((await predictions()) - p0, 7);
  });
});
