import { createReadStream, existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { InputError } from '../errors.js';
import { createCsvSplitter } from './csv-split.js';
import { anchorsSplit } from './sklearn-split.js';
import { createOuladDetail, type DetailSubmission, OULAD_DETAIL } from './oulad-detail.js';
import type { ColumnSpec, DatasetSchema } from './schema.js';
import type { ColumnData, Table } from './table.js';
import { createTable } from './table.js';

/**
 * The Open University Learning Analytics Dataset (OULAD) as one row per enrolment, known at a cut-off day of
 * the presentation. A line-by-line port of `build_oulad` in ../shared/anchors/python_ref/common.py, so Tassel's
 * figures compare with the Python reference: same population, features, column names and order, row order and
 * row_id. When studentVle.csv is present, three click features (dated <= the cut-off) are appended after the
 * numeric features; the reference has no VLE data, so they are absent there. With `assessmentDetail`, the
 * columns of ./oulad-detail.ts (per-assessment timing and scores, other enrolments) come after those.
 */

/** Numeric features of the reference, in its order. */
export const OULAD_NUMERIC = [
  'num_of_prev_attempts',
  'studied_credits',
  'date_registration',
  'module_presentation_length',
  'n_assess_due',
  'n_submitted',
  'n_submitted_due',
  'frac_submitted_due',
  'mean_score',
  'min_score',
  'weighted_score_due',
  'mean_days_early',
  'n_late',
  'n_banked',
  'n_cma_submitted',
  'n_tma_submitted',
] as const;
/** Click features added when studentVle.csv is present. */
export const OULAD_VLE = ['vle_clicks', 'vle_active_days', 'vle_days_since_last_click'] as const;
/** Categorical features of the reference, in its order. */
export const OULAD_CATEGORICAL = [
  'code_module',
  'code_presentation',
  'gender',
  'region',
  'highest_education',
  'imd_band',
  'age_band',
  'disability',
] as const;
/** Columns pandas writes as integers (the rest of the numeric ones are float64 there: "2.0"). */
const INT_COLUMNS = new Set([
  'num_of_prev_attempts',
  'studied_credits',
  'module_presentation_length',
  'vle_clicks',
  'vle_active_days',
]);

/** Options of {@link buildOuladTable}. */
export interface OuladOptions {
  /** Folder with studentInfo.csv, studentRegistration.csv, courses.csv, assessments.csv, studentAssessment.csv (studentVle.csv optional). */
  rawDir: string;
  /** Day of the presentation (day 0 = module start) at which the prediction is made; default 60. */
  cutoffDay?: number;
  /** Read studentVle.csv when present; default true. */
  useVle?: boolean;
  /** Append the columns of {@link OULAD_DETAIL} (not in the reference); default false. */
  assessmentDetail?: boolean;
}

/** The per-enrolment table and how it was made. */
export interface OuladResult {
  /** Columns row_id, id_student, numeric features, categorical features, target (0/1), in that order. */
  table: Table;
  /** Schema to read the written CSV with (target 'target', positive '1'; row_id and id_student are ids). */
  schema: DatasetSchema;
  /** Enrolments in studentInfo, and those kept (not unregistered on or before the cut-off). */
  enrolments: number;
  kept: number;
  positives: number;
  usedVle: boolean;
  assessmentDetail: boolean;
}

interface RawTable {
  header: string[];
  rows: string[][];
}

async function readRaw(dir: string, file: string, required: string[]): Promise<RawTable> {
  const path = join(dir, file);
  if (!existsSync(path))
    throw new InputError(`${path}: file not found (expected the raw OULAD table ${file})`);
  const rows: string[][] = [];
  let header: string[] | null = null;
  const splitter = createCsvSplitter((cells) => {
    if (header === null) header = cells.map((c) => c.trim());
    else rows.push(cells.slice());
  }, path);
  const decoder = new StringDecoder('utf8');
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>)
    splitter.push(decoder.write(chunk));
  splitter.push(decoder.end());
  splitter.end();
  if (header === null) throw new InputError(`${path}: the file is empty`);
  const h: string[] = header;
  const missing = required.filter((c) => !h.includes(c));
  if (missing.length) throw new InputError(`${path}: missing column(s) ${missing.join(', ')}`);
  return { header: h, rows };
}

/** pandas-style numeric cell: empty (or "?", the original release's missing marker) is NaN. */
function num(s: string | undefined, path: string, row: number, column: string): number {
  if (s === undefined || s === '' || s === '?') return Number.NaN;
  const v = Number(s);
  if (!Number.isFinite(v) || s.trim() === '') {
    throw new InputError(`${path}: row ${row}, column ${column}: ${JSON.stringify(s)} is not a number`);
  }
  return v;
}

