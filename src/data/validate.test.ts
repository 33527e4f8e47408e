import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InputError } from '../errors.js';
import { courseCompletionSchema } from './builtin-schemas.js';
import type { DatasetSchema } from './schema.js';
import { generateCourseCompletion } from './synthetic.js';
import {
  DataValidationError,
  assertNoIssues,
  coerceRecords,
  createRecordCoercer,
  parseDate,
  parseStrictNumber,
} from './validate.js';

const schema: DatasetSchema = {
  name: 't',
  target: 'y',
  positiveLabel: 'pos',
  negativeLabel: 'neg',
  columns: [
    { name: 'id', type: 'id', role: 'id' },
    { name: 'age', type: 'integer', role: 'feature', min: 0, max: 120 },
    { name: 'score', type: 'numeric', role: 'feature', nullable: false },
    { name: 'dev', type: 'categorical', role: 'feature', allowed: ['a', 'b'] },
    { name: 'city', type: 'categorical', role: 'feature' },
    { name: 'paid', type: 'boolean', role: 'feature', trueValues: ['Yes'], falseValues: ['No'] },
    { name: 'when', type: 'date', role: 'feature', dateFormat: 'DMY' },
    { name: 'junk', type: 'categorical', role: 'ignore' },
    { name: 'y', type: 'categorical', role: 'target', allowed: ['pos', 'neg'] },
  ],
};

describe('parsing helpers', () => {
  test('strict numbers: decimals yes, hex/blank/Infinity/garbage no, exact like Number()', () => {
    for (const s of ['0', '-0.5', '+3', '12.', '.25', '1e3', '-2.5E-2', '63.3', '123456789.123456', '0.1']) {
      assert.equal(parseStrictNumber(s), Number(s), s);
    }
    for (const s of ['', ' 1', '0x10', 'Infinity', '1,5', 'abc', '-', '.', '1e', 'NaN', '1e400']) {
      assert.equal(parseStrictNumber(s), undefined, s);
    }
  });

  test('dates: day-first, month-first, ISO, and impossible dates rejected', () => {
    assert.equal(parseDate('02-01-1970', 'DMY'), 1);
    assert.equal(parseDate('01/02/1970', 'MDY'), 1);
    assert.equal(parseDate('1970-01-02', 'DMY'), 1);
    assert.equal(parseDate('31/02/2024', 'DMY'), undefined);
    assert.equal(parseDate('2024/13/01', 'YMD'), undefined);
    assert.equal(parseDate('yesterday', 'DMY'), undefined);
  });
});

