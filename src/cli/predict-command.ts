import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { Option } from 'commander';
import { readCsvTable } from '../data/read-csv.js';
import { type DatasetSchema, idColumns } from '../data/schema.js';
import type { RawRecord, Table } from '../data/table.js';
import { assertNoIssues, coerceRecords, type ValidationPolicy } from '../data/validate.js';
import { InputError } from '../errors.js';
import { type LoadedBundle, loadBundle } from '../ml/bundle.js';
import { explainTable, type TableExplanation } from '../ml/record-explainer.js';
import { createProgress } from './progress.js';

/**
 * Records from a JSON file (an array of objects, MLflow's `{"dataframe_records": [...]}`,
 * `{"dataframe_split": {"columns", "data"}}` or a bare split `{"columns", "data"}` as in a bundle's
 * input_example.json) or JSON Lines, validated by coerceRecords exactly as serving does.
 */
function readJsonRecords(
  path: string,
  schema: DatasetSchema,
  policy: ValidationPolicy,
): { table: Table; droppedRows: number } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(
      code === 'ENOENT' ? `${path}: file not found` : `${path}: cannot read (${code ?? String(e)})`,
    );
  }
  let records: RawRecord[];
  try {
    if (/\.jsonl$/i.test(path)) {
      records = text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as RawRecord);
    } else {
      const json = JSON.parse(text) as unknown;
      type Split = { columns?: string[]; data?: unknown[][] };
      const o = json as { dataframe_records?: unknown; dataframe_split?: Split } & Split;
      // pandas "split" orient: wrapped as MLflow's scoring request (serving_input_example.json) or bare,
      // as MLflow saves a bundle's input_example.json
      const split = o?.dataframe_split ?? o;
      if (Array.isArray(json)) records = json as RawRecord[];
      else if (Array.isArray(o?.dataframe_records)) records = o.dataframe_records as RawRecord[];
      else if (split && Array.isArray(split.columns) && Array.isArray(split.data)) {
        const cols = split.columns;
        records = split.data.map((row) => Object.fromEntries(cols.map((c, j) => [c, row[j]])));
      } else
        throw new SyntaxError(
          'expected an array of records, {"dataframe_records": [...]}, {"dataframe_split": {"columns", "data"}} or {"columns", "data"}',
        );
    }
  } catch (e) {
    throw new InputError(`${path}: not valid JSON records (${(e as Error).message})`);
  }
  if (records.length === 0) throw new InputError(`${path}: no records`);
  if (!records.every((r) => r && typeof r === 'object' && !Array.isArray(r))) {
    throw new InputError(`${path}: every record must be a JSON object`);
  }
  const result = coerceRecords(records, schema, { policy, requireTarget: false });
  if (policy === 'fail') assertNoIssues(path, result);
  return { table: result.table, droppedRows: result.droppedRows };
}

/** Reads the rows to score: CSV, or JSON / JSON Lines records, validated against the bundle's schema. */
export async function readScoringInput(
  path: string,
  bundle: LoadedBundle,
  policy: ValidationPolicy,
): Promise<{ table: Table; droppedRows: number }> {
  return /\.jsonl?$/i.test(path)
    ? readJsonRecords(path, bundle.schema, policy)
    : await readCsvTable(path, { schema: bundle.schema, requireTarget: false, policy });
}

/** Explains a validated table with a bundle (through its feature steps first, as scoring does). */
export function explainBundleTable(bundle: LoadedBundle, table: Table): TableExplanation {
  const input = bundle.featureSteps ? bundle.featureSteps.applyTable(table) : table;
  return explainTable({ model: bundle.model, transform: bundle.transform }, input);
}

/** Quotes a CSV field when it needs it (RFC 4180). */
export const csvField = (v: string): string => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

export interface PredictOptions {
  model: string;
  data: string;
  /** Output CSV path, or '-' for stdout. */
  out: string;
  policy: ValidationPolicy;
  /** Add `shap_base_value` and one `shap_<field>` column per input field (SHAP values, margin units). */
  explain?: boolean;
}

export interface PredictReport {
  rows: number;
  dropped: number;
  positives: number;
  threshold: number;
  out: string;
  model: { kind: string; run_id: string | null; model_uuid: string | null; dir: string };
  seconds: number;
}

