import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { InputError } from '../errors.js';
import { COURSE_COMPLETION_SCHEMA_ID } from '../data/builtin-schemas.js';
import { writeOuladCsv } from '../data/oulad.js';
import type { ReadOptions } from '../data/read-csv.js';
import { readCsvTable } from '../data/read-csv.js';
import type { ColumnType } from '../data/schema.js';
import { COLUMN_TYPES, schemaToJSON } from '../data/schema.js';
import { generateCourseCompletion, parseShift, writeCourseCompletionCsv } from '../data/synthetic.js';
import { formatIssues } from '../data/validate.js';

/** `--rows 1000` style integer option parser (commander reports a bad value with exit code 2). */
export function parseIntOption(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max}].`);
    }
    return n;
  };
}

function parseNumberOption(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a number in [${min}, ${max}].`);
    }
    return n;
  };
}

const list = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** `--types Age=numeric,City=categorical`. */
function parseTypes(value: string): Record<string, ColumnType> {
  const out: Record<string, ColumnType> = {};
  for (const pair of list(value)) {
    const [name, type] = pair.split('=').map((s) => s.trim());
    if (!name || !type || !COLUMN_TYPES.includes(type as ColumnType)) {
      throw new InvalidArgumentError(`expected COL=TYPE pairs with TYPE one of ${COLUMN_TYPES.join(', ')}.`);
    }
    out[name] = type as ColumnType;
  }
  return out;
}

/** Options shared by commands that read a CSV with a schema (data validate; train and predict may reuse them). */
export interface SchemaFlags {
  schema?: string;
  target?: string;
  positive?: string;
  ignore?: string[];
  ids?: string[];
  types?: Record<string, ColumnType>;
}

/** Adds --schema / --target / --positive / --ignore / --ids / --types to a command. */
export function addSchemaOptions(cmd: Command): Command {
  return cmd
    .option('--schema <name>', `a built-in schema (${COURSE_COMPLETION_SCHEMA_ID})`)
    .option('--target <column>', 'target column (any CSV; column types are inferred)')
    .option('--positive <value>', 'target value counted as positive (1)')
    .option('--ignore <columns>', 'comma-separated columns to leave out', list)
    .option('--ids <columns>', 'comma-separated identifier columns (never features)', list)
    .option(
      '--types <pairs>',
      `declared column types, e.g. Age=numeric,Zip=categorical (${COLUMN_TYPES.join('|')})`,
      parseTypes,
    );
}

/** ReadOptions from the schema flags; throws InputError when neither a schema nor target + positive is given. */
export function readOptionsFromFlags(flags: SchemaFlags): ReadOptions {
  const options: ReadOptions = {};
  if (flags.schema !== undefined) {
    if (flags.schema !== COURSE_COMPLETION_SCHEMA_ID) {
      throw new InputError(
        `unknown schema ${JSON.stringify(flags.schema)}; known: ${COURSE_COMPLETION_SCHEMA_ID}`,
      );
    }
    options.schema = COURSE_COMPLETION_SCHEMA_ID;
    if (flags.target !== undefined)
      throw new InputError('--target cannot be combined with --schema (the schema names its target)');
  } else if (flags.target === undefined || flags.positive === undefined) {
    throw new InputError(
      `give --schema ${COURSE_COMPLETION_SCHEMA_ID}, or --target COLUMN and --positive VALUE`,
    );
  }
  if (flags.target !== undefined) options.target = flags.target;
  if (flags.positive !== undefined) options.positive = flags.positive;
  if (flags.ignore) options.ignore = flags.ignore;
  if (flags.ids) options.ids = flags.ids;
  if (flags.types) options.types = flags.types;
  return options;
}