const col = (t: RawTable, name: string) => t.header.indexOf(name);

/** Builds the per-enrolment OULAD table at `cutoffDay` from the raw tables (see the module comment). */
export async function buildOuladTable(options: OuladOptions): Promise<OuladResult> {
  const cutoff = options.cutoffDay ?? 60;
  if (!Number.isFinite(cutoff))
    throw new InputError(`--cutoff-day must be a number, got ${options.cutoffDay}`);
  const dir = options.rawDir;
  if (!existsSync(dir)) throw new InputError(`${dir}: folder not found`);
  const key3 = ['code_module', 'code_presentation', 'id_student'];
  const info = await readRaw(dir, 'studentInfo.csv', [
    ...key3,
    'gender',
    'region',
    'highest_education',
    'imd_band',
    'age_band',
    'num_of_prev_attempts',
    'studied_credits',
    'disability',
    'final_result',
  ]);
  const reg = await readRaw(dir, 'studentRegistration.csv', [
    ...key3,
    'date_registration',
    'date_unregistration',
  ]);
  const courses = await readRaw(dir, 'courses.csv', [
    'code_module',
    'code_presentation',
    'module_presentation_length',
  ]);
  const assess = await readRaw(dir, 'assessments.csv', [
    'code_module',
    'code_presentation',
    'id_assessment',
    'assessment_type',
    'date',
    'weight',
  ]);
  const sa = await readRaw(dir, 'studentAssessment.csv', [
    'id_assessment',
    'id_student',
    'date_submitted',
    'is_banked',
    'score',
  ]);

  // studentRegistration and courses, left-joined on the enrolment / presentation key.
  const regPath = join(dir, 'studentRegistration.csv');
  const [rm, rp, rs, rdr, rdu] = [
    'code_module',
    'code_presentation',
    'id_student',
    'date_registration',
    'date_unregistration',
  ].map((c) => col(reg, c));
  const regByKey = new Map<string, { registration: number; unregistration: number }>();
  reg.rows.forEach((r, i) => {
    const k = `${r[rm!]}|${r[rp!]}|${r[rs!]}`;
    if (regByKey.has(k)) throw new InputError(`${regPath}: row ${i + 1}: enrolment ${k} appears twice`);
    regByKey.set(k, {
      registration: num(r[rdr!], regPath, i + 1, 'date_registration'),
      unregistration: num(r[rdu!], regPath, i + 1, 'date_unregistration'),
    });
  });
  const coursesPath = join(dir, 'courses.csv');
  const lengthByPres = new Map<string, number>();
  const [cm, cp, cl] = ['code_module', 'code_presentation', 'module_presentation_length'].map((c) =>
    col(courses, c),
  );
  courses.rows.forEach((r, i) => {
    lengthByPres.set(`${r[cm!]}|${r[cp!]}`, num(r[cl!], coursesPath, i + 1, 'module_presentation_length'));
  });

  // Non-exam assessments; those with a deadline <= cut-off are "due".
  const assessPath = join(dir, 'assessments.csv');
  const [am, ap, ai, at, ad, aw] = [
    'code_module',
    'code_presentation',
    'id_assessment',
    'assessment_type',
    'date',
    'weight',
  ].map((c) => col(assess, c));
  const detail = options.assessmentDetail ?? false;
  const nonExam = new Map<string, { pres: string; type: string; date: number; weight: number }>();
  const submissions: DetailSubmission[] = [];
  const nDue = new Map<string, number>();
  const wDue = new Map<string, number>();
  assess.rows.forEach((r, i) => {
    if (r[at!] === 'Exam') return;
    const a = {
      pres: `${r[am!]}|${r[ap!]}`,
      type: r[at!]!,
      date: num(r[ad!], assessPath, i + 1, 'date'),
      weight: num(r[aw!], assessPath, i + 1, 'weight'),
    };
    nonExam.set(String(Number(r[ai!])), a);
    if (a.date <= cutoff) {
      nDue.set(a.pres, (nDue.get(a.pres) ?? 0) + 1);
      // pandas' groupby sum skips NaN weights
      wDue.set(a.pres, (wDue.get(a.pres) ?? 0) + (Number.isNaN(a.weight) ? 0 : a.weight));
    }
  });

  // Submissions of non-exam assessments dated <= cut-off, aggregated per (student, presentation).
  interface Agg {
    n: number;
    scoreSum: number;
    scoreN: number;
    scoreMin: number;
    earlySum: number;
    earlyN: number;
    late: number;
    banked: number;
    cma: number;
    tma: number;
    nDue: number;
    wScore: number;
  }
  const aggs = new Map<string, Agg>();
  const saPath = join(dir, 'studentAssessment.csv');
  const [si, ss, sd, sb, sc] = ['id_assessment', 'id_student', 'date_submitted', 'is_banked', 'score'].map(
    (c) => col(sa, c),
  );
  sa.rows.forEach((r, i) => {
    const a = nonExam.get(String(Number(r[si!])));
    if (!a) return;
    const submitted = num(r[sd!], saPath, i + 1, 'date_submitted');
    if (!(submitted <= cutoff)) return;
    const score = num(r[sc!], saPath, i + 1, 'score');
    const banked = num(r[sb!], saPath, i + 1, 'is_banked');
    const k = `${a.pres}|${Number(r[ss!])}`;
    if (detail) submissions.push({ assessment: a, student: Number(r[ss!]), submitted, score });
    let g = aggs.get(k);
    if (!g) {
      g = {
        n: 0,
        scoreSum: 0,
        scoreN: 0,
        scoreMin: Number.POSITIVE_INFINITY,
        earlySum: 0,
        earlyN: 0,
        late: 0,
        banked: 0,
        cma: 0,
        tma: 0,
        nDue: 0,
        wScore: 0,
      };
      aggs.set(k, g);
    }
    g.n++;
    if (!Number.isNaN(score)) {
      g.scoreSum += score;
      g.scoreN++;
      if (score < g.scoreMin) g.scoreMin = score;
    }
    const early = a.date - submitted;
    if (!Number.isNaN(early)) {
      g.earlySum += early;
      g.earlyN++;
    }
    if (submitted > a.date) g.late++;
    if (!Number.isNaN(banked)) g.banked += banked;
    if (a.type === 'CMA') g.cma++;
    if (a.type === 'TMA') g.tma++;
    if (a.date <= cutoff) {
      g.nDue++;
      const w = a.weight * (Number.isNaN(score) ? 0 : score);
      if (!Number.isNaN(w)) g.wScore += w;
    }
  });

  // Optional VLE clicks dated <= cut-off.
  const vlePath = join(dir, 'studentVle.csv');
  const usedVle = (options.useVle ?? true) && existsSync(vlePath);
  const vle = new Map<string, { clicks: number; days: Set<number>; last: number }>();
  if (usedVle) await readVle(vlePath, cutoff, vle);

  // The population: enrolments not unregistered on or before the cut-off, sorted by the key.
  const infoPath = join(dir, 'studentInfo.csv');
  const ix = Object.fromEntries(info.header.map((h, i) => [h, i])) as Record<string, number>;
  const kept: { row: string[]; module: string; pres: string; student: number; line: number }[] = [];
  info.rows.forEach((r, i) => {
    const reg1 = regByKey.get(`${r[ix.code_module!]}|${r[ix.code_presentation!]}|${r[ix.id_student!]}`);
    if (reg1 && reg1.unregistration <= cutoff) return;
    kept.push({
      row: r,
      module: r[ix.code_module!]!,
      pres: r[ix.code_presentation!]!,
      student: num(r[ix.id_student!], infoPath, i + 1, 'id_student'),
      line: i + 1,
    });
  });
  kept.sort((a, b) =>
    a.module < b.module
      ? -1
      : a.module > b.module
        ? 1
        : a.pres < b.pres
          ? -1
          : a.pres > b.pres
            ? 1
            : a.student - b.student,
  );

  const n = kept.length;
  const numericNames: string[] = [
    ...OULAD_NUMERIC,
    ...(usedVle ? OULAD_VLE : []),
    ...(detail ? OULAD_DETAIL : []),
  ];
  const detailOf = detail
    ? createOuladDetail({
        cutoff,
        assessments: [...nonExam.values()],
        submissions,
        enrolments: info.rows.map((r, i) => ({
          module: r[ix.code_module!]!,
          presentation: r[ix.code_presentation!]!,
          student: num(r[ix.id_student!], infoPath, i + 1, 'id_student'),
          unregistration:
            regByKey.get(`${r[ix.code_module!]}|${r[ix.code_presentation!]}|${r[ix.id_student!]}`)
              ?.unregistration ?? Number.NaN,
        })),
      })
    : null;
  const numeric: Record<string, Float64Array> = Object.fromEntries(
    numericNames.map((c) => [c, new Float64Array(n)]),
  );
  const cats: Record<string, (string | null)[]> = Object.fromEntries(
    OULAD_CATEGORICAL.map((c) => [c, new Array<string | null>(n)]),
  );
  const rowId: string[] = new Array(n);
  const idStudent: string[] = new Array(n);
  const target = new Float64Array(n);
  let positives = 0;
  kept.forEach((e, i) => {
    const r = e.row;
    const pres = `${e.module}|${e.pres}`;
    const regE = regByKey.get(`${pres}|${r[ix.id_student!]}`);
    const g = aggs.get(`${pres}|${e.student}`);
    const due = nDue.get(pres) ?? 0;
    const wdue = wDue.get(pres) ?? 0;
    const set = (c: string, v: number) => {
      numeric[c]![i] = v;
    };
    rowId[i] = String(i);
    idStudent[i] = String(e.student);
    set('num_of_prev_attempts', num(r[ix.num_of_prev_attempts!], infoPath, e.line, 'num_of_prev_attempts'));
    set('studied_credits', num(r[ix.studied_credits!], infoPath, e.line, 'studied_credits'));
    set('date_registration', regE ? regE.registration : Number.NaN);
    set('module_presentation_length', lengthByPres.get(pres) ?? Number.NaN);
    set('n_assess_due', due);
    set('n_submitted', g?.n ?? 0);
    set('n_submitted_due', g?.nDue ?? 0);
    set('frac_submitted_due', due > 0 ? (g?.nDue ?? 0) / Math.max(due, 1) : Number.NaN);
    set('mean_score', g && g.scoreN > 0 ? g.scoreSum / g.scoreN : Number.NaN);
    set('min_score', g && g.scoreN > 0 ? g.scoreMin : Number.NaN);
    set('weighted_score_due', wdue > 0 ? (g?.wScore ?? 0) / Math.max(wdue, 1e-9) : Number.NaN);
    set('mean_days_early', g && g.earlyN > 0 ? g.earlySum / g.earlyN : Number.NaN);
    set('n_late', g?.late ?? 0);
    set('n_banked', g?.banked ?? 0);
    set('n_cma_submitted', g?.cma ?? 0);
    set('n_tma_submitted', g?.tma ?? 0);
    if (usedVle) {
      const v = vle.get(`${pres}|${e.student}`);
      set('vle_clicks', v?.clicks ?? 0);
      set('vle_active_days', v?.days.size ?? 0);
      set('vle_days_since_last_click', v ? cutoff - v.last : Number.NaN);
    }
    if (detailOf) for (const [c, x] of Object.entries(detailOf(e.module, e.pres, e.student))) set(c, x);
    for (const c of OULAD_CATEGORICAL) {
      const s = r[ix[c]!];
      cats[c]![i] = s === undefined || s === '' || s === '?' ? null : s;
    }
    const result = r[ix.final_result!];
    target[i] = result === 'Pass' || result === 'Distinction' ? 1 : 0;
    positives += target[i]!;
  });

  const columns: Record<string, ColumnData> = {
    row_id: rowId,
    id_student: idStudent,
    ...numeric,
    ...cats,
    target,
  };
  const names = ['row_id', 'id_student', ...numericNames, ...OULAD_CATEGORICAL, 'target'];
  return {
    table: createTable(columns, names),
    schema: ouladSchema(usedVle, detail),
    enrolments: info.rows.length,
    kept: n,
    positives,
    usedVle,
    assessmentDetail: detail,
  };
}

