import type { FastifyBaseLogger } from 'fastify';
import type { RawRecord } from '../data/table.js';
import { InputError, TasselError } from '../errors.js';
import { padVector } from '../features/padding.js';
import { createFallbackModel } from './fallback.js';
import type { ServingMetrics } from './metrics.js';
import type { ModelHolder } from './model-holder.js';
import type { PredictionSink, RecordFields } from './prediction-sink/port.js';
import { recordSpans, recordsRange } from './record-spans.js';
import type { ServedModel } from './served-model.js';

/** The `model` object of a prediction response. */
export interface ModelRef {
  name: string;
  version: string | null;
  run_id: string | null;
  fallback: boolean;
  reason?: string;
}

/** One scored record of a batch. */
export interface ScoredRow {
  probability: number;
  label: number;
}

/** A single-record /predict answer (the route's object; the fast lane sends the same as text). */
export interface PredictOutput {
  probability: number;
  label: 0 | 1;
  threshold: number;
  model: ModelRef;
  padding?: { expected: number; received: number; padded: number; truncated: number };
}

/** Options of {@link createScoring}. */
export interface ScoringOptions {
  metrics: ServingMetrics;
  /** Where inference failures are reported (the app's logger). */
  log: FastifyBaseLogger;
  /** Most records in one batch request; over it, REQUEST_TOO_LARGE (413). */
  batchCap: number;
  /** The prediction log (every prediction or a sample), or null when off. */
  sink: PredictionSink | null;
}

/**
 * The scoring step every prediction route and the fast lane go through: score (a throwing model is answered by
 * its class prior), label at the threshold, count, log. One place, so the routes and the lane cannot drift apart.
 * Per-model derived values (the response's model object, the fast lane's JSON tail, the inference fallback) are
 * memoised per served model, which is immutable.
 */
export interface Scoring {
  /** /predict for one record the model's validator accepted, as the route's response object. */
  predictRecord(model: ServedModel, body: Record<string, unknown>, requestId: string): PredictOutput;
  /**
   * The fast lane's twin of predictRecord: the same scoring, counting and logging, answered as JSON text.
   * Why text: the part after the label is fixed per served model, so it is serialized once, not per request;
   * the bytes equal JSON.stringify of the route's object (p is a finite number in [0, 1], which String() and
   * JSON.stringify spell alike), which the fast-lane agreement test checks.
   */
  predictRecordJson(
    model: ServedModel,
    body: Record<string, unknown>,
    raw: Buffer,
    requestId: string,
  ): string;
  /**
   * predictRecordJson for a record still in its JSON bytes, read by the model's scanner (ServedModel.scoreJson):
   * the same answer, counting and logging, or null, having done nothing, when the model has no scanner or it
   * declines these bytes (the caller then parses and validates them and calls predictRecordJson). `now` (epoch
   * ms), when the caller read the clock for this request already, is the logged time (one read, not two).
   */
  predictRawJson(model: ServedModel, raw: Buffer, requestId: string, now?: number): string | null;
  /**
   * /predict for a feature vector `{features: [...]}` (padded or cut to the model's width). Not logged: a vector
   * carries no raw fields for the monitor to compare.
   */
  predictVector(model: ServedModel, features: readonly (number | null)[]): PredictOutput;
  /**
   * Validates (all first, so a bad record changes nothing) and scores many records; enforces the batch cap.
   * With `log`, each row is logged as request `<requestId>/<row index>` of that route; with the request's
   * `bodyText` too, each row's inputs are its text in the request (see record-spans.ts), not serialized again
   * (`bodyAscii`: that text is known to be ASCII).
   */
  scoreMany(
    model: ServedModel,
    records: readonly unknown[],
    what: string,
    log?: BatchLog,
  ): { predictions: ScoredRow[]; used: ServedModel };
  /** Scores many feature vectors (MLflow `instances` of arrays); counts each. */
  scoreVectors(model: ServedModel, vectors: readonly (readonly (number | null)[])[]): ScoredRow[];
  /** Throws REQUEST_TOO_LARGE when `n` records are over the batch cap. */
  checkBatchSize(n: number): void;
  /** The response's `model` object of a served model. */
  refOf(model: ServedModel): ModelRef;
}

