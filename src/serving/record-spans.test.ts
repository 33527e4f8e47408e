import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { recordSpans, recordsRange } from './record-spans.js';

// Batch rows are logged as their text in the request: every span must parse to exactly the record JSON.parse
// gave, whatever the strings hold (quotes, backslashes, brackets) and however the body is laid out.

const scalar = fc.oneof(
  fc.string(),
  fc.constantFrom('a"b', 'a\\', '\\"', '}{][', '\\\\"x', 'é✓😀', '\n\t'),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
);
const record = fc.dictionary(fc.string({ maxLength: 6 }), scalar, { maxKeys: 6 });
const body = fc.record({
  records: fc.array(record, { maxLength: 8 }),
  wrapped: fc.boolean(),
  indent: fc.constantFrom(undefined, 1, '\t'),
  extra: fc.dictionary(
    fc.string({ maxLength: 4 }).filter((k) => k !== 'records'),
    fc.jsonValue({ maxDepth: 2 }),
    { maxKeys: 2 },
  ),
  extraFirst: fc.boolean(),
});

test('record spans: each span parses to its record, for bare arrays and {"records": [...]} with other keys', () => {
  fc.assert(
    fc.property(body, ({ records, wrapped, indent, extra, extraFirst }) => {
      const value = wrapped ? (extraFirst ? { ...extra, records } : { records, ...extra }) : records;
      const text = JSON.stringify(value, null, indent);
      const parsed = JSON.parse(text);
      const rows = (Array.isArray(parsed) ? parsed : parsed.records) as unknown[];
      const spans = recordSpans(text);
      assert.ok(spans !== null, text);
      assert.equal(spans.length, 2 * rows.length, text);
      assert.deepEqual(recordSpans(text, rows.length), spans, text);
      rows.forEach((row, i) => {
        assert.deepEqual(JSON.parse(text.slice(spans[2 * i]!, spans[2 * i + 1]!)), row);
      });
    }),
    { numRuns: 400, seed: 7 },
  );
});

test('record spans: null for bodies of another shape (the rows are then serialized)', () => {
  assert.equal(recordSpans('{"instances": [{"a": 1}]}'), null);
  assert.equal(recordSpans('[1, 2]'), null);
  assert.equal(recordSpans('{"records": {"a": 1}}'), null);
  assert.equal(recordSpans('"x"'), null);
  // the last "records" key is the one JSON.parse keeps
  const spans = recordSpans('{"records": [{"a": 1}], "records": [{"b": 2}, {"c": 3}]}')!;
  assert.equal(spans.length, 4);
});

test('record spans: records holding nested values (not flat: the slower scan) and enormous records still parse back', () => {
  const nested = fc.array(
    fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
    {
      maxLength: 6,
    },
  );
  fc.assert(
    fc.property(nested, fc.boolean(), (records, wrapped) => {
      const text = JSON.stringify(wrapped ? { records } : records);
      const spans = recordSpans(text)!;
      assert.equal(spans.length, 2 * records.length, text);
      assert.deepEqual(recordSpans(text, records.length), spans, text);
      records.forEach((row, i) => {
        // as text: fast-check's records may have a null prototype, which JSON.parse never gives
        assert.equal(
          JSON.stringify(JSON.parse(text.slice(spans[2 * i]!, spans[2 * i + 1]!))),
          JSON.stringify(row),
        );
      });
    }),
    { numRuns: 300, seed: 11 },
  );
  const huge = [
    { a: 'x\\"'.repeat(400_000), b: 1 },
    Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i])),
  ];
  const text = JSON.stringify(huge);
  const spans = recordSpans(text)!;
  assert.deepEqual(JSON.parse(text.slice(spans[0]!, spans[1]!)), huge[0]);
  assert.deepEqual(JSON.parse(text.slice(spans[2]!, spans[3]!)), huge[1]);
});

test('record spans with the expected count: a } inside a string or a nested object never splits a record', () => {
  const bodies = [
    [{ q: 1 }, { a: [{ x: 1 }], b: 2 }],
    [{ a: [{ x: 1 }, { y: 2 }] }, { b: 3 }],
    [{ s: '},{' }, { s: '}]' }, { s: '}]}' }],
    [{ s: 'x}' }, { n: { m: { k: '}' } } }],
    [{ a: 1 }, { s: '"}' }],
    [],
  ];
  for (const records of bodies)
    for (const text of [
      JSON.stringify(records),
      JSON.stringify({ records }),
      JSON.stringify({ records }, null, 2),
      JSON.stringify({ records, other: [{ s: '}' }] }),
      JSON.stringify({ other: '}]', records }),
    ]) {
      const spans = recordSpans(text, records.length)!;
      assert.deepEqual(spans, recordSpans(text), text);
      records.forEach((row, i) => {
        assert.deepEqual(JSON.parse(text.slice(spans[2 * i]!, spans[2 * i + 1]!)), row, text);
      });
    }
  // a wrong count is never trusted: the exact scan answers
  assert.deepEqual(recordSpans('[{"a":1},{"b":2}]', 3), recordSpans('[{"a":1},{"b":2}]'));
});

test('records range: when found, it is the run from the first record to the last, the records array and nothing else', () => {
  let found = 0;
  fc.assert(
    fc.property(body, ({ records, wrapped, indent, extra, extraFirst }) => {
      const value = wrapped ? (extraFirst ? { ...extra, records } : { records, ...extra }) : records;
      const text = JSON.stringify(value, null, indent);
      const parsed = JSON.parse(text);
      const rows = (Array.isArray(parsed) ? parsed : parsed.records) as unknown[];
      const range = recordsRange(text);
      if (range === null) return;
      found++;
      assert.deepEqual(JSON.parse(`[${text.slice(range.start, range.end)}]`), rows, text);
      const spans = recordSpans(text, rows.length)!;
      if (rows.length > 0) assert.deepEqual([range.start, range.end], [spans[0], spans.at(-1)], text);
      else assert.equal(range.start, range.end, text);
    }),
    { numRuns: 400, seed: 7 },
  );
  assert.ok(found > 50, `found a range in ${found} of 400 bodies`);
});

test('records range: found for a records array with no ] in it, however spaced; null for every other body', () => {
  const records = [
    { a: 1, s: 'x}{' },
    { b: null, c: 'é', d: { e: 2 } },
  ];
  for (const text of [
    JSON.stringify(records),
    JSON.stringify({ records }),
    JSON.stringify({ records }, null, 2),
    ` \n{ "records" :\t[ ${records.map((r) => JSON.stringify(r)).join(' ,\r\n ')} ] } \n`,
  ]) {
    const range = recordsRange(text)!;
    assert.ok(range !== null, text);
    assert.deepEqual(JSON.parse(`[${text.slice(range.start, range.end)}]`), records, text);
  }
  const empty = '{"records": [ ]}';
  assert.deepEqual(recordsRange(empty), { start: empty.indexOf(']'), end: empty.indexOf(']') });
  for (const text of [
    '{"records": [{"a": 1}], "records": [{"b": 2}]}', // the last "records" is the one JSON.parse keeps
    '{"records": [], "records": [{"b": 2}]}',
    '{"records": [{"a": 1}], "x": [2]}',
    '{"records": [{"a": 1}], "x": 2}',
    '{"x": 1, "records": [{"a": 1}]}',
    '{"records": [{"a": [1]}]}',
    '{"records": [{"s": "]"}]}',
    '{"records": {"a": 1}}',
    '{"\\u0072ecords": [{"a": 1}]}',
    '{"instances": [{"a": 1}]}',
    '"x"',
  ])
    assert.equal(recordsRange(text), null, text);
});