/** Registers `tassel data generate|oulad|validate`. */
export function register(program: Command): void {
  const data = program
    .command('data')
    .description('generate, build and validate datasets')
    .addHelpText(
      'after',
      `
Examples:
  tassel data generate --rows 100000 --seed 7 --out data.csv
  tassel data generate --rows 5000 --seed 8 --shift Age=+8 --shift Device_Type=Mobile*3 --out drifted.csv
  tassel data validate --data data.csv --schema builtin:course-completion
  tassel data validate --data other.csv --target churned --positive yes --print-schema
  tassel data oulad --raw ../shared/anchors/data/oulad --cutoff-day 60 --out oulad.csv --split-dir oulad/`,
    );

  data
    .command('generate')
    .description('write synthetic course-completion data (40 columns; byte-identical for the same seed)')
    .requiredOption('--rows <n>', 'number of rows', parseIntOption(1, 100_000_000))
    .option('--seed <s>', 'PRNG seed', parseIntOption(0, 4_294_967_295), 42)
    .requiredOption('--out <file>', 'output CSV file ("-" for standard output)')
    .option(
      '--missing-rate <r>',
      'share of optional feature cells (Quiz_Score_Avg, Project_Grade, Satisfaction_Rating) left empty, 0..0.5',
      parseNumberOption(0, 0.5),
      0,
    )
    .option(
      '--shift <change...>',
      'covariate shift, applied where the value is generated: Age=+5, Quiz_Score_Avg=-8, Time_Spent_Hours=*0.7, Device_Type=Mobile*3,Desktop*0.5',
    )
    .option(
      '--concept-drift <s>',
      'change the completion process itself, 0 (none) .. 1 (full): same inputs, different outcomes',
      parseNumberOption(0, 1),
      0,
    )
    .action(
      async (o: {
        rows: number;
        seed: number;
        out: string;
        missingRate: number;
        shift?: string[];
        conceptDrift: number;
      }) => {
        const options = {
          rows: o.rows,
          seed: o.seed,
          missingRate: o.missingRate,
          ...(o.shift ? { shift: parseShift(o.shift) } : {}),
          ...(o.conceptDrift ? { conceptDrift: o.conceptDrift } : {}),
        };
        if (o.out === '-') {
          process.stdout.write(generateCourseCompletion(options));
          return;
        }
        const t0 = performance.now();
        const r = await writeCourseCompletionCsv(o.out, options);
        const s = (performance.now() - t0) / 1000;
        process.stdout.write(
          `wrote ${r.rows} rows (${r.bytes} bytes) to ${o.out} in ${s.toFixed(2)} s; sha256 ${r.sha256}\n`,
        );
      },
    );

  data
    .command('oulad')
    .description(
      'build the per-enrolment OULAD table known at a cut-off day (same definitions as the Python reference)',
    )
    .requiredOption(
      '--raw <dir>',
      'folder with studentInfo, studentRegistration, courses, assessments, studentAssessment CSVs',
    )
    .option(
      '--cutoff-day <day>',
      'day of the presentation at which to predict (day 0 = module start)',
      parseIntOption(-100, 1000),
      60,
    )
    .option('--out <file>', 'output CSV file: every enrolment')
    .option(
      '--split-dir <dir>',
      "also write the reference's features_train.csv (with is_val) and features_test.csv there (scikit-learn's stratified 80/20 split, seed 42, reproduced exactly)",
    )
    .option('--no-vle', 'do not read studentVle.csv even when present')
    .option(
      '--assessment-detail',
      'append 20 columns the reference lacks: per-assessment timing and scores, score trend, other enrolments (all dated <= the cut-off)',
    )
    .action(
      async (o: {
        raw: string;
        cutoffDay: number;
        out?: string;
        splitDir?: string;
        vle: boolean;
        assessmentDetail?: boolean;
      }) => {
        if (!o.out && !o.splitDir) throw new InputError('give --out FILE and/or --split-dir DIR');
        const r = await writeOuladCsv({
          rawDir: o.raw,
          cutoffDay: o.cutoffDay,
          out: o.out,
          splitDir: o.splitDir,
          useVle: o.vle,
          assessmentDetail: o.assessmentDetail ?? false,
        });
        const pct = ((100 * r.positives) / Math.max(r.kept, 1)).toFixed(2);
        const where = [o.out, o.splitDir && `${o.splitDir}/features_{train,test}.csv`]
          .filter(Boolean)
          .join(' and ');
        process.stdout.write(
          `wrote ${r.kept} enrolments of ${r.enrolments} (not unregistered by day ${o.cutoffDay}; ${pct}% positive${r.usedVle ? '; with VLE clicks' : ''}${r.assessmentDetail ? '; with assessment detail' : ''}) to ${where}\n`,
        );
      },
    );

  addSchemaOptions(
    data
      .command('validate')
      .description(
        'check a CSV against a schema; lists every problem (row, column, value, expected) and exits 2 if any',
      ),
  )
    .requiredOption('--data <file>', 'CSV file to check')
    .option('--max-issues <n>', 'issues to list', parseIntOption(1, 1_000_000), 50)
    .option('--print-schema', 'print the (built-in or inferred) schema as JSON')
    .addOption(new Option('--json', 'print one JSON object instead of text'))
    .action(
      async (o: SchemaFlags & { data: string; maxIssues: number; printSchema?: boolean; json?: boolean }) => {
        const options = readOptionsFromFlags(o);
        options.policy = 'impute';
        options.maxIssues = o.maxIssues;
        const t0 = performance.now();
        const r = await readCsvTable(o.data, options);
        const seconds = (performance.now() - t0) / 1000;
        const out = {
          file: o.data,
          rows: r.rows,
          columns: r.table.names.length,
          positives: r.y ? r.y.reduce((a, b) => a + b, 0) : null,
          issue_count: r.issueCount,
          issues: r.issues,
          ignored_columns: r.ignoredColumns,
          sha256: r.sha256,
          seconds,
          ...(o.printSchema ? { schema: schemaToJSON(r.schema) } : {}),
        };
        if (o.json) process.stdout.write(`${JSON.stringify(out)}\n`);
        else {
          const lines = [
            `${o.data}: ${r.rows} rows, ${r.table.names.length} columns read in ${seconds.toFixed(2)} s; sha256 ${r.sha256}`,
          ];
          if (r.y)
            lines.push(
              `target ${r.schema.target}: ${out.positives} positive (${JSON.stringify(r.schema.positiveLabel)}), ${r.y.length - (out.positives ?? 0)} negative`,
            );
          if (r.ignoredColumns.length)
            lines.push(`columns not in the schema (not read): ${r.ignoredColumns.join(', ')}`);
          if (o.printSchema) lines.push(JSON.stringify(schemaToJSON(r.schema), null, 2));
          lines.push(
            r.issueCount === 0 ? 'no issues' : formatIssues(o.data, r.issues, r.issueCount, o.maxIssues),
          );
          process.stdout.write(`${lines.join('\n')}\n`);
        }
        if (r.issueCount > 0) {
          throw new InputError(
            `${o.data}: ${r.issueCount} invalid value${r.issueCount === 1 ? '' : 's'} (listed above)`,
          );
        }
      },
    );
}