/** The served model, or TEMPORARILY_UNAVAILABLE (503) while the first load is still running. */
export function requireModel(holder: ModelHolder): ServedModel {
  const model = holder.current;
  if (model === null) {
    throw new TasselError('TEMPORARILY_UNAVAILABLE', 'the model is still loading; retry shortly');
  }
  return model;
}

/** Creates the scoring step of one serving app. */
export function createScoring(options: ScoringOptions): Scoring {
  const { metrics, sink } = options;
  const memo = createModelMemo();
  const { refOf, responseTailOf } = memo;
  const steps = createScoreSteps(metrics, options.log, memo.inferenceFallbackOf);
  const { scoreVector, scoreAndCount } = steps;
  const record = sink === null ? null : createPredictionRecorder(sink);
  const checkBatchSize = createBatchSizeCheck(options.batchCap);

  return {
    predictRecord(model, body, requestId) {
      const { p, label, used } = scoreAndCount(model, body);
      if (record !== null && sink!.sampled())
        record('/predict', used, requestId, body, null, p, label, Date.now());
      return { probability: p, label, threshold: used.threshold, model: refOf(used) };
    },
    predictRecordJson(model, body, raw, requestId) {
      const { p, label, used } = scoreAndCount(model, body);
      if (record !== null && sink!.sampled())
        record('/predict', used, requestId, null, raw, p, label, Date.now());
      return `{"probability":${p},"label":${label}${responseTailOf(used)}`;
    },
    predictRawJson(model, raw, requestId, now) {
      const scoredRaw = steps.scoreRawAndCount(model, raw);
      if (scoredRaw === null) return null;
      const { p, label, used } = scoredRaw;
      if (record !== null && sink!.sampled())
        record('/predict', used, requestId, null, raw, p, label, now ?? Date.now(), model.scanned);
      return `{"probability":${p},"label":${label}${responseTailOf(used)}`;
    },
    predictVector(model, features) {
      const { p, used, padding } = scoreVector(model, features);
      const label: 0 | 1 = p >= used.threshold ? 1 : 0;
      metrics.countPredictions(label, used.fallback);
      return { probability: p, label, threshold: used.threshold, model: refOf(used), padding };
    },
    scoreMany(model, records, what, log) {
      checkBatchSize(records.length);
      const out = scoreValidatedBatch(steps, metrics, model, records, what);
      if (log !== undefined && record !== null && sink!.sampled()) logRows(sink!, record, log, records, out);
      return out;
    },
    scoreVectors(model, vectors) {
      checkBatchSize(vectors.length);
      return vectors.map((v) => {
        const { p, used } = scoreVector(model, v);
        const label = p >= used.threshold ? 1 : 0;
        metrics.countPredictions(label, used.fallback);
        return { probability: p, label };
      });
    },
    checkBatchSize,
    refOf,
  };
}

/** How a batch request is logged: its route and id, and its body's text (rows are logged as their spans of it). */
export interface BatchLog {
  route: string;
  requestId: string;
  bodyText?: string | null;
  /** True when `bodyText` is known to be ASCII only (see isAsciiBody). */
  bodyAscii?: boolean;
}

type PredictionRecorder = ReturnType<typeof createPredictionRecorder>;

