import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { Option } from 'commander';
import { readCsvTable } from '../data/read-csv.js';
import { idColumns } from '../data/schema.js';
import type { ValidationPolicy } from '../data/validate.js';
import { InputError } from '../errors.js';
import { loadBundle } from '../ml/bundle.js';
import { createProgress } from './progress.js';

/** Quotes a CSV field when it needs it (RFC 4180). */
const csvField = (v: string): string => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

export interface PredictOptions {
  model: string;
  data: string;
  /** Output CSV path, or '-' for stdout. */
  out: string;
  policy: ValidationPolicy;
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
  const read = await readCsvTable(o.data, { schema: bundle.schema, requireTarget: false, policy: o.policy });
  const p = bundle.predictTable(read.table);
  const ids = idColumns(bundle.schema)
    .map((c) => c.name)
    .filter((n) => read.table.columns[n]);
  const lines: string[] = [[...ids, 'probability', 'label'].map(csvField).join(',')];
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
    lines.push([...idVals, String(p[i]), String(label)].join(','));
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
      'score a CSV with a model bundle (as `mlflow models predict`): writes id columns, probability and label',
    )
    .requiredOption(
      '--model <dir>',
      'model bundle folder (written by tassel train or downloaded from the registry)',
    )
    .requiredOption(
      '--data <file>',
      'CSV with the columns of the model signature (the target column is not needed)',
    )
    .requiredOption('--out <file>', 'output CSV ("-" for standard output)')
    .addOption(
      new Option('--on-invalid <policy>', 'invalid rows: fail (exit 2, naming row and column) or drop them')
        .choices(['fail', 'drop'])
        .default('fail'),
    )
    .option('--json', 'print a JSON summary on stdout (not with --out -)')
    .option('--quiet', 'no progress output')
    .action(
      async (o: {
        model: string;
        data: string;
        out: string;
        onInvalid: ValidationPolicy;
        json?: boolean;
        quiet?: boolean;
      }) => {
        if (o.json && o.out === '-')
          throw new InputError('--json cannot be combined with --out - (both use standard output)');
        const progress = createProgress({ silent: Boolean(o.quiet) || o.out === '-' });
        progress.step(`scoring ${o.data} with ${o.model}`);
        const r = await runPredict({ model: o.model, data: o.data, out: o.out, policy: o.onInvalid });
        if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else if (o.out !== '-') {
          process.stdout.write(
            `wrote ${r.rows} predictions (${r.positives} labelled 1 at threshold ${r.threshold.toFixed(4)}${r.dropped ? `; ${r.dropped} invalid rows dropped` : ''}) to ${r.out} in ${r.seconds.toFixed(2)} s\n`,
          );
        }
      },
    );
}
