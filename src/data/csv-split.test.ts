import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { createCsvSplitter } from './csv-split.js';

function split(text: string, chunkSizes: number[] = [text.length || 1]): string[][] {
  const out: string[][] = [];
  const s = createCsvSplitter((cells) => out.push(cells.slice()), 'test.csv');
  let pos = 0;
  let k = 0;
  while (pos < text.length) {
    const size = Math.max(1, chunkSizes[k++ % chunkSizes.length]!);
    s.push(text.slice(pos, pos + size));
    pos += size;
  }
  s.end();
  return out;
}

const reference = (text: string): string[][] =>
  parse(text, {
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    record_delimiter: ['\r\n', '\n'],
  });

describe('CSV splitter', () => {
  test('quoted fields, doubled quotes, embedded newlines and commas, BOM, CRLF, no final newline', () => {
    const text = '\ufeffa,b,c\r\n1,"x,y","he said ""hi"""\r\n2,"multi\nline",\r\n\r\n3,,"last"';
    const expected = [
      ['a', 'b', 'c'],
      ['1', 'x,y', 'he said "hi"'],
      ['2', 'multi\nline', ''],
      ['3', '', 'last'],
    ];
    assert.deepEqual(split(text), expected);
    assert.deepEqual(reference(text), expected);
    // chunk boundaries anywhere give the same records
    for (const size of [1, 2, 3, 7]) assert.deepEqual(split(text, [size]), expected);
  });

  test('malformed quoting is an error naming the line', () => {
    assert.throws(
      () => split('a,b\n1,x"y\n'),
      /test\.csv: malformed CSV at line 2: a quote inside an unquoted field/,
    );
    assert.throws(() => split('a,b\n1,"open\n2,3\n'), /line 2: a quoted field is not closed/);
    assert.throws(() => split('a,b\n1,"x"y\n'), /line 2: unexpected character "y" after a closing quote/);
  });

  test('agrees with csv-parse on random well-formed CSV, in any chunking', () => {
    const field = fc.oneof(
      fc.stringMatching(/^[a-z0-9 .-]{0,6}$/),
      fc.string({ maxLength: 6 }).map((s) => `"${s.replace(/\r/g, '').replace(/"/g, '""')}"`),
    );
    const record = fc.array(field, { minLength: 1, maxLength: 5 }).map((fs) => fs.join(','));
    const csv = fc
      .tuple(fc.array(record, { minLength: 1, maxLength: 8 }), fc.constantFrom('\n', '\r\n'), fc.boolean())
      .map(([rs, eol, trailing]) => rs.join(eol) + (trailing ? eol : ''))
      // a record that is a lone empty field is an empty line to csv-parse's skip_empty_lines
      .filter((t) => !t.split(/\r?\n/).some((l) => l === '' || l === '""'));
    fc.assert(
      fc.property(
        csv,
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 }),
        (text, sizes) => {
          assert.deepEqual(split(text, sizes), reference(text));
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });
});
