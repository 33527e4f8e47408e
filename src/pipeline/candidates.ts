import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FeaturePreset } from '../features/spec.js';
import { InputError } from '../errors.js';
import type { ModelFactory } from '../ml/model.js';
import { findModelFactory } from '../ml/model-kinds.js';
import { type CandidateConfig, type PipelineConfig, candidateName, expandSearch } from './config.js';

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
}

/** Whether this process registered tsx for TypeScript candidate modules (once per process). */
const tsxRegistered = { done: false };

const isFactory = (x: unknown): x is ModelFactory =>
  !!x &&
  typeof x === 'object' &&
  typeof (x as ModelFactory).kind === 'string' &&
  typeof (x as ModelFactory).create === 'function' &&
  typeof (x as ModelFactory).fromJSON === 'function';

/**
 * Load a user's candidate module (JS, or TS through tsx) and find its ModelFactory: the default export,
 * a `factory` export, or the only exported factory. Throws InputError saying what was found instead.
 */
export async function loadCandidateModule(
  file: string,
): Promise<{ factory: ModelFactory; preset?: FeaturePreset }> {
  let mod: Record<string, unknown>;
  // From compiled JavaScript (the container image) a TypeScript module needs tsx's loader; from the
  // sources it is already registered by bin/tassel.js or the test runner.
  if (/\.[cm]?ts$/.test(file) && import.meta.url.endsWith('.js') && !tsxRegistered.done) {
    const { register } = await import('tsx/esm/api');
    register();
    tsxRegistered.done = true;
  }
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(file))
      throw new InputError(`candidate module ${file}: file not found`);
    throw new InputError(`candidate module ${file}: cannot be loaded: ${(e as Error).message}`, { cause: e });
  }
  const found = [mod.default, mod.factory, ...Object.values(mod)].find(isFactory);
  if (!found)
    throw new InputError(
      `candidate module ${file}: exports no ModelFactory (an object with kind, create(params) and fromJSON(json)) ` +
        `as default or \`factory\`; its exports are: ${Object.keys(mod).join(', ') || '(none)'}`,
    );
  const preset =
    mod.featurePreset === 'tree' || mod.featurePreset === 'linear' ? mod.featurePreset : undefined;
  return preset ? { factory: found, preset } : { factory: found };
}

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