/** Logs each scored row of a batch: its text in the request when the spans match the records, else the row. */
function logRows(
  sink: PredictionSink,
  record: PredictionRecorder,
  log: BatchLog,
  records: readonly unknown[],
  out: { predictions: ScoredRow[]; used: ServedModel },
): void {
  const text = log.bodyText ?? null;
  // the records as one run of the text (one search), else each record's span (one search a record)
  const elements = text === null ? null : recordsRange(text);
  const spans = text === null || elements !== null ? null : recordSpans(text, records.length);
  const { predictions, used } = out;
  const time = Date.now(); // the rows were served together: one time, not a clock read per row
  if (elements !== null || (spans !== null && spans.length === 2 * records.length)) {
    // one call for the batch: the sink's encoding writes what the rows share once, not a record per row
    sink.recordBatch({
      request_id: log.requestId,
      time,
      model_name: used.identity.name,
      model_version: used.identity.version,
      fallback: used.fallback,
      route: log.route,
      text: text!,
      ascii: log.bodyAscii === true,
      elements: elements ?? undefined,
      spans: spans ?? undefined,
      rows: predictions,
    });
    return;
  }
  for (let i = 0; i < records.length; i++) {
    const row = predictions[i]!;
    const id = `${log.requestId}/${i}`;
    record(
      log.route,
      used,
      id,
      records[i] as Record<string, unknown>,
      null,
      row.probability,
      row.label as 0 | 1,
      time,
    );
  }
}

/** Queues one prediction for the log (no I/O here; the sink encodes or keeps it, see prediction-sink/sink.ts). */
function createPredictionRecorder(sink: PredictionSink) {
  return (
    route: string,
    used: ServedModel,
    requestId: string,
    inputs: Record<string, unknown> | null,
    inputsJson: Buffer | string | null,
    p: number,
    label: 0 | 1,
    time: number,
    fields: RecordFields | null = null,
  ) => {
    sink.record({
      request_id: requestId,
      time,
      model_name: used.identity.name,
      model_version: used.identity.version,
      inputs,
      inputs_json: inputsJson,
      probability: p,
      label,
      fallback: used.fallback,
      route,
      inputs_fields: fields,
    });
  };
}

/** Throws REQUEST_TOO_LARGE when a request holds more than `batchCap` records. */
function createBatchSizeCheck(batchCap: number) {
  return (n: number) => {
    if (n > batchCap) {
      throw new TasselError(
        'REQUEST_TOO_LARGE',
        `${n} records in one request is over the cap of ${batchCap}; split the request`,
      );
    }
  };
}

type ScoreSteps = ReturnType<typeof createScoreSteps>;

/** Scoring one record or vector, with the inference fallback: the innermost step every route shares. */
function createScoreSteps(
  metrics: ServingMetrics,
  logger: FastifyBaseLogger,
  inferenceFallbackOf: (model: ServedModel) => ServedModel,
) {
  const reportFailure = (err: unknown, model: ServedModel) => {
    metrics.countInferenceError();
    logger.error({ err, model: model.identity }, 'inference failed; answering with the class prior');
  };

  /** Scores one validated record; a throwing model is answered by its prior. */
  const scoreRecord = (model: ServedModel, record: RawRecord): { p: number; used: ServedModel } => {
    try {
      const p = model.scoreRecord(record);
      if (p >= 0 && p <= 1) return { p, used: model };
      throw new Error(`model returned ${p}`);
    } catch (err) {
      reportFailure(err, model);
      const fb = inferenceFallbackOf(model);
      return { p: fb.prior, used: fb };
    }
  };

  const scoreVector = (model: ServedModel, raw: readonly (number | null)[]) => {
    const pad = padVector(raw as ArrayLike<number>, model.width);
    metrics.countPadding(pad.padded > 0 ? 'padded' : pad.truncated > 0 ? 'truncated' : 'exact');
    let p: number;
    let used = model;
    try {
      p = model.scoreVector(pad.vector);
      if (!(p >= 0 && p <= 1)) throw new Error(`model returned ${p}`);
    } catch (err) {
      reportFailure(err, model);
      used = inferenceFallbackOf(model);
      p = used.prior;
    }
    const { expected, received, padded, truncated } = pad;
    return { p, used, padding: { expected, received, padded, truncated } };
  };

  /** Scores a validated record and counts the prediction: the part the route and the fast lane share. */
  const scoreAndCount = (model: ServedModel, body: Record<string, unknown>) => {
    const { p, used } = scoreRecord(model, body as RawRecord);
    const label: 0 | 1 = p >= used.threshold ? 1 : 0;
    metrics.countPredictions(label, used.fallback);
    return { p, label, used };
  };

  /** scoreAndCount for a record in its JSON bytes (ServedModel.scoreJson); null, having counted nothing, when declined. */
  const scoreRawAndCount = (model: ServedModel, raw: Buffer) => {
    if (model.scoreJson === undefined) return null;
    let p: number | null;
    let used = model;
    try {
      p = model.scoreJson(raw);
      if (p === null) return null;
      if (!(p >= 0 && p <= 1)) throw new Error(`model returned ${p}`);
    } catch (err) {
      reportFailure(err, model);
      used = inferenceFallbackOf(model);
      p = used.prior;
    }
    const label: 0 | 1 = p >= used.threshold ? 1 : 0;
    metrics.countPredictions(label, used.fallback);
    return { p, label, used };
  };

  return { scoreRecord, scoreVector, scoreAndCount, scoreRawAndCount };
}

