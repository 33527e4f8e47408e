import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { once } from 'node:events';
import { InputError } from '../errors.js';
import { COURSE_COMPLETION_CATEGORIES as CAT, courseCompletionSchema } from './builtin-schemas.js';
import type { Random } from './random.js';
import { createRandom } from './random.js';

/**
 * Synthetic data in the 40-column course-completion schema. Every value comes from a seeded PRNG and is
 * written with fixed formatting, so a seed always gives byte-identical output. Completion follows a latent
 * process with thresholds, interactions (progress x quiz score, device x connection quality, employment x
 * course level x time) and a U-shape in age, so tree ensembles beat a linear model, as they do on real data.
 */

/** Options of the generator. */
export interface SyntheticOptions {
  rows: number;
  seed: number;
  /**
   * Share of optional feature cells left empty (missing), 0..0.5; default 0. Required features (see
   * COURSE_COMPLETION_OPTIONAL), identifiers and the target are never empty.
   */
  missingRate?: number;
  /**
   * Covariate shift: per column, a change applied where the value is generated, before anything downstream
   * (other columns, the completion process) uses it, so P(completed | inputs) is unchanged. See {@link parseShift}.
   */
  shift?: Record<string, ColumnShift>;
  /**
   * Concept drift, 0..1: the completion process itself changes (progress matters less, the mobile/low-connection
   * penalty and the dormancy penalty flip sign, the age U-shape fades), so the same inputs complete differently.
   */
  conceptDrift?: number;
}

/** A shift of one column: add to / multiply a numeric column, or re-weight categories of a categorical one. */
export type ColumnShift =
  | { kind: 'add'; value: number }
  | { kind: 'scale'; value: number }
  | { kind: 'weights'; factors: Record<string, number> };

const SPEC_BY_NAME = new Map(courseCompletionSchema.columns.map((c) => [c.name, c]));
const SHIFTABLE_NUMERIC = new Set(
  courseCompletionSchema.columns
    .filter((c) => c.role === 'feature' && (c.type === 'numeric' || c.type === 'integer'))
    .map((c) => c.name),
);

/**
 * Parses `--shift` values: `Age=+5` / `Age=-3.5` (add), `Age=*1.2` (scale), `Device_Type=Mobile*3,Tablet*0`
 * (category weights multiplied). Numeric shifts apply to numeric and integer columns, weights to categorical ones
 * with a fixed set of values; values are clamped to the schema's range, integers rounded.
 */
export function parseShift(specs: readonly string[]): Record<string, ColumnShift> {
  const out: Record<string, ColumnShift> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const column = spec.slice(0, eq).trim();
    const rhs = spec.slice(eq + 1).trim();
    const col = SPEC_BY_NAME.get(column);
    if (eq <= 0 || !col || col.role !== 'feature')
      throw new InputError(
        `--shift ${spec}: expected FEATURE=CHANGE with a feature of the course-completion schema`,
      );
    if (SHIFTABLE_NUMERIC.has(column)) {
      const m = /^([+\-*])\s*(\d+(?:\.\d+)?)$/.exec(rhs);
      if (!m)
        throw new InputError(`--shift ${spec}: a numeric column takes +N, -N or *F (e.g. ${column}=+5)`);
      const v = Number(m[2]);
      out[column] =
        m[1] === '*' ? { kind: 'scale', value: v } : { kind: 'add', value: m[1] === '-' ? -v : v };
      continue;
    }
    const known = (CAT as Record<string, readonly string[]>)[column];
    if (!known)
      throw new InputError(
        `--shift ${spec}: ${column} cannot be shifted (numeric, integer and fixed-category columns can)`,
      );
    const factors: Record<string, number> = {};
    for (const part of rhs.split(',')) {
      const m = /^(.+)\*(\d+(?:\.\d+)?)$/.exec(part.trim());
      if (!m || !known.includes(m[1]!.trim()))
        throw new InputError(`--shift ${spec}: expected VALUE*FACTOR with VALUE one of ${known.join(', ')}`);
      factors[m[1]!.trim()] = Number(m[2]);
    }
    out[column] = { kind: 'weights', factors };
  }
  return out;
}

