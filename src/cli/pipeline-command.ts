import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CommandOutcomeError, EXIT_GATE_REJECTED, InputError } from '../errors.js';
import {
  type PipelineConfig,
  PipelineConfigSchema,
  loadPipelineConfig,
  parsePipelineConfig,
} from '../pipeline/config.js';
import { createLineReporter, createTtyReporter } from '../pipeline/reporter.js';
import { type PipelineResult, runPipeline, UnchangedSinceProduction } from '../pipeline/runner.js';
import { openTracking } from '../pipeline/tracking-target.js';

/** Config files looked for in the working directory when --config is not given. */
const DEFAULT_CONFIG_FILES = ['pipeline.yaml', 'pipeline.yml', 'pipeline.json'];
/** The data the embedded default trains on (what `npm start` generates). */
export const DEFAULT_DATA_PATH = './tassel-data/students.csv';

/** The config for a run: --config FILE, else ./pipeline.{yaml,yml,json}, else the built-in default on generated data. */
export function resolveConfig(file: string | undefined): PipelineConfig {
  if (file) return loadPipelineConfig(file);
  for (const f of DEFAULT_CONFIG_FILES) if (existsSync(f)) return loadPipelineConfig(f);
  return parsePipelineConfig({ data: { path: DEFAULT_DATA_PATH, schema: 'builtin:course-completion' } });
}

/** One-screen summary of a pipeline result. */
/** The lines printed when a run found production built from the same data, config and code. */
export function formatUnchanged(e: UnchangedSinceProduction): string {
  return (
    `${e.message}.\n` +
    `production: models:/${e.modelName}@production = version ${e.version} (run ${e.runId} recorded the check)\n` +
    'change the data, the config or the code to train again (gate.on_unchanged: record trains anyway)'
  );
}

export function formatResult(r: PipelineResult): string {
  const lines = [
    '',
    `candidates (validation ${'roc_auc'}):`,
    ...r.trials.map(
      (t) =>
        `  ${t.name === r.winner.name ? '*' : ' '} ${t.name.padEnd(42)} roc_auc ${t.valid.roc_auc.toFixed(4)}  log_loss ${t.valid.log_loss.toFixed(4)}  ${t.fitSeconds.toFixed(2)} s`,
    ),
    `winner ${r.winner.name}: test roc_auc ${r.test.roc_auc.toFixed(4)}, pr_auc ${r.test.pr_auc.toFixed(4)}, log_loss ${r.test.log_loss.toFixed(4)}, accuracy ${r.test.accuracy.toFixed(4)}, f1 ${r.test.f1.toFixed(4)}, ece ${r.test.ece.toFixed(4)} (threshold ${r.threshold.toFixed(4)})`,
    `registered ${r.modelName} version ${r.version} (alias challenger); gate: ${r.gate.decision}`,
    ...r.gate.reasons.map((x) => `  ${x}`),
    `production: ${r.productionVersion ? `models:/${r.modelName}@production = version ${r.productionVersion}` : 'unset'}`,
    `run ${r.runId}`,
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Why a run fails under --fail-on-reject (one line), or null: the challenger failed the gate and production was
 * not moved to it (decision `reject`, or `hold` with a failed check under --no-promote). A forced promotion
 * and a passing gate are not failures.
 */
export function gateRejection(r: PipelineResult): string | null {
  if (r.gate.passed || r.gate.movesProduction) return null;
  const failed = r.gate.reasons.filter((x) => x.startsWith('FAIL')).map((x) => x.replace(/^FAIL: /, ''));
  const production = r.productionVersion ? `v${r.productionVersion}` : 'unset';
  return `gate rejected ${r.modelName} v${r.version} (production stays ${production}): ${failed.join('; ')}`;
}

export function register(program: Command): void {
  const pipeline = program
    .command('pipeline')
    .description('the automated training pipeline (train, log, register, gate, promote)');
  pipeline
    .command('run')
    .description(
      'ingest, validate, split, train candidates, evaluate the best on test, log to the tracking server, register, gate and promote',
    )
    .option(
      '--config <file>',
      'pipeline config, JSON or YAML (default: ./pipeline.yaml|yml|json, else built-in on ./tassel-data/students.csv)',
    )
    .option(
      '--tracking-uri <uri>',
      'tracking server (default: TASSEL_TRACKING_URI, MLFLOW_TRACKING_URI, config, else embedded)',
    )
    .option('--no-promote', 'register and gate, but never move the production alias')
    .option(
      '--force-promote <reason>',
      'move production even if the gate fails; the reason is recorded in the audit trail',
    )
    .option(
      '--fail-on-reject',
      `exit ${EXIT_GATE_REJECTED} when the challenger fails the gate (the version is still registered; also gate.fail_on_reject)`,
    )
    .option('--seed <n>', 'override the config seed')
    .option('--work-dir <dir>', 'keep a local copy of the run artifacts (bundle, plots, reports) here')
    .option('--json', 'print the result as one JSON object on stdout')
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      const config = resolveConfig(opts.config as string | undefined);
      if (opts.seed !== undefined) {
        const seed = Number(opts.seed);
        if (!Number.isInteger(seed))
          throw new InputError(`--seed must be an integer, got ${String(opts.seed)}`);
        config.seed = seed;
      }
      const force = typeof opts.forcePromote === 'string' ? { reason: opts.forcePromote } : null;
      if (force && !force.reason.trim()) throw new InputError('--force-promote needs a reason');
      const reporter = process.stderr.isTTY && !process.env.CI ? createTtyReporter() : createLineReporter();
      const target = await openTracking({
        uri: opts.trackingUri as string | undefined,
        configUri: config.tracking.uri,
        dataDir: config.tracking.data_dir,
      });
      if (target.embedded)
        reporter.info(`embedded tracking server at ${target.uri} (data in ${config.tracking.data_dir})`);
      try {
        let result: PipelineResult;
        try {
          result = await runPipeline({
            config,
            tracking: target.tracking,
            reporter,
            promote: opts.promote === false ? false : config.promote,
            forcePromote: force,
            workDir: opts.workDir ? resolve(String(opts.workDir)) : undefined,
          });
        } catch (e) {
          if (!(e instanceof UnchangedSinceProduction)) throw e;
          process.stdout.write(
            opts.json
              ? `${JSON.stringify({ run_id: e.runId, model_name: e.modelName, unchanged_since: e.version, production_version: e.version })}\n`
              : `${formatUnchanged(e)}\n`,
          );
          return;
        }
        if (opts.json) {
          process.stdout.write(
            `${JSON.stringify({
              run_id: result.runId,
              winner: result.winner.name,
              test: result.test,
              model_name: result.modelName,
              version: result.version,
              gate: result.gate,
              production_version: result.productionVersion,
              timings: result.timings,
              candidates: result.trials.map((t) => ({
                name: t.name,
                valid: t.valid,
                fit_seconds: t.fitSeconds,
              })),
            })}\n`,
          );
        } else process.stdout.write(formatResult(result));
        const rejection =
          opts.failOnReject === true || config.gate.fail_on_reject ? gateRejection(result) : null;
        if (rejection !== null) throw new CommandOutcomeError(rejection, EXIT_GATE_REJECTED);
      } finally {
        await target.close();
      }
    });
  pipeline
    .command('config-schema')
    .description('print the JSON Schema of the pipeline config (every field with its default and meaning)')
    .action(() => {
      process.stdout.write(`${JSON.stringify(PipelineConfigSchema, null, 2)}\n`);
    });
}
