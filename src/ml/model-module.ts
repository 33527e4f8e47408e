import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InputError } from '../errors.js';
import { type FeatureStep, isFeatureStep } from '../features/feature-step.js';
import type { FeaturePreset } from '../features/spec.js';
import type { ModelFactory } from './model.js';

const isFactory = (x: unknown): x is ModelFactory =>
  !!x &&
  typeof x === 'object' &&
  typeof (x as ModelFactory).kind === 'string' &&
  typeof (x as ModelFactory).create === 'function' &&
  typeof (x as ModelFactory).fromJSON === 'function';

/**
 * Imports a user's module (JS, or TS through tsx). Throws InputError naming `what` and the file when it is
 * missing or does not load.
 */
async function importUserModule(file: string, what: string): Promise<Record<string, unknown>> {
  try {
    // TypeScript through tsx's scoped loader: it treats the file as ESM wherever it lives (a bundle downloaded
    // to a temp folder, a project without "type": "module"), where a plain import under the global hook fails
    // with ERR_REQUIRE_CYCLE_MODULE, and it works from compiled JavaScript (the container image) too.
    if (/\.[cm]?ts$/.test(file)) {
      const { tsImport } = await import('tsx/esm/api');
      const mod = (await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
      // outside a "type": "module" package tsx compiles the file to CommonJS: its exports are `default`
      const inner = mod.default as Record<string, unknown> | undefined;
      return inner && typeof inner === 'object' && inner.__esModule === true ? inner : mod;
    }
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(file))
      throw new InputError(`${what} ${file}: file not found`);
    throw new InputError(`${what} ${file}: cannot be loaded: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Load a user's model module (a pipeline candidate, or the code/ of a bundle) (JS, or TS through tsx) and find its ModelFactory: the default export,
 * a `factory` export, or the only exported factory. Throws InputError saying what was found instead.
 */
export async function loadModelModule(
  file: string,
  what = 'model module',
): Promise<{ factory: ModelFactory; preset?: FeaturePreset }> {
  const mod = await importUserModule(file, what);
  const found = [mod.default, mod.factory, ...Object.values(mod)].find(isFactory);
  if (!found)
    throw new InputError(
      `${what} ${file}: exports no ModelFactory (an object with kind, create(params) and fromJSON(json)) ` +
        `as default or \`factory\`; its exports are: ${Object.keys(mod).join(', ') || '(none)'}`,
    );
  const preset =
    mod.featurePreset === 'tree' || mod.featurePreset === 'linear' ? mod.featurePreset : undefined;
  return preset ? { factory: found, preset } : { factory: found };
}

/**
 * The model factories a bundle carries as code (its `code/` folder: user-supplied model modules the pipeline
 * copied in), so a custom model is served like a built-in one. No `code/` folder: none.
 */
export async function loadBundleCodeFactories(bundleDir: string): Promise<ModelFactory[]> {
  let names: string[];
  try {
    names = readdirSync(join(bundleDir, 'code'));
  } catch {
    return [];
  }
  const factories: ModelFactory[] = [];
  for (const name of names.sort()) {
    if (!/\.(?:[cm]?js|[cm]?ts)$/.test(name)) continue;
    factories.push((await loadModelModule(join(bundleDir, 'code', name), 'bundle code module')).factory);
  }
  return factories;
}

/**
 * Load a user's feature step module (JS, or TS through tsx) and find its {@link FeatureStep}: the default
 * export, a `featureStep` export, or the only exported step. Throws InputError saying what was found instead.
 */
export async function loadFeatureStepModule(file: string, what = 'feature step module'): Promise<FeatureStep> {
  const mod = await importUserModule(file, what);
  const direct = [mod.default, mod.featureStep].find(isFeatureStep);
  if (direct) return direct;
  const all = Object.values(mod).filter(isFeatureStep);
  if (all.length === 1) return all[0]!;
  throw new InputError(
    all.length > 1
      ? `${what} ${file}: exports ${all.length} feature steps; export the one to use as default or \`featureStep\``
      : `${what} ${file}: exports no FeatureStep (an object with outputs and transform(row, context)) ` +
          `as default or \`featureStep\`; its exports are: ${Object.keys(mod).join(', ') || '(none)'}`,
  );
}
