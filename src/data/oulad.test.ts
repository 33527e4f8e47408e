import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { buildOuladTable, ouladSplitCsv, ouladToCsv } from './oulad.js';
import { readCsvTable } from './read-csv.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const sharedDir = process.env.TASSEL_SHARED_DIR ?? resolve(repoRoot, '..', 'shared');
const ouladDir = join(sharedDir, 'anchors', 'data', 'oulad');
const haveAnchors =
  existsSync(join(ouladDir, 'features_train.csv')) && existsSync(join(ouladDir, 'studentInfo.csv'));
const tmp = mkdtempSync(join(tmpdir(), 'tassel-oulad-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('OULAD per-enrolment table', () => {
  test('cut-off day 60 reproduces the Python reference features for every enrolment', {
    skip: haveAnchors ? false : `no anchors at ${ouladDir} (set TASSEL_SHARED_DIR)`,
  }, async () => {
    const r = await buildOuladTable({ rawDir: ouladDir, cutoffDay: 60 });
    assert.equal(r.kept, 26361);
    assert.equal(r.positives, 15385);
    const csv = ouladToCsv(r.table);
    const mine = parse(csv, { columns: true }) as Record<string, string>[];
    const byRow = new Map(mine.map((m) => [m.row_id!, m]));
    let compared = 0;
    for (const name of ['features_train.csv', 'features_test.csv']) {
      const text = readFileSync(join(ouladDir, name), 'utf8');
      const ref = parse(text, { columns: true }) as Record<string, string>[];
      const refHeader = text
        .slice(0, text.indexOf('\n'))
        .split(',')
        .filter((c) => c !== 'is_val');
      assert.deepEqual(r.table.names, refHeader);
      for (const row of ref) {
        const m = byRow.get(row.row_id!);
        assert.ok(m, `row_id ${row.row_id} missing`);
        for (const c of refHeader) {
          const a = row[c]!;
          const b = m[c]!;
          if (a === b) continue;
          const x = Number(a);
          const y = Number(b);
          assert.ok(
            a !== '' && b !== '' && Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x)),
            `row_id ${row.row_id} ${c}: ${b} vs reference ${a}`,
          );
        }
        compared++;
      }
    }
    assert.equal(compared, 26361);
    // With the split replayed, the train/test files are byte-identical to the reference's.
    const split = ouladSplitCsv(r.table);
    assert.equal(split.test, readFileSync(join(ouladDir, 'features_test.csv'), 'utf8'));
    assert.equal(split.train, readFileSync(join(ouladDir, 'features_train.csv'), 'utf8'));
    assert.deepEqual([split.nTrain, split.nTest, split.nVal], [21088, 5273, 2109]);
    // The written file reads back with the OULAD schema.
    const p = join(tmp, 'oulad.csv');
    writeFileSync(p, csv);
    const back = await readCsvTable(p, { schema: r.schema });
    assert.equal(back.table.nRows, 26361);
    assert.equal(
      back.y!.reduce((s, v) => s + v, 0),
      15385,
    );
  });

  test('cut-off semantics on a tiny hand-made raw set, VLE clicks when present', async () => {
    const raw = join(tmp, 'raw');
    const w = (name: string, text: string) => {
      if (!existsSync(raw)) mkdirSync(raw);
      writeFileSync(join(raw, name), text);
    };
    w(
      'studentInfo.csv',
      'code_module,code_presentation,id_student,gender,region,highest_education,imd_band,age_band,num_of_prev_attempts,studied_credits,disability,final_result\n' +
        'AAA,2013J,2,F,R,HE,,0-35,0,60,N,Fail\nAAA,2013J,1,M,R,HE,10-20%,0-35,1,120,Y,Distinction\nAAA,2013J,3,M,R,HE,,0-35,0,60,N,Withdrawn\n',
    );
    w(
      'studentRegistration.csv',
      'code_module,code_presentation,id_student,date_registration,date_unregistration\nAAA,2013J,1,-10,\nAAA,2013J,2,,100\nAAA,2013J,3,-5,30\n',
    );
    w('courses.csv', 'code_module,code_presentation,module_presentation_length\nAAA,2013J,200\n');
    w(
      'assessments.csv',
      'code_module,code_presentation,id_assessment,assessment_type,date,weight\nAAA,2013J,10,TMA,20,25\nAAA,2013J,11,CMA,50,75\nAAA,2013J,12,TMA,90,0\nAAA,2013J,13,Exam,,100\n',
    );
    w(
      'studentAssessment.csv',
      'id_assessment,id_student,date_submitted,is_banked,score\n10,1,18,0,80\n11,1,55,1,\n12,1,58,0,90\n13,1,40,0,99\n10,2,25,0,40\n11,2,70,0,100\n',
    );
    const r = await buildOuladTable({ rawDir: raw, cutoffDay: 60 });
    assert.deepEqual(r.table.columns.id_student, ['1', '2']); // 3 unregistered on day 30; sorted by id
    const v = (c: string) => [...(r.table.columns[c] as Float64Array)];
    assert.deepEqual(v('n_assess_due'), [2, 2]);
    assert.deepEqual(v('n_submitted'), [3, 1]); // the exam and day-70 submission are excluded
    assert.deepEqual(v('n_submitted_due'), [2, 1]);
    assert.deepEqual(v('mean_score'), [85, 40]); // the missing score is skipped
    assert.deepEqual(v('min_score'), [80, 40]);
    assert.deepEqual(v('weighted_score_due'), [(25 * 80 + 75 * 0) / 100, (25 * 40) / 100]);
    assert.deepEqual(v('mean_days_early'), [(2 - 5 + 32) / 3, -5]);
    assert.deepEqual(v('n_late'), [1, 1]);
    assert.deepEqual(v('n_banked'), [1, 0]);
    assert.deepEqual(v('n_cma_submitted'), [1, 0]);
    assert.deepEqual(v('n_tma_submitted'), [2, 1]);
    assert.deepEqual(v('date_registration'), [-10, Number.NaN]);
    assert.deepEqual(v('target'), [1, 0]);
    assert.deepEqual(r.table.columns.imd_band, ['10-20%', null]);
    assert.equal(r.usedVle, false);
    w(
      'studentVle.csv',
      'code_module,code_presentation,id_student,id_site,date,sum_click\nAAA,2013J,1,5,-3,4\nAAA,2013J,1,5,10,2\nAAA,2013J,1,6,10,1\nAAA,2013J,1,6,61,50\n',
    );
    const withVle = await buildOuladTable({ rawDir: raw, cutoffDay: 60 });
    assert.deepEqual([...(withVle.table.columns.vle_clicks as Float64Array)], [7, 0]);
    assert.deepEqual([...(withVle.table.columns.vle_active_days as Float64Array)], [2, 0]);
    assert.deepEqual(
      [...(withVle.table.columns.vle_days_since_last_click as Float64Array)],
      [50, Number.NaN],
    );
    assert.ok(!(await buildOuladTable({ rawDir: raw, cutoffDay: 60, useVle: false })).usedVle);
    await assert.rejects(buildOuladTable({ rawDir: join(tmp, 'nope') }), /folder not found/);
  });
});