interface Course {
  id: string;
  name: string;
  category: (typeof CAT.Category)[number];
  level: (typeof CAT.Course_Level)[number];
  days: number;
  fee: number;
  rating: number;
  difficulty: number;
}

const COURSES: Course[] = [
  {
    id: 'C101',
    name: 'Python Basics',
    category: 'Programming',
    level: 'Beginner',
    days: 30,
    fee: 2999,
    rating: 4.5,
    difficulty: -0.3,
  },
  {
    id: 'C102',
    name: 'Web Development with JavaScript',
    category: 'Programming',
    level: 'Intermediate',
    days: 60,
    fee: 5999,
    rating: 4.2,
    difficulty: 0.1,
  },
  {
    id: 'C103',
    name: 'Advanced Algorithms',
    category: 'Programming',
    level: 'Advanced',
    days: 90,
    fee: 7999,
    rating: 4.0,
    difficulty: 0.6,
  },
  {
    id: 'C104',
    name: 'Cloud Engineering',
    category: 'Programming',
    level: 'Advanced',
    days: 75,
    fee: 8999,
    rating: 3.8,
    difficulty: 0.5,
  },
  {
    id: 'C201',
    name: 'Data Analysis with Excel',
    category: 'Data Science',
    level: 'Beginner',
    days: 21,
    fee: 1999,
    rating: 4.6,
    difficulty: -0.4,
  },
  {
    id: 'C202',
    name: 'Machine Learning A-Z',
    category: 'Data Science',
    level: 'Intermediate',
    days: 90,
    fee: 6999,
    rating: 4.4,
    difficulty: 0.4,
  },
  {
    id: 'C203',
    name: 'Deep Learning Specialization',
    category: 'Data Science',
    level: 'Advanced',
    days: 120,
    fee: 9999,
    rating: 4.1,
    difficulty: 0.8,
  },
  {
    id: 'C204',
    name: 'SQL for Analysts',
    category: 'Data Science',
    level: 'Beginner',
    days: 30,
    fee: 2499,
    rating: 4.3,
    difficulty: -0.2,
  },
  {
    id: 'C301',
    name: 'Digital Marketing Fundamentals',
    category: 'Marketing',
    level: 'Beginner',
    days: 30,
    fee: 2999,
    rating: 4.0,
    difficulty: -0.2,
  },
  {
    id: 'C302',
    name: 'SEO and Content Strategy',
    category: 'Marketing',
    level: 'Intermediate',
    days: 45,
    fee: 3999,
    rating: 3.7,
    difficulty: 0.0,
  },
  {
    id: 'C401',
    name: 'Graphic Design Essentials',
    category: 'Design',
    level: 'Beginner',
    days: 45,
    fee: 3499,
    rating: 4.4,
    difficulty: -0.1,
  },
  {
    id: 'C402',
    name: 'UI/UX Design',
    category: 'Design',
    level: 'Intermediate',
    days: 60,
    fee: 5499,
    rating: 4.3,
    difficulty: 0.2,
  },
  {
    id: 'C501',
    name: 'Project Management',
    category: 'Business',
    level: 'Intermediate',
    days: 60,
    fee: 4999,
    rating: 3.9,
    difficulty: 0.1,
  },
  {
    id: 'C502',
    name: 'Financial Accounting',
    category: 'Business',
    level: 'Beginner',
    days: 45,
    fee: 3999,
    rating: 3.6,
    difficulty: 0.0,
  },
  {
    id: 'C503',
    name: 'Business Strategy',
    category: 'Business',
    level: 'Advanced',
    days: 90,
    fee: 7499,
    rating: 4.0,
    difficulty: 0.5,
  },
  {
    id: 'C601',
    name: 'Spoken English',
    category: 'Language',
    level: 'Beginner',
    days: 60,
    fee: 1499,
    rating: 4.2,
    difficulty: -0.3,
  },
  {
    id: 'C602',
    name: 'Business German',
    category: 'Language',
    level: 'Intermediate',
    days: 90,
    fee: 4499,
    rating: 3.9,
    difficulty: 0.3,
  },
  {
    id: 'C701',
    name: 'Public Speaking',
    category: 'Personal Development',
    level: 'Beginner',
    days: 21,
    fee: 999,
    rating: 4.5,
    difficulty: -0.5,
  },
  {
    id: 'C702',
    name: 'Time Management',
    category: 'Personal Development',
    level: 'Beginner',
    days: 14,
    fee: 799,
    rating: 4.1,
    difficulty: -0.5,
  },
];
const COURSE_WEIGHTS = [9, 8, 4, 4, 7, 8, 4, 6, 6, 4, 5, 5, 5, 4, 3, 6, 2, 5, 4];

