import type { DatasetSchema } from '../data/schema.js';
import type { RawRecord } from '../data/table.js';
import type { FeatureStepRunner } from '../features/feature-step.js';
import { compileRecordEncoder } from '../features/compiled-encoder.js';
import type { FittedTransform } from '../features/transform.js';
import { loadBundle } from '../ml/bundle.js';
import { GbdtClassifier } from '../ml/gbdt/gbdt-classifier.js';
import { gbdtFactory } from '../ml/gbdt/index.js';
import type { Classifier } from '../ml/model.js';
import {
  createRecordExplainer,
  type ExplanationViews,
  type RecordExplainer,
} from '../ml/record-explainer.js';
import { compileRecordScanner } from './record-scanner.js';
import { createRecordValidator, type RecordValidatorOptions } from './record-validator.js';
import type { ModelIdentity, ServedModel } from './served-model.js';

/** The parts of a model bundle serving needs. */
export interface ServedModelParts {
  identity: ModelIdentity;
  schema: DatasetSchema;
  transform: FittedTransform;
  model: Classifier;
  threshold: number;
  prior: number;
  signature?: unknown;
  metrics?: Record<string, number>;
  validatorOptions?: RecordValidatorOptions;
  /** The bundle's feature steps, run on each record before the encoder (a throw falls back to the prior). */
  featureSteps?: FeatureStepRunner | null;
  /**
   * GBDT explanations from compact (float32) TreeSHAP tables (default true): about half the cache traffic per
   * explained request, each value within about 1e-7 of its size of the exact one; false for the exact tables.
   */
  compactExplanations?: boolean;
}

/**
 * A servable model from a fitted transform and classifier: the record encoder (code generated once per model)
 * writes into one preallocated Float64Array and the classifier's `predictOne` scores it (for GBDT, a walk over
 * flattened tree arrays), so a prediction allocates nothing. Safe because scoring is synchronous: no request interleaves inside it.
 */
export function createServedModel(parts: ServedModelParts): ServedModel {
  const encoder = compileRecordEncoder(parts.transform);
  const width = encoder.width;
  const row = new Float64Array(width);
  const model = parts.model;
  const steps = parts.featureSteps ?? null;
  // built on the first explained request (TreeSHAP's tables cost memory a plain prediction never needs)
  let explainer: RecordExplainer | null = null;
  const explainRow = new Float64Array(width);
  // GBDT: the margin is kept from scoring (its probability as predictOne computes it from the margin)
  const gbdt = model instanceof GbdtClassifier ? model : null;
  const marginOf = gbdt === null ? null : (r: Float64Array) => gbdt.marginOne(r);
  // only ever given a GBDT's margin (scoredMargin is set where marginOf is not null)
  const probabilityOf = (margin: number) => gbdt!.probabilityOf(margin);
  // The record encoded last (into `row`), its input after the feature steps and its margin: an explained
  // /predict explains the record it has just scored (the route) or scores the one it has just explained (the
  // fast lane), synchronously, so `row` still holds its encoding (no second encode and tree walk). A record
  // object is taken as unchanged between the two calls.
  let scored: RawRecord | null = null;
  let scoredInput: RawRecord | null = null;
  let scoredMargin = Number.NaN;
  // the record explained last, which the next scoreRecord may take from the cache (once)
  let explained: RawRecord | null = null;
  // feature steps run on a record object, which the scanner never builds
  const scanner = steps === null ? compileRecordScanner(parts.schema, parts.transform.columns) : null;
  return {
    identity: parts.identity,
    fallback: false,
    threshold: parts.threshold,
    prior: parts.prior,
    width,
    featureNames: parts.transform.feature_names,
    schema: parts.schema,
    signature: parts.signature ?? null,
    metrics: parts.metrics ?? {},
    kind: model.kind,
    validator: createRecordValidator(parts.schema, parts.validatorOptions),
    scoreRecord(record: RawRecord): number {
      if (record === explained && record === scored) {
        explained = null;
        return probabilityOf(scoredMargin);
      }
      explained = null;
      scored = null;
      const input = steps === null ? record : steps.applyRecord(record);
      encoder.encode(input, row);
      if (marginOf === null) return model.predictOne(row);
      scoredMargin = marginOf(row);
      scored = record;
      scoredInput = input;
      return probabilityOf(scoredMargin);
    },
    scoreJson:
      scanner === null
        ? undefined
        : (raw: Uint8Array): number | null => {
            explained = null;
            scored = null;
            try {
              if (!scanner.scan(raw, row)) return null;
            } catch {
              // the scanner is meant never to throw; if it does, the usual path reads the record
              return null;
            }
            return marginOf === null ? model.predictOne(row) : probabilityOf(marginOf(row));
          },
    scanned: scanner === null ? undefined : scanner.fields,
    scoreVector(vector: Float64Array): number {
      return model.predictOne(vector);
    },
    explainRecord(record: RawRecord, top: number, views?: ExplanationViews) {
      // compact tables: one record at a time misses cache about half as often (values within ~1e-7 relative)
      explainer ??= createRecordExplainer(
        { model, transform: parts.transform },
        { compact: parts.compactExplanations !== false },
      );
      if (record === scored) return explainer.explain(row, scoredInput, top, views, scoredMargin);
      explained = null;
      scored = null;
      const input = steps === null ? record : steps.applyRecord(record);
      if (marginOf === null) {
        encoder.encode(input, explainRow);
        return explainer.explain(explainRow, input, top, views);
      }
      encoder.encode(input, row);
      scoredMargin = marginOf(row);
      const out = explainer.explain(row, input, top, views, scoredMargin);
      scored = record;
      scoredInput = input;
      explained = record;
      return out;
    },
  };
}

/** Options of {@link loadServedBundle}. */
export interface LoadServedBundleOptions {
  identity: ModelIdentity;
  validatorOptions?: RecordValidatorOptions;
}

/** Loads a model bundle folder (MLmodel + model.json) as a servable model; throws for a damaged or unknown one. */
export async function loadServedBundle(dir: string, options: LoadServedBundleOptions): Promise<ServedModel> {
  // a custom model or feature steps the pipeline trained from a user's modules travel in the bundle's code/
  // folder; loadBundle loads them from there
  const bundle = await loadBundle(dir, { extraFactories: [gbdtFactory] });
  // numeric metrics, nested ones flattened: {test: {roc_auc}} -> "test.roc_auc"
  const metrics: Record<string, number> = {};
  const flatten = (prefix: string, value: unknown, depth: number) => {
    if (typeof value === 'number' && Number.isFinite(value)) metrics[prefix] = value;
    else if (value && typeof value === 'object' && !Array.isArray(value) && depth < 3) {
      for (const [k, v] of Object.entries(value)) flatten(prefix ? `${prefix}.${k}` : k, v, depth + 1);
    }
  };
  flatten('', bundle.metrics ?? {}, 0);
  return createServedModel({
    identity: { ...options.identity, runId: options.identity.runId ?? bundle.runId },
    schema: bundle.schema,
    transform: bundle.transform,
    model: bundle.model,
    threshold: bundle.threshold,
    prior: bundle.prior,
    signature: bundle.signature,
    metrics,
    validatorOptions: options.validatorOptions,
    featureSteps: bundle.featureSteps,
  });
}
