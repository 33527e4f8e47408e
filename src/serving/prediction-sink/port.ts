/**
 * The prediction log's port. The serving service records every served prediction (or a sample) through a
 * {@link PredictionSink}; ground truth arrives through {@link PredictionSink.attachOutcomes} (POST /feedback,
 * `tassel monitor labels`); the monitor reads both back with {@link PredictionReader}. Each storage backend is
 * a {@link PredictionStore} adapter (a folder beside this file: `local/` segment files, `postgres/`), picked by
 * {@link openPredictionStore} (registry.ts) from a URI. The queue, sampling, drop counting and the feedback rules
 * (unknown, duplicate, corrected, late) are written once in sink.ts and feedback.ts, over any store.
 */

import { type RecordsRange, recordSpans } from '../record-spans.js';

/** One logged prediction, as the reader returns it (the local adapter's JSONL line has exactly these keys). */
export interface PredictionRecord {
  /** The response's `x-request-id` (the caller's when it sent one); batch rows are `<id>/<row index>`. */
  request_id: string;
  /** When it was served (ISO 8601, UTC, millisecond precision). */
  time: string;
  model_name: string;
  /** Registered version; null for a local bundle. */
  model_version: string | null;
  /** The raw input fields as the caller sent them (id columns such as Student_ID included). */
  inputs: Record<string, unknown>;
  /** P(label = 1). */
  probability: number;
  /** The predicted label at the model's threshold. */
  label: 0 | 1;
  /** True when the fallback (class prior) answered instead of the model. */
  fallback: boolean;
  /** The route that served it (/predict, /predict/batch, /invocations). */
  route: string;
}

/**
 * A prediction waiting in the sink's queue. `time` is epoch milliseconds and the inputs may be held as the raw
 * JSON text of the request (`inputs_json`, the fast lane's case) so the request path neither formats a date nor
 * serializes anything; adapters turn it into a {@link PredictionRecord} when they write.
 */
export interface PendingPrediction {
  request_id: string;
  time: number;
  model_name: string;
  model_version: string | null;
  /** The inputs as an object, or null when `inputs_json` carries them. */
  inputs: Record<string, unknown> | null;
  /** The inputs as the JSON text of one flat object (the request body, as text or UTF-8 bytes), or null. */
  inputs_json: string | Buffer | null;
  probability: number;
  label: 0 | 1;
  fallback: boolean;
  route: string;
  /**
   * Where each input field lies in `inputs_json` (a request body the model's record scanner read), when known:
   * an encoding may then write the values without their keys (the local log's compact line). Valid only while
   * the prediction is being recorded (the scanner reuses it for the next request), so a queue that keeps the
   * pending object drops it.
   */
  inputs_fields?: RecordFields | null;
}

/**
 * The fields of one JSON record as a record scanner read them from its bytes: per field, in the order sent, the
 * index of its key in `keys` and the span of its value's JSON text (a string's quotes included). Scanners reuse
 * one of these for every record, so it describes `raw` only while `raw` is the record read last and `count` is
 * not negative.
 */
export interface RecordFields {
  /** The bytes read last (the spans index them). */
  raw: Uint8Array | null;
  /** How many fields the last record had; -1 while reading or after a record the scanner declined. */
  count: number;
  /** Per field: the index of its key in `keys`. */
  slot: Int32Array;
  /**
   * Changes whenever an entry of `slot` does (a scanner adds one as it writes a slot that differs from the one
   * there): with the same `count`, an unchanged `layout` of the same object means the same keys in the same order
   * as before, so an encoder that matched these keys once need not compare them again.
   */
  layout: number;
  /** Per field: where its value's JSON text starts and ends (exclusive) in `raw`. */
  start: Int32Array;
  end: Int32Array;
  /** The keys the scanner knows (plain printable ASCII, no quotes or backslashes), by index. */
  keys: readonly string[];
}

/** An observed outcome (ground truth), attached to a prediction by request id or to an entity by its id. */
export interface OutcomeRecord {
  /** The prediction's request id (exclusive with entity_id). */
  request_id?: string;
  /** The input field naming the entity, e.g. Student_ID (with entity_id). */
  entity_field?: string;
  /** The entity's id as text (every prediction whose inputs[entity_field] equals it). */
  entity_id?: string;
  /** 1 = the positive outcome (e.g. completed). */
  outcome: 0 | 1;
  /** When the outcome was recorded (ISO 8601); the latest per key wins. */
  time: string;
}