describe('coerceRecords', () => {
  test('accepts numbers as numbers or strings, booleans as true/false or spellings, unseen open categories', () => {
    const r = coerceRecords(
      [
        {
          id: 'a',
          age: 30,
          score: '1.5',
          dev: 'a',
          city: 'Nowhere',
          paid: true,
          when: '31/12/2023',
          y: 'pos',
        },
        {
          id: 'b',
          age: '41',
          score: 2,
          dev: null,
          city: null,
          paid: 'No',
          when: '2024-01-01',
          y: 'neg',
          extra: 1,
        },
      ],
      schema,
    );
    assert.equal(r.issueCount, 0, JSON.stringify(r.issues));
    assert.deepEqual(r.table.names, ['id', 'age', 'score', 'dev', 'city', 'paid', 'when', 'y']);
    assert.deepEqual([...(r.table.columns.age as Float64Array)], [30, 41]);
    assert.deepEqual([...(r.table.columns.score as Float64Array)], [1.5, 2]);
    assert.deepEqual([...(r.table.columns.paid as Float64Array)], [1, 0]);
    assert.deepEqual([...(r.table.columns.when as Float64Array)], [19722, 19723]);
    assert.deepEqual(r.table.columns.dev, ['a', null]);
    assert.deepEqual(r.table.columns.city, ['Nowhere', null]);
    assert.deepEqual([...r.y!], [1, 0]);
  });

  test('reports every bad value with row, column, value and expectation; nothing is coerced', () => {
    const r = coerceRecords(
      [
        { id: 'a', age: 'abc', score: Number.NaN, dev: 'z', paid: 'maybe', when: '32/01/2024', y: 'pos' },
        { id: 'b', age: 3.5, score: Number.POSITIVE_INFINITY, dev: 'a', paid: 1, when: null, y: 'other' },
        { id: 'c', age: 200, score: null, dev: 'a', paid: false, y: 'neg' },
      ],
      schema,
    );
    const got = r.issues.map((i) => `${i.row}:${i.column}:${i.value}`);
    assert.deepEqual(got, [
      '1:age:abc',
      '1:score:NaN',
      '1:dev:z',
      '1:paid:maybe',
      '1:when:32/01/2024',
      '2:age:3.5',
      '2:score:Infinity',
      '2:y:other',
      '3:age:200',
      '3:score:null',
    ]);
    assert.match(r.issues[0]!.expected, /an integer in \[0, 120\]/);
    assert.match(r.issues[2]!.expected, /one of "a", "b"/);
    assert.match(r.issues[7]!.expected, /"pos", "neg"/);
    assert.match(r.issues[9]!.expected, /may not be empty/);
    assert.throws(
      () => assertNoIssues('request', r),
      (e: unknown) =>
        e instanceof DataValidationError &&
        e instanceof InputError &&
        /request: 10 invalid values/.test(e.message) &&
        /row 2, column y: "other"/.test(e.message),
    );
  });

  test("policy 'drop' drops rows with issues; 'impute' blanks bad cells but drops a bad target", () => {
    const records = [
      { id: 'a', age: 'x', score: 1, y: 'pos' },
      { id: 'b', age: 5, score: 2, y: 'neg' },
      { id: 'c', age: 6, score: 3, y: 'what' },
    ];
    const dropped = coerceRecords(records, schema, { policy: 'drop' });
    assert.equal(dropped.table.nRows, 1);
    assert.equal(dropped.droppedRows, 2);
    assert.deepEqual([...dropped.sourceRows], [1]);
    assert.equal(dropped.issueCount, 2);
    const imputed = coerceRecords(records, schema, { policy: 'impute' });
    assert.equal(imputed.table.nRows, 2);
    assert.equal(imputed.droppedRows, 1);
    assert.ok(Number.isNaN((imputed.table.columns.age as Float64Array)[0]!));
    assert.deepEqual([...imputed.y!], [1, 0]);
  });

  test('serving mode: target optional, unknown fields rejected when asked, non-objects reported', () => {
    const r = coerceRecords(
      [{ id: 'a', score: 1 }, { id: 'b', score: 2, colour: 'red' }, 7 as never],
      schema,
      {
        requireTarget: false,
        allowUnknownFields: false,
      },
    );
    assert.equal(r.y, null);
    assert.deepEqual(
      r.issues.map((i) => `${i.row}:${i.column}`),
      ['2:colour', '3:*'],
    );
  });

  test('the built-in schema validates a typical record and flags a wrong label', () => {
    const [head, line] = generateCourseCompletion({ rows: 1, seed: 3 }).split('\n');
    const cells = line!.split(',');
    const rec: Record<string, unknown> = {
      ...Object.fromEntries(head!.split(',').map((name, j) => [name, cells[j]])),
      Student_ID: 'S1',
      Age: 25,
      Gender: 'Female',
      Fee_Paid: 'Yes',
      Enrollment_Date: '05-03-2024',
      Completed: 'Completed',
    };
    const ok = coerceRecords([rec], courseCompletionSchema);
    assert.equal(ok.issueCount, 0, JSON.stringify(ok.issues));
    // a required feature left out is an issue; an optional one or an id is not
    const { Age: _age, Quiz_Score_Avg: _quiz, Name: _name, ...partial } = rec;
    assert.deepEqual(
      coerceRecords([partial], courseCompletionSchema).issues.map((i) => i.column),
      ['Age'],
    );
    const bad = coerceRecords([{ ...rec, Completed: 'Done', Gender: 'F' }], courseCompletionSchema);
    assert.deepEqual(
      bad.issues.map((i) => i.column),
      ['Gender', 'Completed'],
    );
  });

  test('a compiled record coercer gives what coerceRecords gives, batch after batch', () => {
    const coercer = createRecordCoercer(schema, { requireTarget: false });
    const batches = [
      [{ id: 'a', age: 3, score: 1, city: 'X', when: '01/01/2024' }],
      [
        { id: 'b', age: 'x', score: 2, dev: 'q' },
        { id: 'c', age: 4, score: 3, paid: 'Yes' },
      ],
    ];
    for (const b of batches)
      assert.deepEqual(coercer.coerce(b), coerceRecords(b, schema, { requireTarget: false }));
    assert.equal(coercer.coerce(batches[1]!).issueCount, 2);
  });

  test('without requireTarget an absent or unknown label is no issue, but then y is not returned', () => {
    const rows = [
      { id: 'a', score: 1, y: 'pos' },
      { id: 'b', score: 2, y: 'neg' },
    ];
    assert.deepEqual([...coerceRecords(rows, schema, { requireTarget: false }).y!], [1, 0]);
    const odd = coerceRecords([...rows, { id: 'c', score: 3, y: 'unknown' }], schema, {
      requireTarget: false,
    });
    assert.equal(odd.issueCount, 0);
    assert.equal(odd.y, null);
    assert.deepEqual(odd.table.columns.y, ['pos', 'neg', 'unknown']);
    const partial = coerceRecords([...rows, { id: 'd', score: 4 }], schema, { requireTarget: false });
    assert.equal(partial.y, null);
    const required = coerceRecords([...rows, { id: 'd', score: 4 }], schema);
    assert.deepEqual(
      required.issues.map((i) => `${i.row}:${i.column}`),
      ['3:y'],
    );
  });
});
