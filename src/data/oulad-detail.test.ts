import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { buildOuladTable, OULAD_NUMERIC, ouladSplitCsv } from './oulad.js';
import { OULAD_DETAIL } from './oulad-detail.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ouladDir = join(
  process.env.TASSEL_SHARED_DIR ?? resolve(repoRoot, '..', 'shared'),
  'anchors',
  'data',
  'oulad',
);
const haveAnchors =
  existsSync(join(ouladDir, 'features_train.csv')) && existsSync(join(ouladDir, 'studentInfo.csv'));
const tmp = mkdtempSync(join(tmpdir(), 'tassel-oulad-detail-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const INFO_HEADER =
  'code_module,code_presentation,id_student,gender,region,highest_education,imd_band,age_band,num_of_prev_attempts,studied_credits,disability,final_result';

/** A tiny raw OULAD set: student 1 in AAA and BBB (2013J), student 2 in AAA only; `results` sets final_result. */
function writeRaw(dir: string, results: [string, string, string]) {
  mkdirSync(dir, { recursive: true });
  const w = (name: string, text: string) => writeFileSync(join(dir, name), text);
  w(
    'studentInfo.csv',
    `${INFO_HEADER}\nAAA,2013J,1,F,R,HE,,0-35,0,60,N,${results[0]}\nAAA,2013J,2,M,R,HE,,0-35,0,60,N,${results[1]}\n` +
      `BBB,2013J,1,F,R,HE,,0-35,0,60,N,${results[2]}\n`,
  );
  w(
    'studentRegistration.csv',
    'code_module,code_presentation,id_student,date_registration,date_unregistration\n' +
      'AAA,2013J,1,-10,\nAAA,2013J,2,-5,\nBBB,2013J,1,-3,45\n',
  );
  w(
    'courses.csv',
    'code_module,code_presentation,module_presentation_length\nAAA,2013J,200\nBBB,2013J,200\n',
  );
  w(
    'assessments.csv',
    'code_module,code_presentation,id_assessment,assessment_type,date,weight\n' +
      // listed out of deadline order: the ranks follow the deadlines
      'AAA,2013J,11,CMA,50,30\nAAA,2013J,10,TMA,20,10\nAAA,2013J,12,TMA,90,60\nAAA,2013J,13,Exam,,100\n' +
      'BBB,2013J,20,TMA,30,50\n',
  );
  w(
    'studentAssessment.csv',
    'id_assessment,id_student,date_submitted,is_banked,score\n' +
      // student 1: a1 two days early, a2 late, a3 submitted ahead of its day-90 deadline, the exam ignored
      '10,1,18,0,60\n11,1,55,0,90\n12,1,58,0,70\n13,1,40,0,99\n20,1,25,0,40\n' +
      // student 2: a2 after the cut-off (day 70): unknown on day 60
      '10,2,20,0,50\n11,2,70,0,100\n',
  );
}

const col = (t: Awaited<ReturnType<typeof buildOuladTable>>['table'], c: string) => [
  ...(t.columns[c] as Float64Array),
];

describe('OULAD assessment detail columns', () => {
  test('per-assessment timing and scores, trend and other enrolments, from what is dated <= the cut-off', async () => {
    const raw = join(tmp, 'a');
    writeRaw(raw, ['Pass', 'Fail', 'Withdrawn']);
    const r = await buildOuladTable({ rawDir: raw, cutoffDay: 60, assessmentDetail: true });
    assert.ok(r.assessmentDetail);
    // BBB/1 unregistered on day 45: not in the population, but counted as student 1's other enrolment
    assert.deepEqual(r.table.columns.id_student, ['1', '2']);
    assert.deepEqual(r.table.names.slice(2, 2 + OULAD_NUMERIC.length + OULAD_DETAIL.length), [
      ...OULAD_NUMERIC,
      ...OULAD_DETAIL,
    ]);
    const v = (c: string) => col(r.table, c);
    const na = Number.NaN;
    assert.deepEqual(v('days_early_a1'), [2, 0]);
    assert.deepEqual(v('days_early_a2'), [-5, na]);
    assert.deepEqual(v('days_early_a3'), [32, na]);
    assert.deepEqual(v('score_a1'), [60, 50]);
    assert.deepEqual(v('score_a2'), [90, na]);
    assert.deepEqual(v('tma_mean_score'), [65, 50]);
    assert.deepEqual(v('cma_mean_score'), [90, na]);
    assert.deepEqual(v('weight_submitted'), [100, 10]);
    assert.deepEqual(v('weighted_score_submitted'), [(10 * 60 + 30 * 90 + 60 * 70) / 100, 50]);
    assert.deepEqual(v('first_score'), [60, 50]);
    assert.deepEqual(v('last_score'), [70, 50]);
    assert.deepEqual(v('score_trend'), [10, 0]);
    assert.deepEqual(v('first_submission_day'), [18, 20]);
    assert.deepEqual(v('last_submission_day'), [58, 20]);
    assert.deepEqual(v('n_submitted_ahead'), [1, 0]);
    assert.deepEqual(v('other_enrolments'), [1, 0]);
    assert.deepEqual(v('other_unregistered'), [1, 0]);
    assert.deepEqual(v('other_submitted'), [1, 0]);
    assert.deepEqual(v('other_mean_score'), [40, na]);
  });

  test('leaves the reference columns and the split unchanged, never reads final_result', async () => {
    const raw = join(tmp, 'b');
    writeRaw(raw, ['Pass', 'Fail', 'Withdrawn']);
    const plain = await buildOuladTable({ rawDir: raw, cutoffDay: 60 });
    const detail = await buildOuladTable({ rawDir: raw, cutoffDay: 60, assessmentDetail: true });
    assert.ok(!plain.assessmentDetail);
    assert.ok(!plain.table.names.includes('days_early_a1'));
    for (const c of plain.table.names) assert.deepEqual(detail.table.columns[c], plain.table.columns[c], c);
    // Other outcomes: the same detail values (the label is never an input), only the target changes.
    const flipped = join(tmp, 'c');
    writeRaw(flipped, ['Fail', 'Distinction', 'Pass']);
    const other = await buildOuladTable({ rawDir: flipped, cutoffDay: 60, assessmentDetail: true });
    for (const c of OULAD_DETAIL) assert.deepEqual(col(other.table, c), col(detail.table, c), c);
    assert.deepEqual(col(other.table, 'target'), [0, 1]);
  });

  test('on the anchors, the train/test files keep the reference rows, row_id and is_val', {
    skip: haveAnchors ? false : `no anchors at ${ouladDir} (set TASSEL_SHARED_DIR)`,
  }, async () => {
    const r = await buildOuladTable({ rawDir: ouladDir, cutoffDay: 60, assessmentDetail: true });
    const split = ouladSplitCsv(r.table);
    const firstCells = (text: string, k: number) =>
      text
        .trimEnd()
        .split('\n')
        .map((line) => line.split(',').slice(0, k).join(','));
    for (const [mine, name, k] of [
      [split.train, 'features_train.csv', 3],
      [split.test, 'features_test.csv', 2],
    ] as const)
      assert.deepEqual(firstCells(mine, k), firstCells(readFileSync(join(ouladDir, name), 'utf8'), k), name);
  });

  test('an earlier cut-off sees fewer submissions', async () => {
    const raw = join(tmp, 'd');
    writeRaw(raw, ['Pass', 'Fail', 'Withdrawn']);
    const r = await buildOuladTable({ rawDir: raw, cutoffDay: 30, assessmentDetail: true });
    // BBB/1 still registered on day 30: in the population, and AAA/1 is its other enrolment
    assert.deepEqual(r.table.columns.id_student, ['1', '2', '1']);
    assert.deepEqual(col(r.table, 'days_early_a2'), [NaN, NaN, NaN]);
    assert.deepEqual(col(r.table, 'last_submission_day'), [18, 20, 25]);
    assert.deepEqual(col(r.table, 'other_unregistered'), [0, 0, 0]);
    assert.deepEqual(col(r.table, 'other_mean_score'), [40, NaN, 60]);
  });
});