/** Which predictions to read. Times are epoch milliseconds or Dates. */
export interface PredictionQuery {
  modelName: string;
  /** One version; every version when absent. */
  modelVersion?: string | null;
  /** Served at or after. */
  since?: number | Date;
  /** Served before. */
  until?: number | Date;
  /** Only the most recent `last` matching predictions (still yielded oldest first). */
  last?: number;
}

/** Which outcomes to read (by the time they were recorded). */
export interface OutcomeQuery {
  since?: number | Date;
  until?: number | Date;
}

/** How to find the predictions an outcome refers to. */
export interface PredictionLookup {
  requestIds?: readonly string[];
  /** Entity ids of one input field, e.g. {field: 'Student_ID', ids: ['S1', 'S2']}. */
  entity?: { field: string; ids: readonly string[] };
}

/** What a lookup found: the request ids and the entity ids (of `lookup.entity.field`) that have predictions. */
export interface LookupResult {
  requestIds: Set<string>;
  entityIds: Set<string>;
}

/**
 * One input field a columnar read extracts (see {@link PredictionReader.readPredictionColumns}): the reader hands
 * each row's JSON value of the field (undefined when absent) to `parse`, which coerces it with the training
 * schema's rules. A numeric field lands in a Float64Array (NaN = missing), any other in an array of strings.
 */
export interface ColumnField {
  name: string;
  numeric: boolean;
  /** The column's value of a JSON value; undefined = invalid (stored as missing, the row listed in `invalid`). */
  parse(value: unknown): number | string | null | undefined;
  /** `parse` of a JSON number, when the field has a cheaper one (numeric fields: the range check). */
  parseNumber?: (value: number) => number | undefined;
  /**
   * What `parseNumber` checks, when it is only this (given with it): a JSON number is the value when finite, not
   * below `min`, not above `max` and (when `integer`) an integer, else invalid. Readers check it inline.
   */
  numberRange?: { min: number; max: number; integer: boolean };
  /** False when a missing value breaks the schema's contract (the row is listed in `invalid` too). */
  nullable: boolean;
}

/** Logged predictions as columns, in the order readPredictions yields them. */
export interface PredictionColumns {
  n: number;
  /** Served at, epoch milliseconds. */
  time: Float64Array;
  /** P(label = 1); NaN when the row carries none. */
  probability: Float64Array;
  /** Request ids (only when asked for). */
  requestIds: string[] | null;
  /** Per field: Float64Array (numeric fields) or strings (null = missing). */
  columns: Map<string, Float64Array | Array<string | null>>;
  /** Per field: the rows (ascending) whose value was invalid for the schema. */
  invalid: Map<string, number[]>;
}

/** Options of a columnar read. */
export interface ColumnReadOptions {
  /** Also return each row's request id (needed to join outcomes by request id). */
  requestIds?: boolean;
  /**
   * How another thread rebuilds the same `fields` (their parsers are functions): `exportName` of the module at
   * `module` (a URL) called with `args` (structured-cloneable). With it a reader may decode part of a large read
   * on a worker thread.
   */
  fieldsRecipe?: { module: string; exportName: string; args: unknown };
}

/** The read side the monitor uses (`tassel monitor`, the Monitoring page). */
export interface PredictionReader {
  /** Logged predictions of a model, oldest first. */
  readPredictions(query: PredictionQuery): AsyncIterable<PredictionRecord>;
  /**
   * The same predictions as {@link readPredictions} (`last` aside), decoded straight into typed columns of the
   * given input fields; optional: the monitor builds the columns from records for adapters without it.
   */
  readPredictionColumns?(
    query: Omit<PredictionQuery, 'last'>,
    fields: readonly ColumnField[],
    options?: ColumnReadOptions,
  ): Promise<PredictionColumns>;
  /** Recorded outcomes, oldest first; several per key may exist (late corrections): the latest wins. */
  readOutcomes(query?: OutcomeQuery): AsyncIterable<OutcomeRecord>;
  /** Which of the given request / entity ids have at least one logged prediction. */
  findPredictions(lookup: PredictionLookup): Promise<LookupResult>;
  /** The latest recorded outcome per key among the given ones (key: `r:<request id>` or `e:<field>:<id>`). */
  latestOutcomes(keys: readonly string[]): Promise<Map<string, OutcomeRecord>>;
}

/**
 * The scored rows of one batch request, to log as one prediction per row: request id `<request_id>/<row>`, the
 * row's inputs the request text's span `[spans[2i], spans[2i+1])`. What the rows share (model, time, route) is
 * given once, so an encoding can write it once per batch instead of once per row.
 */
