import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { COURSE_COMPLETION_OPTIONAL, courseCompletionSchema } from './builtin-schemas.js';
import { readCsvTable } from './read-csv.js';
import { COURSE_COMPLETION_HEADER, generateCourseCompletion, writeCourseCompletionCsv } from './synthetic.js';

const dir = mkdtempSync(join(tmpdir(), 'tassel-synth-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

describe('synthetic course-completion data', () => {
  test('same seed -> byte-identical output (string and streamed file); different seed -> different', async () => {
    const a = generateCourseCompletion({ rows: 500, seed: 7 });
    const b = generateCourseCompletion({ rows: 500, seed: 7 });
    const c = generateCourseCompletion({ rows: 500, seed: 8 });
    assert.equal(sha(a), sha(b));
    assert.notEqual(sha(a), sha(c));
    const p = join(dir, 'g.csv');
    const w = await writeCourseCompletionCsv(p, { rows: 500, seed: 7 });
    assert.equal(w.sha256, sha(a));
    assert.equal(sha(readFileSync(p)), sha(a));
    // The first rows do not depend on how many rows are asked for.
    assert.ok(a.startsWith(generateCourseCompletion({ rows: 10, seed: 7 })));
  });

  test('every column present and valid against the built-in schema; 40-60% positives', async () => {
    const text = generateCourseCompletion({ rows: 2000, seed: 3 });
    assert.deepEqual(
      text.slice(0, text.indexOf('\n')).split(','),
      courseCompletionSchema.columns.map((c) => c.name),
    );
    assert.equal(COURSE_COMPLETION_HEADER.length, 40);
    const p = join(dir, 'v.csv');
    await writeCourseCompletionCsv(p, { rows: 2000, seed: 3 });
    const r = await readCsvTable(p, { schema: 'builtin:course-completion' }); // policy 'fail': throws on any issue
    assert.equal(r.table.nRows, 2000);
    const positives = r.y!.reduce((s, v) => s + v, 0) / 2000;
    assert.ok(positives > 0.4 && positives < 0.6, String(positives));
    for (const c of courseCompletionSchema.columns) {
      const col = r.table.columns[c.name]!;
      let missing = 0;
      for (let i = 0; i < col.length; i++) if (col[i] === null || Number.isNaN(col[i] as number)) missing++;
      assert.equal(missing, 0, `${c.name} has missing values without --missing-rate`);
    }
    // categorical columns use several values, numeric ones vary
    assert.ok(new Set(r.table.columns.Device_Type as string[]).size === 4);
    const ages = r.table.columns.Age as Float64Array;
    assert.ok(Math.max(...ages) - Math.min(...ages) > 20);
  });

  test('missing rate blanks about that share of optional feature cells, never required ones, ids or the target; values otherwise unchanged', () => {
    const header = generateCourseCompletion({ rows: 1, seed: 5 }).split('\n')[0]!.split(',');
    const optional = new Set(COURSE_COMPLETION_OPTIONAL.map((n) => header.indexOf(n)));
    const full = generateCourseCompletion({ rows: 400, seed: 5 }).trimEnd().split('\n');
    const holed = generateCourseCompletion({ rows: 400, seed: 5, missingRate: 0.2 }).trimEnd().split('\n');
    let blanks = 0;
    let cells = 0;
    for (let i = 1; i < full.length; i++) {
      const f = full[i]!.split(',');
      const h = holed[i]!.split(',');
      assert.equal(h[0], f[0]);
      assert.equal(h[39], f[39]);
      for (let j = 2; j < 39; j++) {
        if (!optional.has(j)) {
          assert.equal(h[j], f[j], `required column ${header[j]} is never blanked`);
          continue;
        }
        cells++;
        if (h[j] === '') blanks++;
        else assert.equal(h[j], f[j]);
      }
    }
    assert.ok(Math.abs(blanks / cells - 0.2) < 0.04, String(blanks / cells));
  });

  test('bad options are InputErrors', () => {
    assert.throws(() => generateCourseCompletion({ rows: 0, seed: 1 }), /--rows must be an integer/);
    assert.throws(() => generateCourseCompletion({ rows: 5, seed: 1, missingRate: 0.9 }), /--missing-rate/);
  });
});