const CITIES = [
  'Mumbai',
  'Delhi',
  'Bengaluru',
  'Hyderabad',
  'Chennai',
  'Kolkata',
  'Pune',
  'Ahmedabad',
  'Jaipur',
  'Lucknow',
  'Kochi',
  'Indore',
  'Chandigarh',
  'Bhopal',
  'Patna',
  'Nagpur',
];
const CITY_WEIGHTS = [12, 12, 11, 9, 8, 7, 7, 5, 4, 4, 3, 3, 3, 3, 2, 2];
const FIRST = [
  'Aarav',
  'Vivaan',
  'Aditya',
  'Arjun',
  'Sai',
  'Rohan',
  'Karan',
  'Ishaan',
  'Rahul',
  'Amit',
  'Priya',
  'Ananya',
  'Diya',
  'Sneha',
  'Kavya',
  'Pooja',
  'Neha',
  'Riya',
  'Meera',
  'Aisha',
  'Sara',
  'John',
  'Maria',
  'David',
  'Fatima',
  'Omar',
  'Li',
  'Wei',
  'Elena',
  'Lucas',
];
const LAST = [
  'Sharma',
  'Verma',
  'Patel',
  'Reddy',
  'Nair',
  'Iyer',
  'Gupta',
  'Singh',
  'Kumar',
  'Das',
  'Mehta',
  'Joshi',
  'Khan',
  'Rao',
  'Bose',
  'Menon',
  'Smith',
  'Garcia',
  'Chen',
  'Ali',
];
const DAY0 = Date.UTC(2023, 0, 1) / 86_400_000;
const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
function poisson(r: Random, lambda: number): number {
  // Knuth for small means, a rounded normal approximation above (deterministic either way).
  if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * r.normal()));
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = r.next();
  while (p > limit) {
    k++;
    p *= r.next();
  }
  return k;
}
function binomial(r: Random, n: number, p: number): number {
  let k = 0;
  for (let i = 0; i < n; i++) if (r.next() < p) k++;
  return k;
}

/** CSV header of the generated file (the schema's column order). */
export const COURSE_COMPLETION_HEADER: string[] = courseCompletionSchema.columns.map((c) => c.name);

/** Columns that may be blanked by missingRate: the optional features (a required one is never missing). */
const MISSABLE = new Set(
  courseCompletionSchema.columns.filter((c) => c.role === 'feature' && c.nullable).map((c) => c.name),
);
const MISSABLE_INDEX = COURSE_COMPLETION_HEADER.map((n) => MISSABLE.has(n));