export interface PendingBatch {
  request_id: string;
  time: number;
  model_name: string;
  model_version: string | null;
  fallback: boolean;
  route: string;
  /** The request's JSON text. */
  text: string;
  /** True when `text` is known to be ASCII only: its rows' chars are their UTF-8 bytes, copied as they are. */
  ascii?: boolean;
  /**
   * [start, end) of each row's record in `text`, 2 per row. May be absent when `elements` is given: found (and
   * kept here) by {@link spansOf} only if a row is needed on its own.
   */
  spans?: Int32Array;
  /** Where all the rows lie as one run of `text` when they are the elements of one array (see recordsRange). */
  elements?: RecordsRange;
  /** Per row, in order. */
  rows: readonly { probability: number; label: number }[];
}

/**
 * The row spans of a batch, found on first use when the batch came with `elements` only. Throws when the text has
 * no spans for its rows (not a batch the routes log: their records are objects, which recordSpans always splits);
 * the queues count such a batch as dropped.
 */
export function spansOf(b: PendingBatch): Int32Array {
  if (b.spans === undefined) {
    const spans = recordSpans(b.text, b.rows.length);
    if (spans === null || spans.length !== 2 * b.rows.length)
      throw new Error('a batch logged without row spans has no span per row');
    b.spans = spans;
  }
  return b.spans;
}

/** Row `i` of a batch as a pending prediction (what a store without a batch encoding queues). */
export function pendingRow(b: PendingBatch, i: number): PendingPrediction {
  const spans = spansOf(b);
  return {
    request_id: `${b.request_id}/${i}`,
    time: b.time,
    model_name: b.model_name,
    model_version: b.model_version,
    inputs: null,
    inputs_json: b.text.slice(spans[2 * i]!, spans[2 * i + 1]!),
    probability: b.rows[i]!.probability,
    label: b.rows[i]!.label as 0 | 1,
    fallback: b.fallback,
    route: b.route,
  };
}

/**
 * Where an encoder writes: the sink's current chunk. `reserve(n)` makes room for `n` more bytes and may move
 * to a fresh chunk, so `buffer` and `offset` are read after it.
 */
export interface ByteOutput {
  buffer: Buffer;
  offset: number;
  reserve(n: number): void;
}

/**
 * A store's own byte form of a queued prediction (the local adapter's: the finished JSONL line). With it the sink
 * encodes each prediction into a pooled chunk as it is recorded and later hands whole chunks to `append`. Why:
 * queued objects (and the request text they hold) outlive a young-generation GC at tens of thousands of requests
 * per second and are copied and promoted, which cost the request path more than the encoding; bytes in a reused
 * chunk cost nothing after they are written.
 */
export interface PredictionEncoding {
  /** Appends the bytes of one prediction to `out` (reserving what it needs first). */
  encode(prediction: PendingPrediction, out: ByteOutput): void;
  /**
   * Appends the first `rows` rows of a batch (each the prediction {@link pendingRow} gives) to `out`, in the
   * store's batch form: what the rows share may be written once for all of them (the local log writes one line).
   */
  encodeBatch?(batch: PendingBatch, rows: number, out: ByteOutput): void;
  /** Writes chunks of whole encoded predictions, in order (off the request path, one call at a time). */
  append(chunks: readonly Buffer[]): Promise<void>;
  /**
   * Present when the store writes chunks faster from memory of its own, placed as it says (the local log's direct
   * segments write such chunks in place instead of copying them). The queue then takes its chunks of
   * `chunkBytes` from `chunks(chunkBytes)` (ordinary ones when it gives null) and starts the bytes of each at
   * `(nextOffset() + bytes queued before it) % block`, where they will land in the store's blocks.
   */
  placement?: ChunkPlacement;
}

/** How a store wants its chunks (see {@link PredictionEncoding.placement}). */
export interface ChunkPlacement {
  block: number;
  /**
   * An allocator of chunks of `chunkBytes` (a multiple of `block`): each call gives a fresh one, or null when the
   * store has none to give.
   */
  chunks(chunkBytes: number): () => Buffer | null;
  /** The store offset the next appended byte is expected at. */
  nextOffset(): number;
}

