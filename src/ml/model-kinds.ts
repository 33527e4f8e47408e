import { InputError } from '../errors.js';
import { dummyModel } from './dummy.js';
import { gbdtFactory } from './gbdt/gbdt-classifier.js';
import { logisticModel } from './logistic.js';
import type { Classifier, ModelFactory, ModelJSON } from './model.js';

/**
 * The built-in model kinds. Each model module exports a ModelFactory; add it to this list.
 * User-supplied models (pipeline candidates from a module) are passed alongside, not registered globally.
 */
const BUILTIN: ModelFactory[] = [dummyModel, logisticModel, gbdtFactory];

export function builtinModelKinds(): readonly ModelFactory[] {
  return BUILTIN;
}

export function findModelFactory(kind: string, extra: readonly ModelFactory[] = []): ModelFactory {
  const all = [...extra, ...BUILTIN];
  const f = all.find((m) => m.kind === kind);
  if (!f)
    throw new InputError(
      `Unknown model kind "${kind}"; known kinds: ${all.map((m) => m.kind).join(', ') || '(none)'}`,
    );
  return f;
}

export function modelFromJSON(json: ModelJSON, extra: readonly ModelFactory[] = []): Classifier {
  return findModelFactory(json.kind, extra).fromJSON(json);
}
