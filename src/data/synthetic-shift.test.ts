import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../errors.js';
import { COURSE_COMPLETION_HEADER, generateCourseCompletion, parseShift } from './synthetic.js';

const rows = (csv: string) =>
  csv
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
const col = (name: string) => COURSE_COMPLETION_HEADER.indexOf(name);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('synthetic data with drift', () => {
  const base = rows(generateCourseCompletion({ rows: 4000, seed: 5 }));

  it('no shift and concept drift 0 give the unshifted bytes', () => {
    assert.equal(
      generateCourseCompletion({ rows: 300, seed: 5, shift: {}, conceptDrift: 0 }),
      generateCourseCompletion({ rows: 300, seed: 5 }),
    );
  });

  it('a numeric shift moves the column (clamped to the schema) and what depends on it', () => {
    const shifted = rows(generateCourseCompletion({ rows: 4000, seed: 5, shift: parseShift(['Age=+6']) }));
    const a0 = mean(base.map((r) => Number(r[col('Age')])));
    const a1 = mean(shifted.map((r) => Number(r[col('Age')])));
    assert.ok(Math.abs(a1 - a0 - 6) < 0.2, `age mean ${a0} -> ${a1}`);
    const q = rows(
      generateCourseCompletion({ rows: 4000, seed: 5, shift: parseShift(['Quiz_Score_Avg=*2']) }),
    );
    assert.ok(q.every((r) => Number(r[col('Quiz_Score_Avg')]) <= 100));
  });

  it('category weights re-weight a categorical column', () => {
    const shifted = rows(
      generateCourseCompletion({ rows: 4000, seed: 5, shift: parseShift(['Device_Type=Mobile*4']) }),
    );
    const share = (rs: string[][]) => rs.filter((r) => r[col('Device_Type')] === 'Mobile').length / rs.length;
    assert.ok(share(shifted) > share(base) + 0.2, `${share(base)} -> ${share(shifted)}`);
  });

  it('concept drift changes outcomes for the same inputs', () => {
    const drifted = rows(generateCourseCompletion({ rows: 4000, seed: 5, conceptDrift: 1 }));
    const target = col('Completed');
    let changed = 0;
    for (let i = 0; i < base.length; i++) {
      assert.equal(drifted[i]![col('Progress_Percentage')], base[i]![col('Progress_Percentage')]);
      if (drifted[i]![target] !== base[i]![target]) changed++;
    }
    assert.ok(changed > 400, `${changed} outcomes changed`);
  });

  it('bad shift specs are input errors naming the problem', () => {
    assert.throws(() => parseShift(['Nope=+1']), InputError);
    assert.throws(() => parseShift(['Age=5']), /\+N, -N or \*F/);
    assert.throws(() => parseShift(['Device_Type=Phone*2']), /Mobile/);
    assert.throws(() => parseShift(['City=Delhi*2']), /cannot be shifted/);
  });
});