/** Validates every record first (a bad one changes nothing), then scores and counts them all. */
function scoreValidatedBatch(
  steps: ScoreSteps,
  metrics: ServingMetrics,
  model: ServedModel,
  records: readonly unknown[],
  what: string,
): { predictions: ScoredRow[]; used: ServedModel } {
  for (let i = 0; i < records.length; i++) {
    const problem = model.validator.check(records[i]);
    if (problem !== null) throw new InputError(`${what}[${i}]: ${problem}`);
  }
  const predictions = new Array<ScoredRow>(records.length);
  let fallbackUsed: ServedModel | null = null;
  let positives = 0;
  for (let i = 0; i < records.length; i++) {
    const { p, used } = steps.scoreRecord(model, records[i] as RawRecord);
    if (used !== model) fallbackUsed = used;
    const label = p >= used.threshold ? 1 : 0;
    positives += label;
    predictions[i] = { probability: p, label };
  }
  const fb = model.fallback || fallbackUsed !== null;
  if (positives > 0) metrics.countPredictions(1, fb, positives);
  if (records.length - positives > 0) metrics.countPredictions(0, fb, records.length - positives);
  return { predictions, used: fallbackUsed ?? model };
}

/** Values derived once per served model (immutable, so a WeakMap keyed by it never goes stale). */
function createModelMemo() {
  const refs = new WeakMap<ServedModel, ModelRef>();
  const tails = new WeakMap<ServedModel, string>();
  const fallbacks = new WeakMap<ServedModel, ServedModel>();

  const refOf = (model: ServedModel): ModelRef => {
    let ref = refs.get(model);
    if (ref === undefined) {
      ref = {
        name: model.identity.name,
        version: model.identity.version,
        run_id: model.identity.runId,
        fallback: model.fallback,
      };
      if (model.reason !== undefined) ref.reason = model.reason;
      refs.set(model, ref);
    }
    return ref;
  };

  /** The end of a /predict response after the label (threshold and model object) as JSON. */
  const responseTailOf = (model: ServedModel): string => {
    let tail = tails.get(model);
    if (tail === undefined) {
      tail = `,"threshold":${JSON.stringify(model.threshold)},"model":${JSON.stringify(refOf(model))}}`;
      tails.set(model, tail);
    }
    return tail;
  };

  /** The prior model that answers when this model's scoring throws. */
  const inferenceFallbackOf = (model: ServedModel): ServedModel => {
    let fb = fallbacks.get(model);
    if (fb === undefined) {
      fb = createFallbackModel({
        reason: 'inference error: the model failed on this input; the class prior answered',
        prior: model.prior,
        priorSource: 'last-good-model',
        identity: model.identity,
        threshold: model.threshold,
        schema: model.schema,
        width: model.width,
        featureNames: model.featureNames,
      });
      fallbacks.set(model, fb);
    }
    return fb;
  };

  return { refOf, responseTailOf, inferenceFallbackOf };
}
