import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { COURSE_COMPLETION_SCHEMA_ID } from '../data/builtin-schemas.js';
import { writeCourseCompletionCsv } from '../data/synthetic.js';
import { parseIntOption } from './data-command.js';
import { createProgress } from './progress.js';
import { formatTrainReport, runTrain } from './train-command.js';

/** Registers `tassel quickstart` (what `npm start` runs). */
export function register(program: Command): void {
  program
    .command('quickstart')
    .description(
      'generate course-completion data (if absent), train a logistic model on it and print its metrics',
    )
    .option('--dir <dir>', 'working folder for data and models', 'tassel-data')
    .option(
      '--rows <n>',
      'rows to generate when the data file is absent',
      parseIntOption(100, 10_000_000),
      20_000,
    )
    .option('--seed <n>', 'seed for the data and the split', parseIntOption(0, 4_294_967_295), 42)
    .option('--json', 'print the training report as JSON')
    .action(async (o: { dir: string; rows: number; seed: number; json?: boolean }) => {
      const progress = createProgress();
      const data = join(o.dir, 'students.csv');
      mkdirSync(o.dir, { recursive: true });
      if (existsSync(data)) progress.step(`using existing data ${data}`);
      else {
        progress.step(`generating ${o.rows} rows of course-completion data (seed ${o.seed}) into ${data}`);
        const r = await writeCourseCompletionCsv(data, { rows: o.rows, seed: o.seed });
        progress.step(`wrote ${r.rows} rows, sha256 ${r.sha256}`);
      }
      const out = join(o.dir, 'models', 'quickstart');
      const report = await runTrain(
        {
          data,
          read: { schema: COURSE_COMPLETION_SCHEMA_ID },
          kind: 'logistic',
          params: {},
          ignore: [],
          seed: o.seed,
          testFraction: 0.2,
          out,
          threshold: 0.5,
          policy: 'fail',
        },
        progress,
      );
      if (o.json) {
        process.stdout.write(`${JSON.stringify(report)}\n`);
        return;
      }
      process.stdout.write(formatTrainReport(report));
      process.stdout.write(
        `\nThe model bundle is in ${out} (MLmodel + model.json). Score a CSV with it:\n  npx tassel predict --model ${out} --data ${data} --out predictions.csv\n`,
      );
    });
}
