import { bundleStep } from './bundle.js';
import { connectStep, parentRunStep } from './connect.js';
import { explainStep } from './explain.js';
import { fingerprintStep } from './fingerprint.js';
import { candidatesStep, ingestStep, loadFeatureStepsStep, logInputsStep } from './ingest.js';
import { logWinnerStep } from './log-winner.js';
import { gateStep, promoteStep, recordGateStep, registerStep, rescoreProductionStep } from './registry.js';
import { reportsStep } from './reports.js';
import { evaluateStep, selectStep } from './select.js';
import type { AnyPipelineStep } from './step.js';
import { trainTrialsStep } from './train-trials.js';
import { featureStepsStep, transformsStep } from './transforms.js';

export type { AnyPipelineStep, PipelineState, PipelineStep, StepContext } from './step.js';
export { defineStep } from './step.js';
export { UnchangedSinceProduction } from './fingerprint.js';

/**
 * The pipeline, in order. Each entry is a plain function from named inputs to named outputs
 * ({@link PipelineStep}); the runner (../runner.ts) owns timing, progress lines, run status and the
 * failure path, and checks before anything runs that every step's inputs come from an earlier step.
 *
 * Adding a step: write `steps/<name>.ts` exporting `defineStep({ name, inputs, outputs, run })` (a new
 * output key is declared in that file by merging into `PipelineState`), and add one line here. Slots the
 * next steps are meant for:
 * - (taken: `explainStep` writes the winner's global SHAP explanation into `artifacts.dir` after `reportsStep`,
 *   so the `log` step uploads it with the other explain-ready artifacts);
 * - a retrain trigger needs no step: it starts `runPipeline`; anything it wants recorded on the run
 *   (the trigger's reason) is a step after `parentRunStep`.
 * Steps that throw fail the run: open runs are marked FAILED and, before `registerStep`, nothing is
 * registered.
 */
export const PIPELINE_STEPS: readonly AnyPipelineStep[] = [
  connectStep,
  parentRunStep,
  ingestStep,
  candidatesStep,
  loadFeatureStepsStep,
  logInputsStep,
  fingerprintStep,
  featureStepsStep,
  transformsStep,
  trainTrialsStep,
  selectStep,
  evaluateStep,
  bundleStep,
  reportsStep,
  explainStep,
  logWinnerStep,
  rescoreProductionStep,
  gateStep,
  registerStep,
  recordGateStep,
  promoteStep,
];
