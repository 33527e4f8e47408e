import { InputError } from '../errors.js';
import type { ColumnSpec, ColumnType, DatasetSchema } from './schema.js';
import { COLUMN_TYPES, DEFAULT_FALSE_VALUES, DEFAULT_TRUE_VALUES } from './schema.js';

/** Name by which the CLI and options refer to the built-in course-completion schema. */
export const COURSE_COMPLETION_SCHEMA_ID = 'builtin:course-completion';

/**
 * Features of the course-completion data that may be missing (absent or null in a record, an empty cell in a
 * file): each exists only after an event a student may not have reached yet. Quiz_Score_Avg needs a quiz
 * attempt, Project_Grade a graded project, Satisfaction_Rating an answered survey. Every other feature is
 * known for every enrolled student (profile, course, payment, activity counters that start at 0), so a record
 * without it is refused rather than scored as if the value were unknown (MLflow's `required` columns).
 */
export const COURSE_COMPLETION_OPTIONAL: readonly string[] = [
  'Quiz_Score_Avg',
  'Project_Grade',
  'Satisfaction_Rating',
];
const optional = (name: string) => COURSE_COMPLETION_OPTIONAL.includes(name);

const num = (name: string, min: number, max: number, nullable = optional(name)): ColumnSpec => ({
  name,
  type: 'numeric',
  role: 'feature',
  min,
  max,
  nullable,
});
const int = (name: string, min: number, max: number, nullable = optional(name)): ColumnSpec => ({
  name,
  type: 'integer',
  role: 'feature',
  min,
  max,
  nullable,
});
const cat = (name: string, allowed?: string[]): ColumnSpec =>
  allowed
    ? { name, type: 'categorical', role: 'feature', allowed, nullable: optional(name) }
    : { name, type: 'categorical', role: 'feature', nullable: optional(name) };
const yesNo = (name: string): ColumnSpec => ({
  name,
  type: 'boolean',
  role: 'feature',
  nullable: optional(name),
  trueValues: ['Yes'],
  falseValues: ['No'],
});

/** Allowed values of the categorical columns of the course-completion dataset (also used by the generator). */
export const COURSE_COMPLETION_CATEGORIES = {
  Gender: ['Male', 'Female', 'Other'],
  Education_Level: ['High School', 'Diploma', 'Bachelor', 'Master', 'PhD'],
  Employment_Status: ['Student', 'Employed', 'Self-Employed', 'Unemployed'],
  Device_Type: ['Mobile', 'Laptop', 'Desktop', 'Tablet'],
  Internet_Connection_Quality: ['Low', 'Medium', 'High'],
  Category: [
    'Programming',
    'Data Science',
    'Business',
    'Design',
    'Marketing',
    'Language',
    'Personal Development',
  ],
  Course_Level: ['Beginner', 'Intermediate', 'Advanced'],
  Payment_Mode: ['Credit Card', 'Debit Card', 'UPI', 'Net Banking', 'PayPal', 'Scholarship', 'Free'],
} as const;

/**
 * The 40 columns of the public "Student Course Completion Prediction" dataset, in file order.
 * Student_ID and Name are identifiers (never features); Enrollment_Date is day-first (DD-MM-YYYY as the data
 * writes it, or DD/MM/YYYY; ISO YYYY-MM-DD is accepted too); Fee_Paid and Discount_Used are Yes/No;
 * the target Completed is "Completed" (positive) or "Not Completed".
 * City, Course_ID and Course_Name are open categorical sets (unseen values are allowed).
 * Every feature is required except those in {@link COURSE_COMPLETION_OPTIONAL}.
 */
