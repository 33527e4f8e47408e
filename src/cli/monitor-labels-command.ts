import { join } from 'node:path';
import type { Command } from 'commander';
import { importLabels } from '../serving/prediction-sink/import-labels.js';
import { openPredictionStore } from '../serving/prediction-sink/registry.js';

interface LabelsFlags {
  data: string;
  idColumn: string;
  target: string;
  positive?: string;
  byRequestId?: boolean;
  entityField?: string;
  predictionLog?: string;
  dataDir: string;
  json?: boolean;
}

/**
 * `tassel monitor labels`: outcomes from a CSV attached to the serving prediction log (local segments or
 * PostgreSQL), by entity id (e.g. Student_ID) or request id, with POST /feedback's rules.
 */
export function registerMonitorLabels(monitor: Command): void {
  monitor
    .command('labels')
    .description(
      'attach observed outcomes from a CSV to logged predictions (by entity id such as Student_ID, or by request id); ' +
        'unknown ids are reported, repeats are not stored twice, changed outcomes replace earlier ones',
    )
    .requiredOption('--data <file>', 'CSV with a header row')
    .requiredOption(
      '--id-column <name>',
      'column holding the entity id (or the request id with --by-request-id)',
    )
    .requiredOption('--target <name>', 'column holding the outcome')
    .option('--positive <value>', 'target value counted as 1 (default: 1/true/yes as 1, 0/false/no as 0)')
    .option('--by-request-id', "the id column holds request ids (the predictions' x-request-id)")
    .option(
      '--entity-field <name>',
      'input field of the logged predictions the ids refer to (default: --id-column)',
    )
    .option(
      '--prediction-log <uri>',
      'the prediction log: a folder or postgresql:// URI, as given to tassel serve (default <data-dir>/predictions)',
    )
    .option('--data-dir <dir>', 'data folder of the local prediction log', './tassel-data')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  tassel monitor labels --data outcomes.csv --id-column Student_ID --target Completed --positive Completed\n' +
        '  tassel monitor labels --data labels.csv --id-column request_id --by-request-id --target y \\\n' +
        '    --prediction-log postgresql://tassel@db:5432/tassel\n',
    )
    .action(async (flags: LabelsFlags) => {
      const store = await openPredictionStore(flags.predictionLog ?? join(flags.dataDir, 'predictions'));
      try {
        const result = await importLabels(store, {
          file: flags.data,
          idColumn: flags.idColumn,
          target: flags.target,
          positive: flags.positive,
          byRequestId: flags.byRequestId,
          entityField: flags.entityField,
        });
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
          return;
        }
        process.stdout.write(
          `${result.rows} rows: ${result.attached} attached, ${result.updated} updated, ${result.duplicate} duplicate, ` +
            `${result.unknown} unknown, ${result.skipped} skipped (empty id or outcome)\n`,
        );
        if (result.unknown > 0) {
          const shown = result.unknownIds.slice(0, 20).join(', ');
          process.stdout.write(
            `unknown ids (no logged prediction): ${shown}${result.unknown > 20 ? `, ... (${result.unknown - 20} more; --json lists up to 1,000)` : ''}\n`,
          );
        }
      } finally {
        await store.close();
      }
    });
}

/**
 * Registers `labels` under `tassel monitor`: on the group monitor-command.ts registers (list this module after
 * it in main.ts), or on a group of its own while there is none.
 */
export function register(program: Command): void {
  const monitor =
    program.commands.find((c) => c.name() === 'monitor') ??
    program.command('monitor').description('monitoring of served models');
  registerMonitorLabels(monitor);
}
