import { type Static, Type } from '@sinclair/typebox';
import { TasselError } from '../errors.js';
import type { ExplanationViews } from '../ml/record-explainer.js';

/**
 * The explanation a prediction carries when asked for (`?explain=true`, or POST /explain). Margin units
 * throughout: `base_value + sum(contributions) = margin`, `probability = 1 / (1 + exp(-margin))`.
 */
export const ExplanationSchema = Type.Object(
  {
    method: Type.String({
      description:
        'tree_shap (exact path-dependent TreeSHAP, GBDT), linear_shap (coefficient x (x - training mean), logistic) or constant (the prior: no field matters).',
    }),
    base_value: Type.Number({
      description: 'Expected margin (log-odds) over the training data: where every explanation starts.',
    }),
    base_probability: Type.Number({ description: 'sigmoid(base_value).' }),
    margin: Type.Number({
      description: "This prediction's margin: base_value + the sum of the contributions.",
    }),
    // additionalProperties rather than Type.Record's patternProperties: the serializer then writes each field
    // without testing a regex
    contributions: Type.Object(
      {},
      {
        additionalProperties: Type.Number(),
        description:
          'SHAP value of each input field in margin (log-odds) units; one-hot categories, hashed buckets and date parts are summed back to the field that produced them.',
      },
    ),
    top: Type.Array(
      Type.Object({
        field: Type.String(),
        contribution: Type.Number({ description: 'Margin units.' }),
        probability_delta: Type.Number({
          description:
            'sigmoid(margin) - sigmoid(margin - contribution): how far this field moved the probability, the others fixed. Probability deltas do not add up; margins do.',
        }),
        value: Type.Unsafe<string | number | boolean | null>({
          type: ['string', 'number', 'boolean', 'null'],
          description: "The field's value in the request.",
        }),
      }),
      {
        description:
          'The largest contributions by absolute value, largest first (`top` query parameter, default 5).',
      },
    ),
    encoded: Type.Optional(
      Type.Object(
        {},
        {
          additionalProperties: Type.Number(),
          description:
            'With explain=encoded: the SHAP value of each column the feature transform produced (e.g. "Gender=F", a hashed bucket, a date part), by column name, margin units; they sum to the same total as `contributions`.',
        },
      ),
    ),
    interactions: Type.Optional(
      Type.Object(
        {
          fields: Type.Array(Type.String(), { description: 'Row and column order of `values`.' }),
          values: Type.Array(Type.Array(Type.Number()), {
            description:
              'values[a][b]: SHAP interaction value of fields a and b (symmetric, margin units); values[a][a] is field a main effect; each row sums to the field contribution.',
          }),
        },
        {
          description:
            'With explain=interactions: SHAP interaction values (XGBoost pred_interactions) summed to input fields. GBDT: exact path-dependent TreeSHAP interactions; logistic: no interactions (the contributions on the diagonal).',
        },
      ),
    ),
    note: Type.Optional(
      Type.String({ description: 'Why the explanation is trivial (e.g. the fallback prior answered).' }),
    ),
  },
  {
    description:
      'Why the model answered as it did, in margin (log-odds) units: base_value + sum(contributions) = margin, probability = sigmoid(margin).',
  },
);
export type ExplanationSchema = Static<typeof ExplanationSchema>;

/** `?explain=true&top=N` on the prediction routes. */
export const ExplainQuery = Type.Object({
  explain: Type.Optional(
    Type.Union(
      [
        Type.Literal('true'),
        Type.Literal('false'),
        Type.Literal('1'),
        Type.Literal('0'),
        Type.Literal('encoded'),
        Type.Literal('interactions'),
        Type.Literal('encoded,interactions'),
      ],
      {
        description:
          'Attach an explanation to each prediction (SHAP values per input field). `encoded` adds the encoded view (`explanation.encoded`: one value per one-hot category, hashed bucket or date part), `interactions` adds SHAP interaction values between fields (`explanation.interactions`; tens of milliseconds per record, so at most 16 records per request); `encoded,interactions` both.',
      },
    ),
  ),
  top: Type.Optional(
    Type.String({
      pattern: '^[0-9]{1,3}$',
      description: 'How many fields `explanation.top` lists (default 5).',
    }),
  ),
});
export type ExplainQuery = Static<typeof ExplainQuery>;

/**
 * Most records one request may ask interaction values for: they cost tens of milliseconds per record on a
 * model of about 80 depth-6 trees (a conditioned TreeSHAP per feature each tree splits on), and scoring is
 * synchronous, so a large batch would hold the server for seconds.
 */
export const INTERACTIONS_CAP = 16;

/** Throws REQUEST_TOO_LARGE when a request asks interaction values for more than INTERACTIONS_CAP records. */
export function checkInteractionsSize(views: ExplanationViews, n: number): void {
  if (views.interactions && n > INTERACTIONS_CAP) {
    throw new TasselError(
      'REQUEST_TOO_LARGE',
      `explain=interactions is limited to ${INTERACTIONS_CAP} records per request (${n} sent): interaction values cost tens of milliseconds per record; split the request`,
    );
  }
}

/** Whether a prediction route's query asks for explanations, how many top fields, and which extra views. */
export const explainRequested = (
  q: ExplainQuery | undefined,
): { explain: boolean; top: number; views: ExplanationViews } => {
  const e = q?.explain;
  const views: ExplanationViews = {};
  if (e === 'encoded' || e === 'encoded,interactions') views.encoded = true;
  if (e === 'interactions' || e === 'encoded,interactions') views.interactions = true;
  return {
    explain: e !== undefined && e !== 'false' && e !== '0',
    top: q?.top === undefined ? 5 : Number(q.top),
    views,
  };
};
