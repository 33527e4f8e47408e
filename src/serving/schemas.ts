import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { ExplanationSchema } from './explain-schemas.js';

/**
 * The serving API's schemas: one TypeBox source for request validation (Ajv, compiled once at start),
 * response serialization (fast-json-stringify) and the OpenAPI document at /openapi.json and /docs.
 * Record fields are checked again per model (types, ranges, allowed values, unknown fields) by the validator
 * compiled from the served model's signature, since the model, and so its fields, can change at run time.
 */

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** A record field: a string, number, boolean or null (null = missing). */
export const FieldValue = Type.Unsafe<string | number | boolean | null>({
  type: ['string', 'number', 'boolean', 'null'],
  description: 'A field value; null or absent = missing.',
});

/** One record of raw named fields, as in the training data. */
// additionalProperties rather than Type.Record's patternProperties: Ajv then checks each field without a regex
export const RecordSchema = Type.Object(
  {},
  {
    additionalProperties: FieldValue,
    description:
      "One record of raw named fields (the model's input columns, see GET /model). Unknown fields are refused " +
      'unless the service runs with --allow-unknown-fields.',
  },
);

/** POST /predict: a record, or a pre-computed feature vector `{features: [numbers]}`. */
export const PredictBody = Type.Object(
  {
    features: Type.Optional(
      Type.Array(Nullable(Type.Number()), {
        description:
          "Pre-computed feature vector (the seed's contract). Padded with zeros or cut to the model's width; " +
          'the response says what was done. Null = missing. When present, no other field may be sent.',
        maxItems: 100_000,
      }),
    ),
  },
  {
    additionalProperties: FieldValue,
    description: 'One record of raw named fields, or {"features": [numbers]}.',
    examples: [{ code_module: 'AAA', gender: 'M', studied_credits: 60, mean_score: 71.5 }],
  },
);
export type PredictBody = Static<typeof PredictBody>;

/** The model that answered, in every prediction response. */
export const ModelRef = Type.Object({
  name: Type.String(),
  version: Type.Unsafe<string | null>({ type: ['string', 'null'] }),
  run_id: Type.Unsafe<string | null>({ type: ['string', 'null'] }),
  fallback: Type.Boolean({
    description: 'True when the dummy prior model answered instead of the real one.',
  }),
  reason: Type.Optional(Type.String({ description: 'Why the fallback answered.' })),
});

/** What dynamic feature padding did to a vector. */
export const Padding = Type.Object({
  expected: Type.Integer({ description: "The model's feature width." }),
  received: Type.Integer(),
  padded: Type.Integer({ description: 'Zeros appended.' }),
  truncated: Type.Integer({ description: 'Values cut off the end.' }),
});

export const PredictResponse = Type.Object({
  probability: Type.Number({ description: 'P(label = 1).' }),
  label: Type.Integer({ description: '1 when probability >= threshold, else 0.' }),
  threshold: Type.Number(),
  model: ModelRef,
  padding: Type.Optional(Padding),
  explanation: Type.Optional(ExplanationSchema),
});

/** POST /predict/batch: an array of records, or `{records: [...]}`. */
export const BatchBody = Type.Union([
  Type.Array(RecordSchema, { description: 'Records to score.' }),
  Type.Object({ records: Type.Array(RecordSchema) }, { additionalProperties: false }),
]);
export type BatchBody = Static<typeof BatchBody>;

const Prediction = Type.Object({
  probability: Type.Number(),
  label: Type.Integer(),
  explanation: Type.Optional(ExplanationSchema),
});

export const BatchResponse = Type.Object({
  predictions: Type.Array(Prediction),
  threshold: Type.Number(),
  model: ModelRef,
});

/** POST /invocations: MLflow's scoring protocol (exactly one of the four input fields). */
export const InvocationsBody = Type.Object(
  {
    dataframe_split: Type.Optional(
      Type.Object({
        columns: Type.Array(Type.String()),
        data: Type.Array(Type.Array(FieldValue)),
        index: Type.Optional(Type.Array(Type.Unknown())),
      }),
    ),
    dataframe_records: Type.Optional(Type.Array(RecordSchema)),
    instances: Type.Optional(
      Type.Array(Type.Union([RecordSchema, Type.Array(Nullable(Type.Number()))]), {
        description: 'Records, or feature vectors (padded to the model width).',
      }),
    ),
    inputs: Type.Optional(
      Type.Union(
        [Type.Array(RecordSchema), Type.Object({}, { additionalProperties: Type.Array(FieldValue) })],
        {
          description: 'Records, or columns (field name -> list of values).',
        },
      ),
    ),
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { description: "MLflow's scoring protocol, as `mlflow models serve` accepts it." },
);
export type InvocationsBody = Static<typeof InvocationsBody>;

export const InvocationsResponse = Type.Object({ predictions: Type.Array(Prediction) });

export const ErrorResponse = Type.Object(
  { error_code: Type.String(), message: Type.String() },
  { description: "MLflow's error form." },
);

export const LiveResponse = Type.Object({ status: Type.Literal('ok') });

export const ReadyResponse = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('loading'), Type.Literal('degraded')]),
  model: Type.Optional(
    Type.Object({
      name: Type.String(),
      version: Type.Unsafe<string | null>({ type: ['string', 'null'] }),
      run_id: Type.Unsafe<string | null>({ type: ['string', 'null'] }),
      fallback: Type.Boolean(),
    }),
  ),
  reason: Type.Optional(Type.String()),
});

