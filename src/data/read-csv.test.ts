import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { InputError } from '../errors.js';
import { courseCompletionSchema } from './builtin-schemas.js';
import { readCsvTable } from './read-csv.js';
import { generateCourseCompletion } from './synthetic.js';
import { DataValidationError } from './validate.js';

const dir = mkdtempSync(join(tmpdir(), 'tassel-read-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const generated = generateCourseCompletion({ rows: 300, seed: 11, missingRate: 0.05 });
const lines = generated.trimEnd().split('\n');

/** Rejects with an InputError whose message matches every pattern. */
async function rejectsWith(p: Promise<unknown>, ...patterns: RegExp[]) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof InputError, `expected InputError, got ${String(e)}`);
    for (const re of patterns) assert.match(e.message, re);
    return true;
  });
}

describe('readCsvTable', () => {
  test('reads generated data into typed columns; both parsers agree; sha256 of the bytes', async () => {
    const p = file('ok.csv', generated);
    const r = await readCsvTable(p, { schema: 'builtin:course-completion' });
    const ref = await readCsvTable(p, { schema: 'builtin:course-completion', parser: 'csv-parse' });
    assert.equal(r.rows, 300);
    assert.equal(r.table.nRows, 300);
    assert.equal(r.schema, courseCompletionSchema);
    assert.equal(r.sha256, createHash('sha256').update(generated).digest('hex'));
    assert.ok(r.table.columns.Age instanceof Float64Array);
    assert.ok(r.table.columns.Enrollment_Date instanceof Float64Array);
    assert.ok(Array.isArray(r.table.columns.City));
    assert.deepEqual(r.table, ref.table);
    assert.deepEqual(r.y, ref.y);
    const completed = r.table.columns.Completed as (string | null)[];
    for (let i = 0; i < 300; i++) assert.equal(r.y![i], completed[i] === 'Completed' ? 1 : 0);
  });

  test('a BOM, CRLF endings and quoted fields read the same as the plain file', async () => {
    const header = lines[0]!;
    const quoted = lines.slice(1, 20).map((l) =>
      l
        .split(',')
        .map((c) => `"${c}"`)
        .join(','),
    );
    const plain = await readCsvTable(file('plain.csv', `${[header, ...lines.slice(1, 20)].join('\n')}\n`), {
      schema: 'builtin:course-completion',
    });
    const fancy = await readCsvTable(file('fancy.csv', `\ufeff${[header, ...quoted].join('\r\n')}\r\n`), {
      schema: 'builtin:course-completion',
    });
    assert.deepEqual(fancy.table, plain.table);
  });

  test('file not found, empty file, header only: InputError naming the file', async () => {
    await rejectsWith(
      readCsvTable(join(dir, 'missing.csv'), { schema: 'builtin:course-completion' }),
      /missing\.csv: file not found/,
    );
    await rejectsWith(
      readCsvTable(file('empty.csv', ''), { schema: 'builtin:course-completion' }),
      /empty\.csv: the file is empty/,
    );
    await rejectsWith(
      readCsvTable(file('header.csv', `${lines[0]}\n`), { schema: 'builtin:course-completion' }),
      /header\.csv: the file is empty: a header but no data rows/,
    );
  });

  test('missing target column and missing schema columns', async () => {
    const noTarget = lines.map((l) => l.slice(0, l.lastIndexOf(','))).join('\n');
    await rejectsWith(
      readCsvTable(file('notarget.csv', noTarget), { schema: 'builtin:course-completion' }),
      /notarget\.csv: missing target column "Completed"/,
    );
    await rejectsWith(
      readCsvTable(file('notarget2.csv', 'a,b\n1,2\n'), { target: 'y', positive: '1' }),
      /notarget2\.csv: missing target column "y"/,
    );
    const r = await readCsvTable(file('predict.csv', noTarget), {
      schema: 'builtin:course-completion',
      requireTarget: false,
    });
    assert.equal(r.y, null);
    const noAge = lines
      .map((l) =>
        l
          .split(',')
          .filter((_, j) => j !== 3)
          .join(','),
      )
      .join('\n');
    await rejectsWith(
      readCsvTable(file('noage.csv', noAge), { schema: 'builtin:course-completion' }),
      /noage\.csv: the header \(line 1\) lacks column Age/,
    );
  });

  test('unknown positive label', async () => {
    const p = file('labels.csv', 'x,done\n1,yes\n2,no\n');
    await rejectsWith(
      readCsvTable(p, { target: 'done', positive: 'Yes' }),
      /labels\.csv: unknown positive label "Yes": it never occurs in target column done \(values seen: "yes", "no"\)/,
    );
    await rejectsWith(
      readCsvTable(file('ok2.csv', generated), { schema: 'builtin:course-completion', positive: 'Done' }),
      /unknown positive label "Done" for target column Completed/,
    );
    const flipped = await readCsvTable(p, { target: 'done', positive: 'no' });
    assert.deepEqual([...flipped.y!], [0, 1]);
  });

  test('a non-numeric value in a numeric column names file, row and column', async () => {
    const bad = [...lines];
    const cells = bad[5]!.split(',');
    cells[3] = 'twenty';
    bad[5] = cells.join(',');
    const p = file('bad.csv', bad.join('\n'));
    await assert.rejects(readCsvTable(p, { schema: 'builtin:course-completion' }), (e: unknown) => {
      assert.ok(e instanceof DataValidationError && e instanceof InputError);
      assert.match(
        e.message,
        /bad\.csv: 1 invalid value \(rows are data rows, 1 = first row after the header\)/,
      );
      assert.match(e.message, /row 5, column Age: "twenty" \(expected an integer in \[14, 90\]\)/);
      assert.deepEqual(e.issues, [
        { row: 5, column: 'Age', value: 'twenty', expected: 'an integer in [14, 90]' },
      ]);
      return true;
    });
    const dropped = await readCsvTable(p, { schema: 'builtin:course-completion', policy: 'drop' });
    assert.equal(dropped.table.nRows, 299);
    assert.equal(dropped.droppedRows, 1);
    assert.equal(dropped.issueCount, 1);
    const imputed = await readCsvTable(p, { schema: 'builtin:course-completion', policy: 'impute' });
    assert.equal(imputed.table.nRows, 300);
    assert.ok(Number.isNaN((imputed.table.columns.Age as Float64Array)[4]!));
  });

  test('caps listed issues but counts all; a short row is one issue', async () => {
    const bad = lines.map((l, i) => (i === 0 ? l : l.replace(/,(Yes|No),/, ',Maybe,')));
    bad.push('STU999999,Short Row,Male');
    const r = await readCsvTable(file('many.csv', bad.join('\n')), {
      schema: 'builtin:course-completion',
      policy: 'drop',
      maxIssues: 5,
    });
    assert.equal(r.issues.length, 5);
    assert.ok(r.issueCount >= 301, String(r.issueCount));
    assert.ok(r.droppedRows >= 300);
    await rejectsWith(
      readCsvTable(file('many2.csv', bad.join('\n')), { schema: 'builtin:course-completion', maxIssues: 3 }),
      /invalid values/,
      /\.\.\. and \d+ more/,
    );
  });

  test('any CSV with a target and a positive label: inferred types', async () => {
    const p = file(
      'any.csv',
      'user_id,age,plan,signup,churned\nu1,30,basic,2024-01-05,yes\nu2,41.5,pro,2024-02-01,no\nu3,,basic,,no\n',
    );
    const r = await readCsvTable(p, { target: 'churned', positive: 'yes' });
    assert.deepEqual(
      r.schema.columns.map((c) => `${c.name}:${c.type}:${c.role}`),
      [
        'user_id:id:id',
        'age:numeric:feature',
        'plan:categorical:feature',
        'signup:date:feature',
        'churned:categorical:target',
      ],
    );
    assert.deepEqual([...r.y!], [1, 0, 0]);
    assert.deepEqual([...(r.table.columns.age as Float64Array)], [30, 41.5, Number.NaN]);
  });

  test('ignore and ids apply to a given schema; declared types do not', async () => {
    const p = file('roles.csv', generated);
    const r = await readCsvTable(p, {
      schema: 'builtin:course-completion',
      ignore: ['City'],
      ids: ['Course_ID'],
    });
    assert.ok(!r.table.names.includes('City'));
    assert.equal(r.schema.columns.find((c) => c.name === 'Course_ID')?.role, 'id');
    assert.equal(courseCompletionSchema.columns.find((c) => c.name === 'City')?.role, 'feature'); // not mutated
    await rejectsWith(
      readCsvTable(p, { schema: 'builtin:course-completion', types: { Age: 'numeric' } }),
      /cannot be declared/,
    );
    await rejectsWith(
      readCsvTable(p, { schema: 'builtin:course-completion', ignore: ['Completed'] }),
      /is the target column/,
    );
  });

  test('an unnamed column (trailing comma) is left out of an inferred schema', async () => {
    const r = await readCsvTable(file('unnamed.csv', 'a,y,\n1,yes,\n2,no,\n'), {
      target: 'y',
      positive: 'yes',
    });
    assert.deepEqual(r.table.names, ['a', 'y']);
    assert.deepEqual([...r.y!], [1, 0]);
  });
});