/** A generator of CSV lines (without newline), one per call; the same seed gives the same lines. */
export function createCourseCompletionRows(options: SyntheticOptions): () => string {
  const missingRate = options.missingRate ?? 0;
  if (!(missingRate >= 0 && missingRate <= 0.5))
    throw new InputError(`--missing-rate must be in [0, 0.5], got ${missingRate}`);
  if (!Number.isInteger(options.seed)) throw new InputError(`--seed must be an integer, got ${options.seed}`);
  const conceptDrift = options.conceptDrift ?? 0;
  if (!(conceptDrift >= 0 && conceptDrift <= 1))
    throw new InputError(`--concept-drift must be in [0, 1], got ${options.conceptDrift}`);
  const shift = options.shift ?? {};
  const sh = (column: string, v: number): number => {
    const c = shift[column];
    if (!c || c.kind === 'weights') return v;
    const spec = SPEC_BY_NAME.get(column)!;
    let x = c.kind === 'add' ? v + c.value : v * c.value;
    if (spec.type === 'integer') x = Math.round(x);
    return clamp(x, spec.min ?? Number.NEGATIVE_INFINITY, spec.max ?? Number.POSITIVE_INFINITY);
  };
  const w = (column: string, values: readonly string[], weights: readonly number[]): readonly number[] => {
    const c = shift[column];
    if (!c || c.kind !== 'weights') return weights;
    return weights.map((x, i) => x * (c.factors[values[i]!] ?? 1));
  };
  const r = createRandom(options.seed);
  // Missingness has its own stream so the values do not change with the missing rate.
  const rm = createRandom((options.seed ^ 0x5bd1e995) >>> 0);
  let i = 0;
  const cells: string[] = new Array(COURSE_COMPLETION_HEADER.length);
  return () => {
    const id = `STU${String(100000 + i).padStart(6, '0')}`;
    i++;
    const gender = r.pick(CAT.Gender, w('Gender', CAT.Gender, [48, 48, 4]));
    const age = sh('Age', Math.round(clamp(17 + Math.abs(r.normal()) * 11 + r.next() * 6, 16, 70)));
    const edu =
      age < 20
        ? r.pick(CAT.Education_Level, [70, 25, 5, 0, 0])
        : age < 24
          ? r.pick(CAT.Education_Level, [15, 25, 50, 10, 0])
          : r.pick(CAT.Education_Level, [8, 17, 45, 25, 5]);
    const employment =
      age < 23
        ? r.pick(CAT.Employment_Status, [75, 10, 5, 10])
        : r.pick(CAT.Employment_Status, [10, 60, 15, 15]);
    const city = r.pick(CITIES, CITY_WEIGHTS);
    const device = r.pick(CAT.Device_Type, w('Device_Type', CAT.Device_Type, [45, 35, 12, 8]));
    const conn = r.pick(
      CAT.Internet_Connection_Quality,
      w('Internet_Connection_Quality', CAT.Internet_Connection_Quality, [20, 45, 35]),
    );
    const course = r.pick(COURSES, COURSE_WEIGHTS);
    const instructor = sh('Instructor_Rating', clamp(course.rating + 0.15 * r.normal(), 1, 5));

    // Latent traits: motivation drives engagement, ability drives scores.
    const motivation = r.normal();
    const ability = 0.4 * motivation + 0.9 * r.normal() + (edu === 'Master' || edu === 'PhD' ? 0.3 : 0);
    const busy = employment === 'Employed' || employment === 'Self-Employed' ? 1 : 0;
    const engagement = motivation - 0.35 * busy + (conn === 'Low' ? -0.3 : 0) + 0.25 * r.normal();

    const logins = sh('Login_Frequency', poisson(r, Math.exp(1.4 + 0.45 * engagement)));
    const session = sh(
      'Average_Session_Duration_Min',
      clamp(Math.exp(3.4 + 0.25 * engagement + 0.35 * r.normal()) + (device === 'Mobile' ? -8 : 0), 3, 240),
    );
    const video = sh(
      'Video_Completion_Rate',
      clamp(58 + 17 * engagement + 10 * r.normal() - (conn === 'Low' ? 8 : 0), 0, 100),
    );
    const discussion = sh('Discussion_Participation', poisson(r, Math.exp(0.7 + 0.5 * engagement)));
    const weeks = course.days / 7;
    const hours = sh(
      'Time_Spent_Hours',
      clamp(((logins * weeks * session) / 60) * (0.8 + 0.4 * r.next()), 0, 2000),
    );
    const lastLogin = sh(
      'Days_Since_Last_Login',
      Math.round(clamp(-Math.log(1 - r.next()) * Math.exp(1.8 - 0.7 * engagement), 0, 365)),
    );
    const notifications = sh('Notifications_Checked', poisson(r, Math.exp(2.2 + 0.3 * engagement)));
    const peer = sh('Peer_Interaction_Score', clamp(5 + 1.8 * engagement + 1.5 * r.normal(), 0, 10));
    const nAssign = Math.max(2, Math.round(course.days / 10));
    const submitted = binomial(r, nAssign, sigmoid(1.2 + 1.3 * engagement - 0.6 * busy));
    const missed = nAssign - submitted;
    const quizAttempts = sh('Quiz_Attempts', poisson(r, Math.exp(1.6 + 0.3 * engagement)));
    const quiz = sh(
      'Quiz_Score_Avg',
      clamp(64 + 11 * ability - 9 * course.difficulty + 9 * r.normal(), 0, 100),
    );
    const project = sh('Project_Grade', clamp(0.5 * quiz + 30 + 8 * ability + 10 * r.normal(), 0, 100));
    const progress = sh(
      'Progress_Percentage',
      clamp(52 + 24 * engagement + 8 * r.normal() - 10 * course.difficulty, 0, 100),
    );
    const rewatch = sh(
      'Rewatch_Count',
      poisson(r, Math.exp(0.8 + 0.4 * (quiz < 60 ? 1 : 0) + 0.2 * motivation)),
    );
    const enrolDay = DAY0 + r.int(730);
    const paymentMode = r.pick(
      CAT.Payment_Mode,
      w('Payment_Mode', CAT.Payment_Mode, [22, 18, 25, 10, 8, 7, 10]),
    );
    const free = paymentMode === 'Free' || paymentMode === 'Scholarship';
    const discount = !free && r.next() < 0.3;
    const feePaid = free ? true : r.next() < 0.9;
    const amount = free ? 0 : Math.round(course.fee * (discount ? 0.6 + 0.3 * r.next() : 1));
    const appUsage = sh(
      'App_Usage_Percentage',
      clamp((device === 'Mobile' ? 70 : device === 'Tablet' ? 55 : 25) + 15 * r.normal(), 0, 100),
    );
    const emails = sh('Reminder_Emails_Clicked', poisson(r, Math.exp(0.9 + 0.2 * motivation)));
    const tickets = sh('Support_Tickets_Raised', poisson(r, conn === 'Low' ? 1.5 : 0.6));
    const satisfaction = sh(
      'Satisfaction_Rating',
      clamp(3.6 + 0.4 * engagement + 0.3 * (instructor - 4) + 0.6 * r.normal(), 1, 5),
    );

    // The completion process: thresholds, interactions and a U-shape a linear model cannot represent.
    let z = -2.2;
    const cd = conceptDrift; // 0 = the original process; 1 = fully drifted
    z += (1 - 0.8 * cd) * 3.2 * sigmoid((progress - 58) / 4); // sharp threshold on progress
    z += progress >= 50 && quiz >= 68 ? 1.6 : 0; // progress x quiz score
    z -= progress < 50 && quiz < 50 ? 0.8 : 0;
    z += (1 - cd) * (0.012 * ((age - 36) * (age - 36)) - 0.6); // U-shape in age: the youngest and oldest complete more
    z -= device === 'Mobile' && conn === 'Low' ? (1 - 2 * cd) * 1.7 : 0; // device x connection quality
    z += (device === 'Laptop' || device === 'Desktop') && conn === 'High' ? 0.6 : 0;
    z -= lastLogin > 21 ? (1 - 2 * cd) * 1.4 : 0; // dormant learners drop out
    z += cd * (2.4 * sigmoid((quiz - 70) / 5) - 1.2); // a new driver: quiz scores
    z -= busy && course.level === 'Advanced' && hours < 40 ? 1.2 : 0; // employment x level x time
    z += 0.8 * (submitted / nAssign) - 0.4;
    z += feePaid && !free ? 0.4 : 0;
    z -= paymentMode === 'Free' ? 0.5 : 0;
    z += 0.25 * (satisfaction - 3.5);
    z += 0.5 * r.normal();
    const completed = r.next() < sigmoid(z);

    const d = new Date(enrolDay * 86_400_000);
    let k = 0;
    cells[k++] = id;
    cells[k++] = `${r.pick(FIRST)} ${r.pick(LAST)}`;
    cells[k++] = gender;
    cells[k++] = String(age);
    cells[k++] = edu;
    cells[k++] = employment;
    cells[k++] = city;
    cells[k++] = device;
    cells[k++] = conn;
    cells[k++] = course.id;
    cells[k++] = course.name;
    cells[k++] = course.category;
    cells[k++] = course.level;
    cells[k++] = String(course.days);
    cells[k++] = instructor.toFixed(1);
    cells[k++] = String(logins);
    cells[k++] = session.toFixed(1);
    cells[k++] = video.toFixed(1);
    cells[k++] = String(discussion);
    cells[k++] = hours.toFixed(1);
    cells[k++] = String(lastLogin);
    cells[k++] = String(notifications);
    cells[k++] = peer.toFixed(1);
    cells[k++] = String(submitted);
    cells[k++] = String(missed);
    cells[k++] = String(quizAttempts);
    cells[k++] = quiz.toFixed(1);
    cells[k++] = project.toFixed(1);
    cells[k++] = progress.toFixed(1);
    cells[k++] = String(rewatch);
    cells[k++] = `${pad2(d.getUTCDate())}-${pad2(d.getUTCMonth() + 1)}-${d.getUTCFullYear()}`;
    cells[k++] = paymentMode;
    cells[k++] = feePaid ? 'Yes' : 'No';
    cells[k++] = amount.toFixed(2);
    cells[k++] = discount ? 'Yes' : 'No';
    cells[k++] = appUsage.toFixed(1);
    cells[k++] = String(emails);
    cells[k++] = String(tickets);
    cells[k++] = satisfaction.toFixed(1);
    cells[k++] = completed ? 'Completed' : 'Not Completed';
    if (missingRate > 0) {
      for (let j = 0; j < cells.length; j++) if (MISSABLE_INDEX[j] && rm.next() < missingRate) cells[j] = '';
    }
    return cells.join(',');
  };
}

