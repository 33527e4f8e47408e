import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import ouladContext, { type OuladContextState } from '../../pipeline/features/oulad-context.js';
import { type FeatureRecord, isFeatureStep, resolveStepOutputs } from '../features/feature-step.js';

/** pipeline/features/oulad-context.ts, the feature step of pipeline/oulad.json. */

const row = (over: Record<string, string | number | null>): FeatureRecord => ({
  code_module: 'AAA',
  code_presentation: '2013J',
  imd_band: '10-20%',
  highest_education: 'HE Qualification',
  age_band: '35-55',
  n_assess_due: 3,
  n_submitted_due: 2,
  n_submitted: 2,
  frac_submitted_due: 2 / 3,
  mean_score: 60,
  studied_credits: 60,
  module_presentation_length: 240,
  ...over,
});

// 40 rows of AAA/2013J (scores 50..89), 40 of AAA/2014B (scores 0..39): enough for their own groups
const training = [
  ...Array.from({ length: 40 }, (_, i) => row({ mean_score: 50 + i })),
  ...Array.from({ length: 40 }, (_, i) => row({ code_presentation: '2014B', mean_score: i })),
];
const fit = () =>
  JSON.parse(
    JSON.stringify(ouladContext.fit!(training, { params: {}, labels: new Uint8Array(80), seed: 1 })),
  ) as OuladContextState;
const moments = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return [m, Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length)] as const;
};

describe('OULAD context feature step', () => {
  const state = fit();
  const run = (r: FeatureRecord) => ouladContext.transform(r, { params: {}, state });

  test('is a feature step whose transform returns exactly its declared outputs', () => {
    assert.ok(isFeatureStep(ouladContext));
    const declared = resolveStepOutputs('oulad-context', ouladContext, {}).map((o) => o.name);
    assert.deepEqual(Object.keys(run(row({}))).sort(), [...declared].sort());
  });

  test('ordered categories as numbers, ratios of the assessment counts; missing stays missing', () => {
    const r = run(row({}));
    assert.equal(r.imd_decile, 1);
    assert.equal(r.education_level, 3);
    assert.equal(r.age_level, 1);
    assert.equal(r.presentation_year, 2013);
    assert.equal(r.presentation_october, 1);
    assert.equal(r.missed_due, 1);
    assert.equal(r.submitted_per_due, 2 / 3);
    assert.equal(r.score_x_submitted, 40);
    assert.equal(r.credits_per_day, 0.25);
    const empty = run(row({ imd_band: null, code_presentation: 'later', n_assess_due: 0, mean_score: null }));
    assert.equal(empty.imd_decile, null);
    assert.equal(empty.presentation_year, null);
    assert.equal(empty.submitted_per_due, null);
    assert.equal(empty.mean_score_in_presentation, null);
  });

  test('a score as a z-score within its module presentation, learnt from the training rows', () => {
    const [m13, s13] = moments(training.slice(0, 40).map((r) => r.mean_score as number));
    const [m14, s14] = moments(training.slice(40).map((r) => r.mean_score as number));
    assert.ok(
      Math.abs((run(row({ mean_score: 70 })).mean_score_in_presentation as number) - (70 - m13) / s13) <
        1e-12,
    );
    const b = run(row({ code_presentation: '2014B', mean_score: 70 })).mean_score_in_presentation as number;
    assert.ok(
      Math.abs(b - (70 - m14) / s14) < 1e-12,
      'the same score ranks higher in the weaker presentation',
    );
    // a presentation or module unseen in training: the module's, then all rows' moments
    const [mAll, sAll] = moments(training.map((r) => r.mean_score as number));
    const unseen = run(row({ code_presentation: '2015B', mean_score: 70 }))
      .mean_score_in_presentation as number;
    assert.ok(Math.abs(unseen - (70 - mAll) / sAll) < 1e-12, 'module AAA over both presentations');
    const other = run(row({ code_module: 'ZZZ', mean_score: 70 })).mean_score_in_presentation as number;
    assert.ok(Math.abs(other - (70 - mAll) / sAll) < 1e-12);
  });

  test('groups with fewer than 30 training values use the wider group', () => {
    const small = [
      ...training,
      ...Array.from({ length: 5 }, () => row({ code_module: 'BBB', mean_score: 99 })),
    ];
    const s = ouladContext.fit!(small, {
      params: {},
      labels: new Uint8Array(85),
      seed: 1,
    }) as OuladContextState;
    assert.equal(s.groups.mean_score!['BBB/2013J'], undefined);
    assert.equal(s.groups.mean_score!['BBB/*'], undefined);
    assert.ok(s.groups.mean_score!['AAA/2013J']);
  });
});