async function readVle(
  path: string,
  cutoff: number,
  out: Map<string, { clicks: number; days: Set<number>; last: number }>,
) {
  let h: string[] | null = null;
  let im = -1;
  let ip = -1;
  let is = -1;
  let idt = -1;
  let ic = -1;
  let line = 0;
  const splitter = createCsvSplitter((cells) => {
    line++;
    if (h === null) {
      h = cells.map((c) => c.trim());
      [im, ip, is, idt, ic] = ['code_module', 'code_presentation', 'id_student', 'date', 'sum_click'].map(
        (c) => h!.indexOf(c),
      ) as [number, number, number, number, number];
      if ([im, ip, is, idt, ic].includes(-1))
        throw new InputError(
          `${path}: expected columns code_module, code_presentation, id_student, date, sum_click`,
        );
      return;
    }
    const day = num(cells[idt], path, line - 1, 'date');
    if (!(day <= cutoff)) return;
    const k = `${cells[im]}|${cells[ip]}|${Number(cells[is])}`;
    let v = out.get(k);
    if (!v) {
      v = { clicks: 0, days: new Set(), last: Number.NEGATIVE_INFINITY };
      out.set(k, v);
    }
    v.clicks += num(cells[ic], path, line - 1, 'sum_click') || 0;
    v.days.add(day);
    if (day > v.last) v.last = day;
  }, path);
  const decoder = new StringDecoder('utf8');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>)
    splitter.push(decoder.write(chunk));
  splitter.push(decoder.end());
  splitter.end();
}

