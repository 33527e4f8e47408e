import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { idColumns } from '../data/schema.js';
import type { ValidationPolicy } from '../data/validate.js';
import { InputError } from '../errors.js';
import { loadBundle } from '../ml/bundle.js';
import { type GlobalExplanation, globalExplanationOf } from '../ml/record-explainer.js';
import { shapBarSvg, shapBeeswarmSvg } from '../pipeline/explain-plots.js';
import { csvField, explainBundleTable, readScoringInput } from './predict-command.js';
import { createProgress } from './progress.js';

/** Options of {@link runExplain}. */
export interface ExplainOptions {
  model: string;
  data: string;
  /** Per-row CSV: ids, probability, margin, base_value and one column per input field. */
  out: string;
  /** Global summary JSON (default: the out file's name with .global.json). */
  summary?: string;
  /** Folder for the bar chart and beeswarm SVGs, if wanted. */
  plots?: string;
  policy: ValidationPolicy;
}

/** What `tassel explain` did. */
export interface ExplainReport {
  rows: number;
  dropped: number;
  method: string;
  out: string;
  summary: string;
  plots: string[];
  global: GlobalExplanation;
  seconds: number;
}

const writeText = (path: string, text: string) => {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new InputError(`${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
};

/**
 * Explains every row of a data file with a model bundle: per-row SHAP values per input field (margin units,
 * `base_value + the field columns = margin`, `probability = sigmoid(margin)`) and the global summary
 * (mean |SHAP| per field, the pipeline's explanation/global.json format).
 */
export async function runExplain(o: ExplainOptions): Promise<ExplainReport> {
  const t0 = performance.now();
  const bundle = await loadBundle(o.model);
  const read = await readScoringInput(o.data, bundle, o.policy);
  const ex = explainBundleTable(bundle, read.table);
  const p = bundle.predictTable(read.table);
  const ids = idColumns(bundle.schema)
    .map((c) => c.name)
    .filter((n) => read.table.columns[n]);
  const nf = ex.fields.length;
  const lines = [[...ids, 'probability', 'margin', 'base_value', ...ex.fields].map(csvField).join(',')];
  for (let i = 0; i < p.length; i++) {
    const idVals = ids.map((n) => {
      const v = read.table.columns[n]![i];
      return csvField(
        v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v)) ? '' : String(v),
      );
    });
    const vals = Array.from(ex.values.subarray(i * nf, (i + 1) * nf), String);
    lines.push([...idVals, String(p[i]), String(ex.margins[i]), String(ex.base_value), ...vals].join(','));
  }
  writeText(o.out, `${lines.join('\n')}\n`);
  const global = globalExplanationOf(bundle.kind, ex);
  const summary = o.summary ?? `${o.out.replace(/\.csv$/i, '')}.global.json`;
  writeText(summary, `${JSON.stringify(global, null, 1)}\n`);
  const plots: string[] = [];
  if (o.plots) {
    mkdirSync(o.plots, { recursive: true });
    const bar = join(o.plots, 'shap_bar.svg');
    const swarm = join(o.plots, 'shap_beeswarm.svg');
    writeText(bar, shapBarSvg(global.features));
    const input = bundle.featureSteps ? bundle.featureSteps.applyTable(read.table) : read.table;
    writeText(
      swarm,
      shapBeeswarmSvg({
        fields: ex.fields,
        values: ex.values,
        order: global.features.map((f) => f.field),
        columns: input.columns,
      }),
    );
    plots.push(bar, swarm);
  }
  return {
    rows: p.length,
    dropped: read.droppedRows,
    method: ex.method,
    out: o.out,
    summary,
    plots,
    global,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Registers `tassel explain`. */
export function register(program: Command): void {
  program
    .command('explain')
    .description(
      'explain a model bundle on a data file: per-row SHAP values per input field (exact TreeSHAP for GBDT, ' +
        'linear SHAP for logistic) and the global summary (mean |SHAP| per field)',
    )
    .requiredOption('--model <dir>', 'model bundle folder')
    .requiredOption('--data <file>', 'CSV or .json / .jsonl records, as tassel predict reads them')
    .requiredOption(
      '--out <file>',
      'per-row CSV: id columns, probability, margin, base_value, then one column per field (log-odds units; ' +
        'base_value + the field columns = margin)',
    )
    .option('--summary <file>', 'global summary JSON (default: <out without .csv>.global.json)')
    .option('--plots <dir>', 'also write shap_bar.svg and shap_beeswarm.svg into this folder')
    .addOption(
      new Option('--on-invalid <policy>', 'invalid rows: fail (exit 2, naming row and column) or drop them')
        .choices(['fail', 'drop'])
        .default('fail'),
    )
    .option('--top <n>', 'fields listed on the terminal', '10')
    .option('--json', 'print the report as JSON')
    .option('--quiet', 'no progress output')
    .action(
      async (o: {
        model: string;
        data: string;
        out: string;
        summary?: string;
        plots?: string;
        onInvalid: ValidationPolicy;
        top: string;
        json?: boolean;
        quiet?: boolean;
      }) => {
        const top = Number(o.top);
        if (!Number.isInteger(top) || top < 0)
          throw new InputError(`--top must be a whole number >= 0, got ${o.top}`);
        const progress = createProgress({ silent: Boolean(o.quiet) || Boolean(o.json) });
        progress.step(`explaining ${o.data} with ${o.model}`);
        const r = await runExplain({
          model: o.model,
          data: o.data,
          out: o.out,
          summary: o.summary,
          plots: o.plots,
          policy: o.onInvalid,
        });
        if (o.json) {
          process.stdout.write(`${JSON.stringify(r)}\n`);
          return;
        }
        const lines = [
          `explained ${r.rows} rows (${r.method}, base value ${r.global.base_value.toFixed(4)} log-odds)${r.dropped ? `; ${r.dropped} invalid rows dropped` : ''} in ${r.seconds.toFixed(2)} s`,
          `per-row values: ${r.out}; global summary: ${r.summary}${r.plots.length ? `; plots: ${r.plots.join(', ')}` : ''}`,
          'mean |SHAP| (log-odds):',
          ...r.global.features.slice(0, top).map((f) => `  ${f.field.padEnd(32)} ${f.mean_abs.toFixed(4)}`),
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      },
    );
}