/** A storage backend of the prediction log: writes batches, reads them back. */
export interface PredictionStore extends PredictionReader {
  /** Where it writes (for logs and --help), e.g. a folder or a PostgreSQL URI without password. */
  readonly description: string;
  /** Writes one batch (called off the request path, one call at a time). */
  appendPredictions(batch: readonly PendingPrediction[]): Promise<void>;
  /** The store's byte form of queued predictions, when it has one (the sink then queues bytes, not objects). */
  readonly encoding?: PredictionEncoding;
  /** Writes outcomes (after the feedback rules decided which to keep). */
  appendOutcomes(batch: readonly OutcomeRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** The outcome of one fed-back label. */
export type FeedbackStatus =
  /** Stored: the first outcome for this key. */
  | 'attached'
  /** Stored: a different outcome than the one recorded before (a correction; the latest wins). */
  | 'updated'
  /** Not stored again: the same outcome was already recorded. */
  | 'duplicate'
  /** Not stored: no logged prediction has this request id / entity id (sampled out, never served, expired). */
  | 'unknown';

/** One label to attach: by request id, or by entity id (with the sink's or the call's entity field). */
export interface FeedbackItem {
  request_id?: string;
  entity_id?: string | number;
  /** 1/0, true/false. */
  outcome: 0 | 1;
}

/** Per item, in order: the key it was attached by and what happened. */
export interface FeedbackResult {
  request_id?: string;
  entity_id?: string;
  status: FeedbackStatus;
}

/** Counts of a {@link PredictionSink}. */
export interface SinkStats {
  /** Predictions written to the store. */
  written: number;
  /** Predictions dropped: the queue was full (backpressure) or the store failed. */
  dropped: number;
  /** Predictions waiting in the queue. */
  queued: number;
}

/**
 * What the serving service holds: a bounded, non-blocking writer in front of a store, plus the reader and the
 * feedback rules. `record` never waits and never throws: it pushes onto a bounded in-memory queue that a timer
 * flushes to the store in batches; when the store cannot keep up, predictions are dropped and counted (the
 * `tassel_serving_prediction_log_dropped_total` metric), the request is never slowed down.
 */
export interface PredictionSink extends PredictionReader {
  readonly description: string;
  /** Whether this request is logged (the sample rate); call before building the entry. */
  sampled(): boolean;
  /** The fraction of predictions logged now, in [0, 1]. */
  readonly sampleRate: number;
  /**
   * Changes the fraction logged from the next request on (clamped to [0, 1]); what is queued is still written.
   * Operators turn logging down under load, or off and on again, without a restart (PUT /admin/prediction-log).
   */
  setSampleRate(rate: number): void;
  /** Queues one prediction (never blocks; drops and counts when the queue is full). */
  record(prediction: PendingPrediction): void;
  /** Queues each row of a batch (never blocks; drops and counts the rows that do not fit). */
  recordBatch(batch: PendingBatch): void;
  readonly stats: SinkStats;
  /**
   * Attaches outcomes (ground truth). Each item is matched to logged predictions (after flushing what is
   * queued, so a label right after its prediction is found): unknown ids are reported and not stored, a repeat
   * of the recorded outcome is a `duplicate`, a different one an `updated` correction (stored; the latest wins).
   * Labels may arrive any time later (weeks): matching reads the store, not a memory window.
   */
  attachOutcomes(
    items: readonly FeedbackItem[],
    options?: { entityField?: string },
  ): Promise<FeedbackResult[]>;
  /** Writes what is queued now. */
  flush(): Promise<void>;
  /** Flushes and closes the store. */
  close(): Promise<void>;
}

/** Epoch milliseconds of a query bound. */
export const millisOf = (t: number | Date | undefined): number | undefined =>
  t === undefined ? undefined : typeof t === 'number' ? t : t.getTime();

/** The outcome key of an item: `r:<request id>` or `e:<field>:<entity id>`. */
export const outcomeKey = (o: { request_id?: string; entity_field?: string; entity_id?: string }): string =>
  o.request_id !== undefined ? `r:${o.request_id}` : `e:${o.entity_field ?? ''}:${o.entity_id ?? ''}`;

/** The record a pending prediction becomes when written. */
export function toRecord(p: PendingPrediction): PredictionRecord {
  return {
    request_id: p.request_id,
    time: new Date(p.time).toISOString(),
    model_name: p.model_name,
    model_version: p.model_version,
    inputs: p.inputs ?? (JSON.parse(String(p.inputs_json ?? '{}')) as Record<string, unknown>),
    probability: p.probability,
    label: p.label,
    fallback: p.fallback,
    route: p.route,
  };
}
