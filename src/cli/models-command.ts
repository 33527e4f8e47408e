import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { createModelOps } from '../pipeline/model-ops.js';
import { openTracking } from '../pipeline/tracking-target.js';
import { registerImportXgboost } from './models-import-xgboost.js';

interface RegistryFlags {
  trackingUri?: string;
  dataDir: string;
  json?: boolean;
}

/** Runs fn against the registry: --tracking-uri, TASSEL_TRACKING_URI / MLFLOW_TRACKING_URI, else the embedded store. */
async function withOps<T>(
  flags: RegistryFlags,
  fn: (ops: ReturnType<typeof createModelOps>) => Promise<T>,
): Promise<T> {
  const target = await openTracking({ uri: flags.trackingUri, dataDir: flags.dataDir });
  try {
    return await fn(createModelOps(target.tracking));
  } finally {
    await target.close();
  }
}

const registryOptions = (c: Command) =>
  c
    .option(
      '--tracking-uri <uri>',
      'registry server (default: TASSEL_TRACKING_URI, MLFLOW_TRACKING_URI, else the embedded one)',
    )
    .option('--data-dir <dir>', 'data folder of the embedded server', './tassel-data')
    .option('--json', 'print JSON');

/**
 * `tassel models`: registered models. list / promote / rollback operate the `production` alias that serving
 * follows; every move is recorded in the registry's alias audit trail.
 */
export function register(program: Command): void {
  const models = program
    .command('models')
    .description('registered models: list, promote, rollback (and imports)');

  registryOptions(models.command('list').argument('[name]', 'one registered model (default: all)'))
    .description('registered models with their versions, aliases and gate decisions')
    .action(async (name: string | undefined, flags: RegistryFlags) => {
      const listing = await withOps(flags, (ops) => ops.list(name));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(listing)}\n`);
        return;
      }
      if (listing.length === 0) process.stdout.write('no registered models\n');
      for (const m of listing) {
        process.stdout.write(`${m.name}\n`);
        for (const v of m.versions) {
          const t = v.tags;
          process.stdout.write(
            `  v${v.version.padEnd(4)} ${(v.aliases.join(',') || '-').padEnd(22)} ${(t['tassel.candidate'] ?? '').padEnd(28)} ` +
              `roc_auc ${t['tassel.test.roc_auc'] ?? '?'}  gate ${t['tassel.gate.decision'] ?? '?'}  run ${v.runId ?? '-'}\n`,
          );
        }
      }
    });

  registryOptions(
    models
      .command('promote')
      .argument('<name>', 'registered model')
      .argument('<version>', 'version to put in production'),
  )
    .option('--reason <text>', 'why (kept in the alias audit trail)', 'manual promote')
    .description('move the production alias to a version (recorded in the audit trail)')
    .action(async (name: string, version: string, flags: RegistryFlags & { reason: string }) => {
      if (!/^\d+$/.test(version)) throw new InputError(`version must be a number, got ${version}`);
      const r = await withOps(flags, (ops) => ops.promote(name, version, { reason: flags.reason }));
      if (flags.json) process.stdout.write(`${JSON.stringify({ name, version, previous: r.previous })}\n`);
      else process.stdout.write(`${name}: production v${r.previous ?? '-'} -> v${version}\n`);
    });

  registryOptions(models.command('rollback').argument('<name>', 'registered model'))
    .option('--reason <text>', 'why (kept in the alias audit trail)')
    .description('move production back to the version that held it before (from the alias audit trail)')
    .action(async (name: string, flags: RegistryFlags & { reason?: string }) => {
      const r = await withOps(flags, (ops) =>
        ops.rollback(name, flags.reason ? { reason: flags.reason } : {}),
      );
      if (flags.json) process.stdout.write(`${JSON.stringify({ name, ...r })}\n`);
      else process.stdout.write(`${name}: production v${r.from} -> v${r.to} (rollback)\n`);
    });

  registerImportXgboost(models);
}