/** Schema of the written OULAD table (target 'target' with positive '1'; row_id and id_student are identifiers). */
export function ouladSchema(withVle = false, withDetail = false): DatasetSchema {
  const numeric: ColumnSpec[] = [
    ...OULAD_NUMERIC,
    ...(withVle ? OULAD_VLE : []),
    ...(withDetail ? OULAD_DETAIL : []),
  ].map((name) => ({
    name,
    type: 'numeric',
    role: 'feature',
    nullable: true,
  }));
  return {
    name: 'oulad',
    target: 'target',
    positiveLabel: '1',
    negativeLabel: '0',
    columns: [
      { name: 'row_id', type: 'id', role: 'id', nullable: false },
      { name: 'id_student', type: 'id', role: 'id', nullable: false },
      ...numeric,
      ...OULAD_CATEGORICAL.map(
        (name): ColumnSpec => ({ name, type: 'categorical', role: 'feature', nullable: true }),
      ),
      { name: 'target', type: 'categorical', role: 'target', allowed: ['0', '1'], nullable: false },
    ],
  };
}

/** Formats a number as pandas' to_csv does for its dtype: float64 columns keep ".0", NaN is empty. */
function pandasNumber(v: number, integerColumn: boolean): string {
  if (Number.isNaN(v)) return '';
  if (integerColumn) return String(v);
  return Number.isInteger(v) && Math.abs(v) < 1e16 ? `${v}.0` : String(v);
}

