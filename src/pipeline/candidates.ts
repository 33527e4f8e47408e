import { basename } from 'node:path';
import type { FeaturePreset } from '../features/spec.js';
import type { ModelFactory } from '../ml/model.js';
import { findModelFactory } from '../ml/model-kinds.js';
import { loadModelModule } from '../ml/model-module.js';
import {
  type CandidateConfig,
  type PipelineConfig,
  type TuneConfig,
  candidateName,
  expandSearch,
} from './config.js';

/** One model to fit: a candidate with one parameter set from its search grid. */
export interface Trial {
  /** Unique name, e.g. `gbdt[max_depth=4,min_child_weight=1]`. */
  name: string;
  candidate: string;
  factory: ModelFactory;
  params: Record<string, unknown>;
  preset: FeaturePreset;
  /** Absolute path of the module for a user-supplied candidate. */
  module?: string;
  /** A hyperparameter search: the train step runs it instead of one fit (`params` are the fixed ones). */
  tune?: TuneConfig;
}

/**
 * Load a user's candidate module (JS, or TS through tsx) and find its ModelFactory; see
 * {@link loadModelModule}. Kept under this name for the pipeline's callers.
 */
export const loadCandidateModule = (file: string) => loadModelModule(file, 'candidate module');

const fmt = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** Expand the config's candidates into trials, resolving built-in kinds and loading modules. */
export async function resolveTrials(
  config: PipelineConfig,
): Promise<{ trials: Trial[]; extraFactories: ModelFactory[] }> {
  const trials: Trial[] = [];
  const extraFactories: ModelFactory[] = [];
  for (const c of config.candidates as CandidateConfig[]) {
    let factory: ModelFactory;
    let preset: FeaturePreset | undefined = c.features;
    if (c.module !== undefined) {
      const loaded = await loadCandidateModule(c.module);
      factory = loaded.factory;
      preset ??= loaded.preset;
      if (!extraFactories.some((f) => f.kind === factory.kind)) extraFactories.push(factory);
    } else {
      factory = findModelFactory(c.kind!);
    }
    preset ??= factory.kind === 'gbdt' ? 'tree' : 'linear';
    const name = candidateName(c);
    if (c.tune) {
      const trial: Trial = {
        name,
        candidate: name,
        factory,
        params: { ...(c.params ?? {}) },
        preset,
        tune: c.tune,
      };
      if (c.module !== undefined) trial.module = c.module;
      trials.push(trial);
      continue;
    }
    const sets = expandSearch(c);
    const searched = Object.keys(c.search ?? {}).sort();
    for (const params of sets) {
      const suffix = searched.length ? `[${searched.map((k) => `${k}=${fmt(params[k])}`).join(',')}]` : '';
      const trial: Trial = { name: `${name}${suffix}`, candidate: name, factory, params, preset };
      if (c.module !== undefined) trial.module = c.module;
      trials.push(trial);
    }
  }
  return { trials, extraFactories };
}

/** The file name a module candidate is stored under inside the bundle's code/ folder. */
export const moduleCodeName = (file: string) => basename(file);
