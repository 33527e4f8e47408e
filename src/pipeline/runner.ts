import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TasselError } from '../errors.js';
import type { BinaryEvaluation } from '../ml/metrics.js';
import type { PipelineConfig } from './config.js';
import type { GateMetrics, GateResult } from './gate.js';
import { type PipelineReporter, silentReporter } from './reporter.js';
import {
  type AnyPipelineStep,
  PIPELINE_STEPS,
  type PipelineState,
  type StepContext,
  UnchangedSinceProduction,
} from './steps/index.js';
import type { TrialResult } from './steps/step.js';
import type { PipelineTracking } from './tracking-port.js';

export type { TrialResult } from './steps/step.js';
export { UnchangedSinceProduction } from './steps/index.js';

/** Options of one pipeline run. */
export interface RunPipelineOptions {
  config: PipelineConfig;
  tracking: PipelineTracking;
  reporter?: PipelineReporter;
  /** Overrides config.promote (false = --no-promote). */
  promote?: boolean;
  /** --force-promote with its audit reason. */
  forcePromote?: { reason: string } | null;
  /** Where to keep the local copy of the run's artifacts (default: a temp folder, removed at the end). */
  workDir?: string;
  /** The steps to run, in order (default {@link PIPELINE_STEPS}; they must end with a promoted state). */
  steps?: readonly AnyPipelineStep[];
}

export interface PipelineResult {
  runId: string;
  experimentId: string;
  trials: TrialResult[];
  winner: TrialResult;
  test: BinaryEvaluation;
  /** The winner's P(y=1) for every test row, in test-set order (what the test metrics were computed from). */
  testProbabilities: Float64Array;
  threshold: number;
  modelName: string;
  version: string;
  gate: GateResult;
  production: { version: string; metrics: GateMetrics | null } | null;
  /** The version holding `production` after the run. */
  productionVersion: string | null;
  /** Local folder of the winner's bundle (kept when workDir was given). */
  bundleDir: string;
  timings: Record<string, number>;
}

/**
 * Check that every step's inputs are outputs of an earlier step, before anything runs, so a misplaced
 * step fails at once (naming it) instead of after an hour of training. Throws TasselError INTERNAL_ERROR.
 */
export function checkStepOrder(steps: readonly AnyPipelineStep[]): void {
  const available = new Set<string>();
  const names = new Set<string>();
  for (const step of steps) {
    if (names.has(step.name))
      throw new TasselError('INTERNAL_ERROR', `pipeline steps: two steps are named "${step.name}"`);
    names.add(step.name);
    const missing = step.inputs.filter((k: string) => !available.has(k));
    if (missing.length)
      throw new TasselError(
        'INTERNAL_ERROR',
        `pipeline step "${step.name}" needs ${missing.join(', ')}, which no earlier step produces`,
      );
    for (const k of step.outputs) available.add(k);
  }
}

/** Run the steps in order, passing each the state keys it asks for; returns the state they built. */
async function executeSteps(
  steps: readonly AnyPipelineStep[],
  ctx: StepContext,
): Promise<Partial<PipelineState>> {
  const state: Record<string, unknown> = {};
  for (const step of steps) {
    const inputs = Object.fromEntries(step.inputs.map((k: string) => [k, state[k]]));
    const outputs: Record<string, unknown> =
      step.report === 'self'
        ? await step.run(inputs, ctx)
        : await ctx.timed(step.name, () => step.run(inputs, ctx), step.detail);
    for (const k of step.outputs as string[]) {
      if (!(k in outputs))
        throw new TasselError('INTERNAL_ERROR', `pipeline step "${step.name}" did not return ${k}`);
      state[k] = outputs[k];
    }
  }
  return state as Partial<PipelineState>;
}

