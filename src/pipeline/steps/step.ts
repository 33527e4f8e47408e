import type { FeatureStepRunner } from '../../features/feature-step.js';
import type { DatasetSchema } from '../../data/schema.js';
import type { Table } from '../../data/table.js';
import type { FittedTransform } from '../../features/transform.js';
import type { Matrix } from '../../ml/matrix.js';
import type { BinaryEvaluation } from '../../ml/metrics.js';
import type { Classifier, ModelFactory } from '../../ml/model.js';
import type { Trial } from '../candidates.js';
import type { PipelineConfig } from '../config.js';
import type { PreparedData } from '../data-step.js';
import type { ResolvedFeatureStep } from '../feature-steps.js';
import type { GateMetrics, GateResult } from '../gate.js';
import type { deterministicIdentity } from '../provenance.js';
import type { PipelineReporter } from '../reporter.js';
import type { PipelineTracking, RunHandle, VersionInfo } from '../tracking-port.js';

/** One fitted trial and its scores (what the pipeline result reports for each child run). */
export interface TrialResult {
  name: string;
  candidate: string;
  kind: string;
  params: Record<string, unknown>;
  runId: string;
  train: BinaryEvaluation;
  valid: BinaryEvaluation;
  selectionScore: number;
  fitSeconds: number;
  summary: Record<string, unknown>;
}

/** A trial result with the fitted model and the trial it came from (inside the pipeline only). */
export interface FittedTrial extends TrialResult {
  model: Classifier;
  trial: Trial;
}

/** The tables after the user's feature steps (the raw tables when there are none). */
export interface DerivedTables {
  train: Table;
  valid: Table;
  test: Table;
  /** The schema the transforms see: the model schema plus the steps' outputs. */
  schema: DatasetSchema;
  /** The fitted feature steps, or null when the config has none. */
  runner: FeatureStepRunner | null;
}

/** One fitted transform (per feature preset) and the three parts through it. */
export interface FeatureMatrices {
  ft: FittedTransform;
  train: Matrix;
  valid: Matrix;
  test: Matrix;
}

/** What the production version scored on this run's test rows, before the run changed anything. */
export interface ProductionScore {
  /** The version holding `production` when the run started, or null. */
  before: VersionInfo | null;
  metrics: (GateMetrics & { version: string }) | null;
  /** Why the production version could not be re-scored, or null. */
  error: string | null;
}

/**
 * Everything steps hand to each other, by name (Kedro's "datasets"). A step reads the keys it lists as
 * inputs and returns the keys it lists as outputs. A new step with a new output adds its key from its own
 * file by declaration merging:
 *
 * ```ts
 * declare module './step.js' { interface PipelineState { shap: GlobalShap } }
 * ```
 */
export interface PipelineState {
  experimentId: string;
  /** The parent run, open until the runner ends it. */
  parent: RunHandle;
  /** Tags every run of this pipeline run carries (source, versions, seed, git commit). */
  baseTags: Record<string, string>;
  data: PreparedData;
  trials: Trial[];
  /** Factories of user-module candidates (needed to load such a production bundle). */
  extraFactories: ModelFactory[];
  featureSteps: ResolvedFeatureStep[];
  derived: DerivedTables;
  /** One fitted transform per feature preset the trials use. */
  features: Map<string, FeatureMatrices>;
  results: FittedTrial[];
  /** The trial with the best validation score (ties: the earlier trial). */
  winner: FittedTrial;
  /** The decision threshold, chosen on the validation rows. */
  threshold: number;
  /** The winner on the test rows. */
  evaluation: { p: Float64Array; test: BinaryEvaluation };
  /** The local folder uploaded as the parent run's artifacts, the bundle inside it, and its identity. */
  artifacts: {
    dir: string;
    bundleDir: string;
    identity: ReturnType<typeof deterministicIdentity>;
    /** Share of positives among the training rows. */
    prior: number;
  };
  production: ProductionScore;
  gate: GateResult;
  registered: VersionInfo;
  /** The version holding `production` after the run. */
  productionVersion: string | null;
}

/** What the runner gives every step besides its inputs. */
export interface StepContext {
  readonly config: PipelineConfig;
  readonly tracking: PipelineTracking;
  readonly reporter: PipelineReporter;
  /** false = --no-promote (overrides config.promote). */
  readonly promote: boolean;
  /** --force-promote with its audit reason. */
  readonly forcePromote: { reason: string } | null;
  /** Scratch folder of this pipeline run (removed at the end unless the caller gave it). */
  readonly workDir: string;
  /**
   * Time and report one unit of work under `name` (steps with `report: 'self'` use it per trial, per
   * preset, or only when they have work to do). Seconds add up in the result's `timings`.
   */
  timed<T>(name: string, fn: () => Promise<T> | T, detail?: (result: T) => string): Promise<T>;
  /** Create a run that the runner marks FAILED if the pipeline fails before it is ended. */
  startRun(experimentId: string, runName: string, tags: Record<string, string>): Promise<RunHandle>;
  /** End a run started with {@link startRun}. */
  endRun(runId: string, status: 'FINISHED' | 'FAILED'): Promise<void>;
}

/**
 * One pipeline step: a plain function from named inputs to named outputs (Kedro's `node(func, inputs,
 * outputs)`, ZenML's `@step`). The runner checks before anything runs that every input is an output of
 * an earlier step.
 */
export interface PipelineStep<I extends keyof PipelineState, O extends keyof PipelineState> {
  /** The name in progress lines and `timings`. */
  name: string;
  inputs: readonly I[];
  outputs: readonly O[];
  /**
   * 'step' (default): the runner reports and times the whole step under its name. 'self': the step
   * reports its own units with `ctx.timed` (or nothing, for book-keeping steps that were never reported).
   */
  report?: 'step' | 'self';
  /** The one-line summary after the step, from its outputs. */
  detail?: (outputs: Pick<PipelineState, O>) => string;
  run(
    inputs: Pick<PipelineState, I>,
    ctx: StepContext,
  ): Promise<Pick<PipelineState, O>> | Pick<PipelineState, O>;
}

/** A step with its key types erased, as the step list holds it. */
// biome-ignore lint/suspicious/noExplicitAny: the list mixes steps of different input/output keys
export type AnyPipelineStep = PipelineStep<any, any>;

/** Define a step, inferring its input and output keys from the arrays. */
export function defineStep<I extends keyof PipelineState, O extends keyof PipelineState>(
  step: PipelineStep<I, O>,
): PipelineStep<I, O> {
  return step;
}