/**
 * Batch scoring, as `mlflow models predict`: validates every row against the bundle's schema (the same
 * row coercer serving and `coerceRecords` use; bad rows exit 2 naming row and column), then writes the
 * id columns (when the schema has them), `probability` and `label`.
 */
export async function runPredict(o: PredictOptions): Promise<PredictReport> {
  const t0 = performance.now();
  const bundle = await loadBundle(o.model);
  const read = await readScoringInput(o.data, bundle, o.policy);
  const p = bundle.predictTable(read.table);
  const ex = o.explain ? explainBundleTable(bundle, read.table) : null;
  const ids = idColumns(bundle.schema)
    .map((c) => c.name)
    .filter((n) => read.table.columns[n]);
  const shapCols = ex ? ['shap_base_value', ...ex.fields.map((f) => `shap_${f}`)] : [];
  const lines: string[] = [[...ids, 'probability', 'label', ...shapCols].map(csvField).join(',')];
  let positives = 0;
  for (let i = 0; i < p.length; i++) {
    const label = p[i]! >= bundle.threshold ? 1 : 0;
    positives += label;
    const idVals = ids.map((n) => {
      const v = read.table.columns[n]![i];
      return csvField(
        v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v)) ? '' : String(v),
      );
    });
    const shap = ex
      ? [
          String(ex.base_value),
          ...Array.from(ex.values.subarray(i * ex.fields.length, (i + 1) * ex.fields.length), String),
        ]
      : [];
    lines.push([...idVals, String(p[i]), String(label), ...shap].join(','));
  }
  const text = `${lines.join('\n')}\n`;
  if (o.out === '-') process.stdout.write(text);
  else {
    const out = createWriteStream(o.out);
    const failed = once(out, 'error').then(([e]) => {
      throw new InputError(`${o.out}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    });
    failed.catch(() => {});
    out.end(text);
    await Promise.race([once(out, 'finish'), failed]);
  }
  return {
    rows: p.length,
    dropped: read.droppedRows,
    positives,
    threshold: bundle.threshold,
    out: o.out,
    model: { kind: bundle.kind, run_id: bundle.runId, model_uuid: bundle.modelUuid, dir: o.model },
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Registers `tassel predict`. */
export function register(program: Command): void {
  program
    .command('predict')
    .description(
      'score a CSV or JSON records with a model bundle (as `mlflow models predict`): writes id columns, probability and label',
    )
    .requiredOption(
      '--model <dir>',
      'model bundle folder (written by tassel train or downloaded from the registry)',
    )
    .requiredOption(
      '--data <file>',
      'CSV with the columns of the model signature (the target is not needed), or .json / .jsonl records ' +
        '(an array, or MLflow dataframe_records / dataframe_split)',
    )
    .requiredOption('--out <file>', 'output CSV ("-" for standard output)')
    .addOption(
      new Option('--on-invalid <policy>', 'invalid rows: fail (exit 2, naming row and column) or drop them')
        .choices(['fail', 'drop'])
        .default('fail'),
    )
    .option(
      '--explain',
      'add SHAP contribution columns: shap_base_value and shap_<field> per input field, in margin (log-odds) units ' +
        '(shap_base_value + the shap_ columns = logit(probability)); see also tassel explain',
    )
    .option('--json', 'print a JSON summary on stdout (not with --out -)')
    .option('--quiet', 'no progress output')
    .action(
      async (o: {
        model: string;
        data: string;
        out: string;
        onInvalid: ValidationPolicy;
        explain?: boolean;
        json?: boolean;
        quiet?: boolean;
      }) => {
        if (o.json && o.out === '-')
          throw new InputError('--json cannot be combined with --out - (both use standard output)');
        const progress = createProgress({ silent: Boolean(o.quiet) || o.out === '-' });
        progress.step(`scoring ${o.data} with ${o.model}`);
        const r = await runPredict({
          model: o.model,
          data: o.data,
          out: o.out,
          policy: o.onInvalid,
          explain: Boolean(o.explain),
        });
        if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else if (o.out !== '-') {
          process.stdout.write(
            `wrote ${r.rows} predictions (${r.positives} labelled 1 at threshold ${r.threshold.toFixed(4)}${r.dropped ? `; ${r.dropped} invalid rows dropped` : ''}) to ${r.out} in ${r.seconds.toFixed(2)} s\n`,
          );
        }
      },
    );
}