export const courseCompletionSchema: DatasetSchema = {
  name: 'course-completion',
  target: 'Completed',
  positiveLabel: 'Completed',
  negativeLabel: 'Not Completed',
  columns: [
    { name: 'Student_ID', type: 'id', role: 'id', nullable: false },
    { name: 'Name', type: 'id', role: 'id', nullable: true },
    cat('Gender', [...COURSE_COMPLETION_CATEGORIES.Gender]),
    int('Age', 14, 90),
    cat('Education_Level', [...COURSE_COMPLETION_CATEGORIES.Education_Level]),
    cat('Employment_Status', [...COURSE_COMPLETION_CATEGORIES.Employment_Status]),
    cat('City'),
    cat('Device_Type', [...COURSE_COMPLETION_CATEGORIES.Device_Type]),
    cat('Internet_Connection_Quality', [...COURSE_COMPLETION_CATEGORIES.Internet_Connection_Quality]),
    cat('Course_ID'),
    cat('Course_Name'),
    cat('Category', [...COURSE_COMPLETION_CATEGORIES.Category]),
    cat('Course_Level', [...COURSE_COMPLETION_CATEGORIES.Course_Level]),
    int('Course_Duration_Days', 1, 730),
    num('Instructor_Rating', 0, 5),
    int('Login_Frequency', 0, 1000),
    num('Average_Session_Duration_Min', 0, 1440),
    num('Video_Completion_Rate', 0, 100),
    int('Discussion_Participation', 0, 10000),
    num('Time_Spent_Hours', 0, 10000),
    int('Days_Since_Last_Login', 0, 3650),
    int('Notifications_Checked', 0, 100000),
    num('Peer_Interaction_Score', 0, 100),
    int('Assignments_Submitted', 0, 1000),
    int('Assignments_Missed', 0, 1000),
    int('Quiz_Attempts', 0, 1000),
    num('Quiz_Score_Avg', 0, 100),
    num('Project_Grade', 0, 100),
    num('Progress_Percentage', 0, 100),
    int('Rewatch_Count', 0, 10000),
    { name: 'Enrollment_Date', type: 'date', role: 'feature', dateFormat: 'DMY', nullable: false },
    cat('Payment_Mode', [...COURSE_COMPLETION_CATEGORIES.Payment_Mode]),
    yesNo('Fee_Paid'),
    num('Payment_Amount', 0, 1_000_000),
    yesNo('Discount_Used'),
    num('App_Usage_Percentage', 0, 100),
    int('Reminder_Emails_Clicked', 0, 10000),
    int('Support_Tickets_Raised', 0, 1000),
    num('Satisfaction_Rating', 0, 5),
    {
      name: 'Completed',
      type: 'categorical',
      role: 'target',
      allowed: ['Completed', 'Not Completed'],
      nullable: false,
    },
  ],
};

/** Options for a schema inferred from a CSV's header and a sample of its rows. */
export interface SchemaOptions {
  /** Target column name. */
  target: string;
  /** Target value counted as positive (1). */
  positive: string;
  /** Columns to drop (role 'ignore'). */
  ignore?: string[];
  /** Columns that are identifiers (role 'id'). */
  ids?: string[];
  /** Declared column types, overriding inference. */
  types?: Record<string, ColumnType>;
}

const ID_NAME = /(^|[_\s.-])(id|uuid|guid|key)$|^id[_\s.-]|^(name|full_?name|email|e-?mail)$/i;
const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const ISO_DATE_RE = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.]+Z?)?$/;
const SLASH_DATE_RE = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/;
/** Most distinct values a string column may have (in the sample) and still be inferred categorical. */
const MAX_CATEGORIES = 200;

/** True if `name` looks like an identifier column (Student_ID, id, uuid, Name, email...). */
export function looksLikeIdName(name: string): boolean {
  return ID_NAME.test(name.trim());
}

/** Infer a column's type from sample values (empty cells ignored). */
export function inferColumnType(
  name: string,
  values: string[],
): { type: ColumnType; dateFormat?: 'DMY' | 'MDY' | 'YMD' } {
  const present = values
    .map((v) => v.trim())
    .filter((v) => v !== '' && !/^(na|n\/a|nan|null|none)$/i.test(v));
  if (present.length === 0) return { type: 'categorical' };
  const distinct = new Set(present);
  const idName = looksLikeIdName(name);
  if (present.every((v) => NUMBER_RE.test(v))) {
    if (idName && distinct.size === present.length) return { type: 'id' };
    // Never 'integer' from a sample: a fractional value later in the file would then be an issue.
    return { type: 'numeric' };
  }
  const lower = new Set([...distinct].map((v) => v.toLowerCase()));
  const boolWords = new Set(['yes', 'no', 'true', 'false', 'y', 'n']);
  if ([...lower].every((v) => boolWords.has(v))) return { type: 'boolean' };
  if (present.every((v) => ISO_DATE_RE.test(v))) return { type: 'date', dateFormat: 'YMD' };
  if (present.every((v) => SLASH_DATE_RE.test(v))) {
    let firstOver12 = false;
    let secondOver12 = false;
    for (const v of present) {
      const m = SLASH_DATE_RE.exec(v)!;
      if (Number(m[1]) > 12) firstOver12 = true;
      if (Number(m[2]) > 12) secondOver12 = true;
    }
    return { type: 'date', dateFormat: secondOver12 && !firstOver12 ? 'MDY' : 'DMY' };
  }
  // An id-like name alone is not enough (Course_ID with 20 courses is a category): it must also be mostly distinct.
  if (idName && distinct.size > present.length / 2) return { type: 'id' };
  if (distinct.size === present.length && present.length >= 20) return { type: 'id' };
  if (distinct.size > MAX_CATEGORIES) return { type: 'id' };
  return { type: 'categorical' };
}

