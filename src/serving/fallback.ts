import type { DatasetSchema } from '../data/schema.js';
import { priorExplanation, type ServedExplanation } from './explain-step.js';
import { createRecordValidator, type RecordValidatorOptions } from './record-validator.js';
import type { ModelIdentity, ServedModel } from './served-model.js';

/** Options of {@link createFallbackModel}. */
export interface FallbackModelOptions {
  /** Why the fallback is serving (shown in every response and on /health/ready). */
  reason: string;
  /** P(y=1) to answer with: from the last good model, the registered version's tags, or configuration. */
  prior: number;
  /** Where the prior came from, for /model (e.g. "last-good-model", "version-tags", "configuration"). */
  priorSource?: string;
  /** Identity to report (the model the service is meant to serve). */
  identity: ModelIdentity;
  /** Threshold of the real model when known; default 0.5. */
  threshold?: number;
  /** The last good model's schema, so bad requests are still refused while degraded; null accepts any object. */
  schema?: DatasetSchema | null;
  /** Feature width of the last good model (vector input is padded to it); default 0. */
  width?: number;
  featureNames?: readonly string[];
  validatorOptions?: RecordValidatorOptions;
}

/**
 * The dummy prior model: answers every record with the class prior, as scikit-learn's
 * `DummyClassifier(strategy="prior")` does. It keeps the last good model's schema when there was one, so
 * clients get the same validation while the service is degraded.
 */
export function createFallbackModel(options: FallbackModelOptions): ServedModel {
  const prior = Number.isFinite(options.prior) ? Math.min(1, Math.max(0, options.prior)) : 0.5;
  const schema = options.schema ?? null;
  return {
    identity: options.identity,
    fallback: true,
    reason: options.reason,
    threshold: options.threshold ?? 0.5,
    prior,
    width: options.width ?? 0,
    featureNames: options.featureNames ?? [],
    schema,
    signature: null,
    metrics: {},
    kind: `dummy-prior (${options.priorSource ?? 'configuration'})`,
    validator: createRecordValidator(schema, options.validatorOptions),
    scoreRecord: () => prior,
    scoreVector: () => prior,
    explainRecord(_record, _top, views): ServedExplanation {
      return priorExplanation(
        prior,
        (schema?.columns ?? []).filter((c) => c.role === 'feature' && c.type !== 'id').map((c) => c.name),
        `the fallback prior answered (${options.reason}): a constant, so no field contributes`,
        views,
      );
    },
  };
}

/** The class prior stored in a registered version's tags (`tassel.prior`, `class_prior` or `prior`), if any. */
export function priorFromTags(tags: Record<string, string> | undefined): number | undefined {
  if (!tags) return undefined;
  for (const key of ['tassel.prior', 'tassel.class_prior', 'class_prior', 'prior']) {
    const v = tags[key];
    if (v === undefined) continue;
    const n = Number(v);
    if (Number.isFinite(n) && n >= 0 && n <= 1) return n;
  }
  return undefined;
}