/** Generates `rows` rows as one CSV string (header + LF line endings). For large N use {@link writeCourseCompletionCsv}. */
export function generateCourseCompletion(options: SyntheticOptions): string {
  checkRows(options.rows);
  const next = createCourseCompletionRows(options);
  const lines = [COURSE_COMPLETION_HEADER.join(',')];
  for (let i = 0; i < options.rows; i++) lines.push(next());
  return `${lines.join('\n')}\n`;
}

function checkRows(rows: number): void {
  if (!Number.isInteger(rows) || rows < 1 || rows > 100_000_000) {
    throw new InputError(`--rows must be an integer in [1, 100000000], got ${rows}`);
  }
}

/** Streams generated rows to `path`; returns the row count, byte count and sha256 of what was written. */
export async function writeCourseCompletionCsv(
  path: string,
  options: SyntheticOptions,
): Promise<{ rows: number; bytes: number; sha256: string }> {
  checkRows(options.rows);
  const next = createCourseCompletionRows(options);
  mkdirSync(dirname(resolvePath(path)), { recursive: true });
  const out = createWriteStream(path);
  const failed = once(out, 'error').then(([e]) => {
    throw new InputError(`${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  });
  failed.catch(() => {});
  const hash = createHash('sha256');
  let bytes = 0;
  const write = async (s: string) => {
    hash.update(s);
    bytes += Buffer.byteLength(s);
    if (!out.write(s)) await Promise.race([once(out, 'drain'), failed]);
  };
  await write(`${COURSE_COMPLETION_HEADER.join(',')}\n`);
  const chunk: string[] = [];
  for (let i = 0; i < options.rows; i++) {
    chunk.push(next());
    if (chunk.length === 2000 || i === options.rows - 1) {
      chunk.push('');
      await write(chunk.join('\n'));
      chunk.length = 0;
    }
  }
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
  return { rows: options.rows, bytes, sha256: hash.digest('hex') };
}
