import { basename } from 'node:path';
import {
  type FeatureStep,
  type FittedFeatureStep,
  canonicalJsonValue,
  resolveStepOutputs,
} from '../features/feature-step.js';
import { InputError } from '../errors.js';
import { type BundleFeatureStep, fileSha256 } from '../ml/bundle.js';
import { loadFeatureStepModule } from '../ml/model-module.js';
import { type PipelineConfig, featureStepName } from './config.js';

/** A configured feature step with its code loaded. */
export interface ResolvedFeatureStep {
  name: string;
  /** Absolute path of the module. */
  module: string;
  /** File name inside the bundle's code/feature_steps/. */
  codeName: string;
  /** sha256 of the module's source at load time. */
  sha256: string;
  /** The params after the JSON round trip the bundle makes. */
  params: Record<string, unknown>;
  step: FeatureStep;
}

/**
 * Load the config's feature step modules and check their declared outputs, before anything is trained.
 * Throws InputError naming `feature_steps[i]` for a module that does not load or exports no step.
 */
export async function resolveFeatureSteps(config: PipelineConfig): Promise<ResolvedFeatureStep[]> {
  const out: ResolvedFeatureStep[] = [];
  const codeNames = new Map<string, string>();
  for (const [i, s] of config.feature_steps.entries()) {
    const name = featureStepName(s);
    let step: FeatureStep;
    try {
      step = await loadFeatureStepModule(s.module);
    } catch (e) {
      throw new InputError(`pipeline config: feature_steps[${i}] "${name}": ${(e as Error).message}`, {
        cause: e,
      });
    }
    const params = canonicalJsonValue(s.params ?? {}, `feature step "${name}": params`) as Record<
      string,
      unknown
    >;
    resolveStepOutputs(name, step, params);
    // one copy per source file; two different files with one base name get the step index as prefix
    let codeName = basename(s.module);
    const holder = codeNames.get(codeName);
    if (holder !== undefined && holder !== s.module) codeName = `${i}-${codeName}`;
    codeNames.set(codeName, s.module);
    out.push({ name, module: s.module, codeName, sha256: fileSha256(s.module), params, step });
  }
  return out;
}

/** Parameters and tags that record the steps on the parent run. */
export function featureStepLogs(steps: readonly ResolvedFeatureStep[]): {
  params: Record<string, string>;
  tags: Record<string, string>;
} {
  const params: Record<string, string> = {};
  const tags: Record<string, string> = {};
  if (steps.length === 0) return { params, tags };
  params.feature_steps = steps.map((s) => s.name).join(',');
  for (const s of steps) {
    params[`feature_step.${s.name}.module`] = s.codeName;
    params[`feature_step.${s.name}.params`] = JSON.stringify(s.params).slice(0, 6000);
    tags[`tassel.feature_step.${s.name}.sha256`] = s.sha256;
  }
  return { params, tags };
}

/** The fitted steps as the bundle saves them. */
export function bundleFeatureSteps(
  resolved: readonly ResolvedFeatureStep[],
  fitted: readonly FittedFeatureStep[],
): BundleFeatureStep[] {
  return fitted.map((f, i) => ({
    name: f.name,
    source: resolved[i]!.module,
    codeName: resolved[i]!.codeName,
    params: f.params,
    state: f.state,
    outputs: f.outputs,
  }));
}
