/**
 * OULAD day-60 feature step (pipeline/oulad.json): what the 24 columns of the anchors' table say that a tree
 * ensemble over their one-hot encoding does not see directly.
 *
 * - Ordered categories as numbers (one split instead of many one-hot splits): deprivation decile (`imd_band`),
 *   level of prior education, age band; the presentation's year and its February/October start.
 * - Assessment ratios: deadlines missed by day 60, submissions per due assessment, score x share submitted,
 *   credits per day of the presentation.
 * - Context: each assessment figure as a z-score within its module presentation (a score of 70 is not the same
 *   in every module), with mean and spread learnt from the training rows only (`fit`) and stored in the bundle;
 *   a presentation not seen in training falls back to its module, then to all training rows.
 *
 * Self-contained (the file alone is copied into the model bundle): types only from Tassel.
 */
import type { FeatureRecord, FeatureStep, FeatureStepOutput } from '../../src/features/feature-step.js';

/** Columns compared within their module presentation. */
export const CONTEXT_COLUMNS = [
  'mean_score',
  'min_score',
  'weighted_score_due',
  'n_submitted',
  'mean_days_early',
  'date_registration',
  'studied_credits',
] as const;

/** Mean and standard deviation of one column in one group. */
type Moments = [mean: number, sd: number];
/** Per column: moments by group key (`module/presentation`, `module/*`, `*`). */
export interface OuladContextState {
  groups: Record<string, Record<string, Moments>>;
}

const IMD: Record<string, number> = Object.fromEntries(
  Array.from({ length: 10 }, (_, i) => [`${10 * i}-${10 * i + 10}%`, i]),
);
const EDUCATION: Record<string, number> = {
  'No Formal quals': 0,
  'Lower Than A Level': 1,
  'A Level or Equivalent': 2,
  'HE Qualification': 3,
  'Post Graduate Qualification': 4,
};
const AGE: Record<string, number> = { '0-35': 0, '35-55': 1, '55<=': 2 };

const num = (r: FeatureRecord, k: string): number | null => {
  const v = r[k];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};
const str = (r: FeatureRecord, k: string): string | null => (typeof r[k] === 'string' ? (r[k] as string) : null);
const ordinal = (map: Record<string, number>, v: string | null) => (v !== null && v in map ? map[v]! : null);
const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b);

/** The group keys of a record, most specific first. */
function groupKeys(r: FeatureRecord): string[] {
  const m = str(r, 'code_module') ?? '?';
  return [`${m}/${str(r, 'code_presentation') ?? '?'}`, `${m}/*`, '*'];
}

/** Groups with fewer training values than this use the next, wider group. */
const MIN_GROUP = 30;

const OUTPUTS: FeatureStepOutput[] = [
  { name: 'imd_decile', kind: 'numeric' },
  { name: 'education_level', kind: 'numeric' },
  { name: 'age_level', kind: 'numeric' },
  { name: 'presentation_year', kind: 'numeric' },
  { name: 'presentation_october', kind: 'numeric' },
  { name: 'missed_due', kind: 'numeric' },
  { name: 'submitted_per_due', kind: 'numeric' },
  { name: 'score_x_submitted', kind: 'numeric' },
  { name: 'credits_per_day', kind: 'numeric' },
  ...CONTEXT_COLUMNS.map((c) => ({ name: `${c}_in_presentation`, kind: 'numeric' as const })),
];

const ouladContext: FeatureStep<OuladContextState> = {
  outputs: OUTPUTS,
  fit(rows) {
    const groups: OuladContextState['groups'] = {};
    for (const c of CONTEXT_COLUMNS) {
      const acc = new Map<string, { n: number; s: number; ss: number }>();
      for (const r of rows) {
        const v = num(r, c);
        if (v === null) continue;
        for (const k of groupKeys(r)) {
          const a = acc.get(k) ?? { n: 0, s: 0, ss: 0 };
          a.n += 1;
          a.s += v;
          a.ss += v * v;
          acc.set(k, a);
        }
      }
      groups[c] = {};
      for (const [k, a] of acc) {
        if (a.n < MIN_GROUP) continue;
        const mean = a.s / a.n;
        const sd = Math.sqrt(Math.max(0, a.ss / a.n - mean * mean));
        if (sd > 0) groups[c]![k] = [mean, sd];
      }
    }
    return { groups };
  },
  transform(r, { state }) {
    const presentation = str(r, 'code_presentation');
    const year = presentation && /^\d{4}[BJ]$/.test(presentation) ? Number(presentation.slice(0, 4)) : null;
    const due = num(r, 'n_assess_due');
    const out: Record<string, number | null> = {
      imd_decile: ordinal(IMD, str(r, 'imd_band')),
      education_level: ordinal(EDUCATION, str(r, 'highest_education')),
      age_level: ordinal(AGE, str(r, 'age_band')),
      presentation_year: year,
      presentation_october: year === null ? null : presentation!.endsWith('J') ? 1 : 0,
      missed_due: due === null ? null : due - (num(r, 'n_submitted_due') ?? 0),
      submitted_per_due: ratio(num(r, 'n_submitted'), due),
      score_x_submitted:
        num(r, 'mean_score') === null || num(r, 'frac_submitted_due') === null
          ? null
          : num(r, 'mean_score')! * num(r, 'frac_submitted_due')!,
      credits_per_day: ratio(num(r, 'studied_credits'), num(r, 'module_presentation_length')),
    };
    const keys = groupKeys(r);
    for (const c of CONTEXT_COLUMNS) {
      const v = num(r, c);
      const m = keys.map((k) => state.groups[c]?.[k]).find((x) => x !== undefined);
      out[`${c}_in_presentation`] = v === null || m === undefined ? null : (v - m[0]) / m[1];
    }
    return out;
  },
};

export default ouladContext;