/**
 * The schema to read a file with: the built-in course-completion schema for
 * 'builtin:course-completion', else one inferred from `header` and `sample` (rows of cells, in header order)
 * with the declared target, positive label, ignored and id columns and type overrides.
 * Throws InputError for an unknown built-in name, a missing target column or unknown column names in options.
 */
export function resolveSchema(
  source: string | SchemaOptions,
  header: string[],
  sample: string[][] = [],
): DatasetSchema {
  if (typeof source === 'string') {
    if (source === COURSE_COMPLETION_SCHEMA_ID || source === 'course-completion')
      return courseCompletionSchema;
    throw new InputError(`unknown schema ${JSON.stringify(source)}; known: ${COURSE_COMPLETION_SCHEMA_ID}`);
  }
  const { target, positive } = source;
  const known = new Set(header);
  if (!known.has(target)) {
    throw new InputError(
      `missing target column ${JSON.stringify(target)}: not in the header (line 1); columns: ${header.join(', ')}`,
    );
  }
  // Ignored/id/typed columns absent from this file are fine: train and test files share options but may
  // differ in bookkeeping columns (e.g. OULAD's is_val is only in the training file).
  for (const [col, t] of Object.entries(source.types ?? {})) {
    if (!COLUMN_TYPES.includes(t))
      throw new InputError(`column ${col}: unknown type ${t}; known: ${COLUMN_TYPES.join(', ')}`);
  }
  const ignore = new Set(source.ignore ?? []);
  const ids = new Set(source.ids ?? []);
  const columns: ColumnSpec[] = header.map((name, j) => {
    const values = sample.map((row) => row[j] ?? '');
    if (name === target) {
      const spec: ColumnSpec = { name, type: 'categorical', role: 'target', nullable: false };
      return spec;
    }
    // A column without a name (e.g. a trailing comma or a saved pandas index) cannot be addressed: left out.
    if (ignore.has(name) || name === '')
      return { name, type: source.types?.[name] ?? 'categorical', role: 'ignore' };
    const declared = source.types?.[name];
    const inferred = declared ? { type: declared } : inferColumnType(name, values);
    let type = inferred.type;
    if (ids.has(name)) type = 'id';
    const spec: ColumnSpec = { name, type, role: type === 'id' ? 'id' : 'feature', nullable: true };
    if (type === 'date')
      spec.dateFormat = ('dateFormat' in inferred ? inferred.dateFormat : undefined) ?? 'DMY';
    if (type === 'boolean') {
      spec.trueValues = [...DEFAULT_TRUE_VALUES];
      spec.falseValues = [...DEFAULT_FALSE_VALUES];
    }
    return spec;
  });
  const schema: DatasetSchema = { name: 'inferred', columns, target, positiveLabel: positive };
  // With exactly two target values in the sample, the other one is the negative label, so a third
  // value later in the file is reported instead of silently counted as negative.
  const j = header.indexOf(target);
  const seen = new Set(sample.map((r) => (r[j] ?? '').trim()).filter((v) => v !== ''));
  if (seen.size === 2 && seen.has(positive)) {
    schema.negativeLabel = [...seen].find((v) => v !== positive)!;
    columns[j]!.allowed = [positive, schema.negativeLabel];
  }
  return schema;
}