export const ModelResponse = Type.Object(
  {
    name: Type.String(),
    version: Type.Unsafe<string | null>({ type: ['string', 'null'] }),
    run_id: Type.Unsafe<string | null>({ type: ['string', 'null'] }),
    uri: Type.String(),
    checksum: Type.Optional(Type.String()),
    kind: Type.String(),
    fallback: Type.Boolean(),
    reason: Type.Optional(Type.String()),
    threshold: Type.Number(),
    prior: Type.Number(),
    width: Type.Integer(),
    feature_names: Type.Array(Type.String()),
    fields: Type.Array(Type.Record(Type.String(), Type.Unknown())),
    signature: Type.Unknown(),
    metrics: Type.Record(Type.String(), Type.Number()),
    swaps: Type.Integer(),
  },
  { additionalProperties: true },
);

/** POST /feedback: outcomes (ground truth) for logged predictions. */
export const FeedbackBody = Type.Object(
  {
    entity_field: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          "The input field entity_id refers to (default: the service's --entity-field, else the served model's id " +
          'column, e.g. Student_ID).',
      }),
    ),
    outcomes: Type.Array(
      Type.Object(
        {
          request_id: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 300,
              description: 'The x-request-id of the prediction (batch rows: "<id>/<row index>").',
            }),
          ),
          entity_id: Type.Optional(
            Type.Union([Type.String({ minLength: 1, maxLength: 300 }), Type.Number()], {
              description: 'An entity id (e.g. a Student_ID value): the outcome applies to its predictions.',
            }),
          ),
          outcome: Type.Union([Type.Literal(0), Type.Literal(1), Type.Boolean()], {
            description: 'The observed outcome: 1 (or true) = the positive class.',
          }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, description: 'Each with exactly one of request_id and entity_id.' },
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        outcomes: [
          { request_id: '5d9f...', outcome: 1 },
          { entity_id: 'S1042', outcome: 0 },
        ],
      },
    ],
  },
);
export type FeedbackBody = Static<typeof FeedbackBody>;

export const FeedbackResponse = Type.Object({
  results: Type.Array(
    Type.Object({
      request_id: Type.Optional(Type.String()),
      entity_id: Type.Optional(Type.String()),
      status: Type.Union(
        [
          Type.Literal('attached'),
          Type.Literal('updated'),
          Type.Literal('duplicate'),
          Type.Literal('unknown'),
        ],
        {
          description:
            'attached: stored; updated: a different outcome replaced the recorded one (latest wins); duplicate: ' +
            'the same outcome was already recorded (not stored again); unknown: no logged prediction has this id ' +
            '(not stored: sampled out, never served, or another log).',
        },
      ),
    }),
  ),
  attached: Type.Integer(),
  updated: Type.Integer(),
  duplicate: Type.Integer(),
  unknown: Type.Integer(),
});

/** GET and PUT /admin/prediction-log: the prediction log's state. */
export const PredictionLogState = Type.Object({
  enabled: Type.Boolean({
    description: 'Whether the service runs with a prediction log (--prediction-log).',
  }),
  sample: Type.Number({ minimum: 0, maximum: 1, description: 'The fraction of predictions logged now.' }),
  written: Type.Integer({ description: 'Predictions written to the store since start (this process).' }),
  dropped: Type.Integer({ description: 'Predictions dropped (full queue or a failed write) since start.' }),
  queued: Type.Integer({ description: 'Predictions waiting to be written.' }),
});

/** PUT /admin/prediction-log: a new sample rate. */
export const PredictionLogUpdate = Type.Object(
  {
    sample: Type.Number({
      minimum: 0,
      maximum: 1,
      description: 'The fraction of predictions to log from the next request on: 0 = none, 1 = every one.',
    }),
  },
  { additionalProperties: false, examples: [{ sample: 0.25 }] },
);
export type PredictionLogUpdate = Static<typeof PredictionLogUpdate>;