/** The context steps share: configuration, the tracking port, timing and the set of open runs. */
function createStepContext(options: RunPipelineOptions, workDir: string) {
  const { config, tracking } = options;
  const reporter = options.reporter ?? silentReporter;
  const timings: Record<string, number> = {};
  const openRuns = new Set<string>();
  const ctx: StepContext = {
    config,
    tracking,
    reporter,
    promote: options.promote ?? config.promote,
    forcePromote: options.forcePromote ?? null,
    workDir,
    async timed(name, fn, detail) {
      reporter.stepStart(name);
      const t0 = performance.now();
      const r = await fn();
      const s = (performance.now() - t0) / 1000;
      timings[name] = (timings[name] ?? 0) + s;
      reporter.stepEnd(name, s, detail?.(r));
      return r;
    },
    async startRun(experimentId, runName, tags) {
      const run = await tracking.createRun(experimentId, runName, tags);
      openRuns.add(run.runId);
      return run;
    },
    async endRun(runId, status) {
      await tracking.endRun(runId, status);
      openRuns.delete(runId);
    },
  };
  return { ctx, timings, openRuns };
}

/** Mark every run still open FAILED with the error as a tag; the server may be what failed, so quietly. */
async function failOpenRuns(tracking: PipelineTracking, openRuns: Set<string>, e: unknown): Promise<void> {
  for (const runId of openRuns) {
    try {
      await tracking.logBatch(runId, {
        tags: { 'tassel.error': String((e as Error).message).slice(0, 4900) },
      });
      await tracking.endRun(runId, 'FAILED');
    } catch {
      // The server may be the thing that failed; the original error is what the user needs.
    }
  }
}

/** The state keys the result is made of: the step list must produce them all. */
const RESULT_KEYS: readonly (keyof PipelineState)[] = [
  'parent',
  'experimentId',
  'results',
  'winner',
  'evaluation',
  'threshold',
  'registered',
  'gate',
  'production',
  'productionVersion',
  'artifacts',
];

function pipelineResult(
  s: PipelineState,
  modelName: string,
  timings: Record<string, number>,
): PipelineResult {
  const { model: _m, trial: _t, ...winner } = s.winner;
  return {
    runId: s.parent.runId,
    experimentId: s.experimentId,
    trials: s.results.map(({ model: _mm, trial: _tt, ...r }) => r),
    winner,
    test: s.evaluation.test,
    testProbabilities: s.evaluation.p,
    threshold: s.threshold,
    modelName,
    version: s.registered.version,
    gate: s.gate,
    production: s.production.before
      ? { version: s.production.before.version, metrics: s.production.metrics }
      : null,
    productionVersion: s.productionVersion,
    bundleDir: s.artifacts.bundleDir,
    timings,
  };
}

/**
 * Run the whole pipeline ({@link PIPELINE_STEPS}): ingest, validate, split, fit transforms, train every
 * trial (child runs), pick the winner on validation, evaluate it on test, log artifacts, register it as a
 * new version with alias `challenger`, gate it against `production` and promote it when the gate allows.
 * On failure the parent (and open child) runs are marked FAILED, nothing is registered, and the error
 * is rethrown (InputError for data/config problems, TasselError otherwise). When production was built from
 * the same data, config and code (and gate.on_unchanged is skip) it throws {@link UnchangedSinceProduction}
 * after ending the parent run FINISHED: nothing is trained or registered.
 */
export async function runPipeline(options: RunPipelineOptions): Promise<PipelineResult> {
  const steps = options.steps ?? PIPELINE_STEPS;
  checkStepOrder([...steps, { name: 'result', inputs: RESULT_KEYS, outputs: [], run: () => ({}) }]);
  const ownWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), 'tassel-pipeline-'));
  mkdirSync(workDir, { recursive: true });
  const { ctx, timings, openRuns } = createStepContext(options, workDir);
  try {
    const state = (await executeSteps(steps, ctx)) as PipelineState;
    // What is still open is the parent run (and any run a step left open): the pipeline succeeded.
    for (const runId of [...openRuns].reverse()) await ctx.endRun(runId, 'FINISHED');
    return pipelineResult(state, options.config.model_name, timings);
  } catch (e) {
    if (e instanceof UnchangedSinceProduction) {
      // not a failure: the run found production already built from the same inputs
      for (const runId of [...openRuns].reverse()) await ctx.endRun(runId, 'FINISHED');
      throw e;
    }
    await failOpenRuns(options.tracking, openRuns, e);
    if (e instanceof TasselError) throw e;
    throw new TasselError('INTERNAL_ERROR', `pipeline failed: ${(e as Error).message}`, { cause: e });
  } finally {
    if (ownWorkDir) rmSync(workDir, { recursive: true, force: true });
  }
}
