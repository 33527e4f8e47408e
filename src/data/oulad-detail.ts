/**
 * Optional OULAD columns beyond the Python reference's 24 (`tassel data oulad --assessment-detail`): what the
 * raw assessment and registration tables say about an enrolment by the cut-off day that the reference's
 * per-enrolment sums drop. Every value uses only submissions dated <= the cut-off and registrations
 * (un)dated <= the cut-off, so a row holds nothing a teacher would not know on that day; nothing reads
 * final_result. Chosen by 5-fold cross-validation on the training rows of the anchors' split (docs/performance.md).
 */

/** The detail columns, appended after the reference's numeric features, in this order. */
export const OULAD_DETAIL = [
  'days_early_a1',
  'days_early_a2',
  'days_early_a3',
  'score_a1',
  'score_a2',
  'score_a3',
  'tma_mean_score',
  'cma_mean_score',
  'weight_submitted',
  'weighted_score_submitted',
  'first_score',
  'last_score',
  'score_trend',
  'first_submission_day',
  'last_submission_day',
  'n_submitted_ahead',
  'other_enrolments',
  'other_unregistered',
  'other_submitted',
  'other_mean_score',
] as const;

/** A non-exam assessment of a presentation (`pres` = `module|presentation`). */
export interface DetailAssessment {
  pres: string;
  type: string;
  date: number;
  weight: number;
}

/** One submission dated <= the cut-off. */
export interface DetailSubmission {
  assessment: DetailAssessment;
  student: number;
  submitted: number;
  score: number;
}

/** One enrolment of studentInfo (whatever its registration status). */
export interface DetailEnrolment {
  module: string;
  presentation: string;
  student: number;
  unregistration: number;
}

/** Everything the detail columns are computed from. */
export interface DetailInput {
  cutoff: number;
  /** Non-exam assessments in file order (the order breaks ties between equal deadlines). */
  assessments: readonly DetailAssessment[];
  submissions: readonly DetailSubmission[];
  enrolments: readonly DetailEnrolment[];
}

/** Detail values of one enrolment, by column name. */
export type DetailRow = Record<(typeof OULAD_DETAIL)[number], number>;

const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : Number.NaN);

/** 1-based position of each assessment by deadline within its presentation (missing deadlines last). */
function deadlineRanks(assessments: readonly DetailAssessment[]): Map<DetailAssessment, number> {
  const byPres = new Map<string, DetailAssessment[]>();
  for (const a of assessments) byPres.set(a.pres, [...(byPres.get(a.pres) ?? []), a]);
  const rank = new Map<DetailAssessment, number>();
  for (const list of byPres.values()) {
    const key = (a: DetailAssessment) => (Number.isNaN(a.date) ? Number.POSITIVE_INFINITY : a.date);
    const sorted = [...list].sort((a, b) => key(a) - key(b));
    for (const [i, a] of sorted.entries()) rank.set(a, i + 1);
  }
  return rank;
}

/** The detail columns of one enrolment from its own submissions (in deadline order). */
function ownColumns(subs: DetailSubmission[], cutoff: number, rank: Map<DetailAssessment, number>) {
  const scored = subs.filter((s) => !Number.isNaN(s.score));
  const at = (k: number) => subs.find((s) => rank.get(s.assessment) === k);
  const weighted = scored.filter((s) => !Number.isNaN(s.assessment.weight));
  const w = weighted.reduce((t, s) => t + s.assessment.weight, 0);
  const first = scored[0]?.score ?? Number.NaN;
  const last = scored[scored.length - 1]?.score ?? Number.NaN;
  const days = subs.map((s) => s.submitted);
  const out: Partial<DetailRow> = {
    tma_mean_score: mean(scored.filter((s) => s.assessment.type === 'TMA').map((s) => s.score)),
    cma_mean_score: mean(scored.filter((s) => s.assessment.type === 'CMA').map((s) => s.score)),
    weight_submitted: subs.length
      ? subs.reduce((t, s) => t + (Number.isNaN(s.assessment.weight) ? 0 : s.assessment.weight), 0)
      : Number.NaN,
    weighted_score_submitted:
      w > 0 ? weighted.reduce((t, s) => t + s.assessment.weight * s.score, 0) / w : Number.NaN,
    first_score: first,
    last_score: last,
    score_trend: last - first,
    first_submission_day: days.length ? Math.min(...days) : Number.NaN,
    last_submission_day: days.length ? Math.max(...days) : Number.NaN,
    n_submitted_ahead: subs.filter((s) => s.assessment.date > cutoff).length,
  };
  for (const k of [1, 2, 3] as const) {
    const s = at(k);
    out[`days_early_a${k}`] = s ? s.assessment.date - s.submitted : Number.NaN;
    out[`score_a${k}`] = s ? s.score : Number.NaN;
  }
  return out;
}

/**
 * Returns a lookup (module, presentation, student) -> detail columns. "Other" columns describe the student's
 * other enrolments in the same presentation (other modules): how many, how many unregistered by the cut-off,
 * and their submissions by the cut-off.
 */
export function createOuladDetail(
  input: DetailInput,
): (module: string, presentation: string, student: number) => DetailRow {
  const rank = deadlineRanks(input.assessments);
  const subsOf = new Map<string, DetailSubmission[]>();
  for (const s of input.submissions) {
    const k = `${s.assessment.pres}|${s.student}`;
    subsOf.set(k, [...(subsOf.get(k) ?? []), s]);
  }
  for (const list of subsOf.values())
    list.sort((a, b) => rank.get(a.assessment)! - rank.get(b.assessment)! || a.submitted - b.submitted);
  const enrolmentsOf = new Map<string, DetailEnrolment[]>();
  for (const e of input.enrolments) {
    const k = `${e.presentation}|${e.student}`;
    enrolmentsOf.set(k, [...(enrolmentsOf.get(k) ?? []), e]);
  }
  return (module, presentation, student) => {
    const own = ownColumns(subsOf.get(`${module}|${presentation}|${student}`) ?? [], input.cutoff, rank);
    const others = (enrolmentsOf.get(`${presentation}|${student}`) ?? []).filter((e) => e.module !== module);
    const otherScores: number[] = [];
    let otherSubmitted = 0;
    for (const e of others) {
      for (const s of subsOf.get(`${e.module}|${presentation}|${student}`) ?? []) {
        otherSubmitted++;
        if (!Number.isNaN(s.score)) otherScores.push(s.score);
      }
    }
    return {
      ...(own as DetailRow),
      other_enrolments: others.length,
      other_unregistered: others.filter((e) => e.unregistration <= input.cutoff).length,
      other_submitted: otherSubmitted,
      other_mean_score: mean(otherScores),
    };
  };
}
