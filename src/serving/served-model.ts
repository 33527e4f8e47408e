import type { DatasetSchema } from '../data/schema.js';
import type { RawRecord } from '../data/table.js';
import type { Explanation, ExplanationViews } from '../ml/record-explainer.js';
import type { RecordFields } from './prediction-sink/port.js';
import type { RecordValidator } from './record-validator.js';

/** Where a served model came from: the registry (name + version) or a local bundle directory. */
export interface ModelIdentity {
  /** Registered model name (or the bundle folder's name for a local bundle). */
  name: string;
  /** Registered version, or null for a local bundle. */
  version: string | null;
  /** The run that produced the model, when known. */
  runId: string | null;
  /** The URI the model was resolved from (e.g. models:/course-completion@production). */
  uri: string;
  /** Content checksum of the loaded bundle (sha256 of its files), when known. */
  checksum?: string;
}

/**
 * What the serving routes need from a model, whatever it is (a loaded bundle or the fallback prior).
 * Implementations are immutable: a swap replaces the whole object, so a request that took a reference
 * keeps scoring with it even if the holder moves on.
 */
export interface ServedModel {
  readonly identity: ModelIdentity;
  /** True for the dummy prior model used when no real model can be loaded or inference failed. */
  readonly fallback: boolean;
  /** Why the fallback is active (undefined for a real model). */
  readonly reason?: string;
  /** Probability at or above which the label is 1. */
  readonly threshold: number;
  /** Class prior P(y=1) of the training data (used by the fallback). */
  readonly prior: number;
  /** Width of the feature vector the estimator expects. */
  readonly width: number;
  /** Names of the model's features, in vector order. */
  readonly featureNames: readonly string[];
  /** The dataset schema the request records are validated against (null: nothing known, any record accepted). */
  readonly schema: DatasetSchema | null;
  /** MLflow-form signature of the model (inputs/outputs), as stored in MLmodel. */
  readonly signature: unknown;
  /** Metrics recorded for the model at training time. */
  readonly metrics: Record<string, number>;
  /** Model kind (gbdt, logistic, dummy, ...). */
  readonly kind: string;
  /** Validator compiled once from `schema`. */
  readonly validator: RecordValidator;
  /** P(y=1) for one record that passed `validator`. */
  scoreRecord(record: RawRecord): number;
  /**
   * P(y=1) for the record whose JSON bytes are `raw`, read by the model's record scanner (record-scanner.ts)
   * without parsing them into an object; null when the scanner declines those bytes (the caller then parses
   * and validates them as usual). The same number scoreRecord gives for the parsed record the validator
   * accepts. Absent: the model has no scanner.
   */
  scoreJson?(raw: Uint8Array): number | null;
  /**
   * Where the fields of the record scoreJson read last lie in its bytes (see RecordFields; `count` is -1 when
   * it declined): the prediction log writes that record's values from it. Absent with scoreJson.
   */
  readonly scanned?: RecordFields;
  /** P(y=1) for one feature vector of exactly `width` values. */
  scoreVector(vector: Float64Array): number;
  /**
   * The explanation of one record that passed `validator`, listing the `top` largest fields, with the optional
   * `views` (encoded columns, field interactions); throws a
   * TasselError saying why when this model cannot be explained. Absent: the model offers no explanations.
   */
  explainRecord?(record: RawRecord, top: number, views?: ExplanationViews): Explanation & { note?: string };
}