const csvField = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** The table as CSV text, formatted like the reference's pandas output (all rows, or `rows` in that order). */
export function ouladToCsv(table: Table, rows?: ArrayLike<number>, isVal?: Uint8Array): string {
  const names = isVal ? [table.names[0]!, 'is_val', ...table.names.slice(1)] : table.names;
  const lines = [names.join(',')];
  const cols = table.names.map((name) => table.columns[name]!);
  const n = rows ? rows.length : table.nRows;
  for (let r = 0; r < n; r++) {
    const i = rows ? rows[r]! : r;
    const cells: string[] = [];
    for (let j = 0; j < cols.length; j++) {
      const c = cols[j]!;
      const name = table.names[j]!;
      if (c instanceof Float64Array)
        cells.push(pandasNumber(c[i]!, name === 'target' || INT_COLUMNS.has(name)));
      else cells.push(csvField(c[i] ?? ''));
      if (j === 0 && isVal) cells.push(String(isVal[i]));
    }
    lines.push(cells.join(','));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The reference's train/test files: scikit-learn's stratified 80/20 split (seed 42) reproduced exactly, with
 * `is_val` (a stratified 10 % of train, seed 42) after row_id in the train file. At cut-off day 60 these are
 * byte-identical to ../shared/anchors/data/oulad/features_train.csv and features_test.csv.
 */
export function ouladSplitCsv(table: Table): {
  train: string;
  test: string;
  nTrain: number;
  nTest: number;
  nVal: number;
} {
  const y = table.columns.target as Float64Array;
  const split = anchorsSplit(y);
  let nVal = 0;
  for (const v of split.isVal) nVal += v;
  return {
    train: ouladToCsv(table, split.train, split.isVal),
    test: ouladToCsv(table, split.test),
    nTrain: split.train.length,
    nTest: split.test.length,
    nVal,
  };
}

async function writeText(path: string, text: string): Promise<void> {
  try {
    await fsp.writeFile(path, text);
  } catch (e) {
    throw new InputError(`${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/**
 * Builds the table and writes it to `out` (when given) and, with `splitDir`, the reference's
 * features_train.csv / features_test.csv there; returns the build result.
 */
export async function writeOuladCsv(
  options: OuladOptions & { out?: string; splitDir?: string },
): Promise<OuladResult> {
  const result = await buildOuladTable(options);
  if (options.out) await writeText(options.out, ouladToCsv(result.table));
  if (options.splitDir) {
    try {
      await fsp.mkdir(options.splitDir, { recursive: true });
    } catch (e) {
      throw new InputError(
        `${options.splitDir}: cannot create (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      );
    }
    const split = ouladSplitCsv(result.table);
    await writeText(join(options.splitDir, 'features_train.csv'), split.train);
    await writeText(join(options.splitDir, 'features_test.csv'), split.test);
  }
  return result;
}
