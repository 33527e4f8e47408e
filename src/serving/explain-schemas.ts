import { type Static, Type } from '@sinclair/typebox';

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
    Type.Union([Type.Literal('true'), Type.Literal('false'), Type.Literal('1'), Type.Literal('0')], {
      description: 'Attach an explanation to each prediction (SHAP values per input field).',
    }),
  ),
  top: Type.Optional(
    Type.String({
      pattern: '^[0-9]{1,3}$',
      description: 'How many fields `explanation.top` lists (default 5).',
    }),
  ),
});
export type ExplainQuery = Static<typeof ExplainQuery>;

/** Whether a prediction route's query asks for explanations, and how many top fields. */
export const explainRequested = (q: ExplainQuery | undefined): { explain: boolean; top: number } => ({
  explain: q?.explain === 'true' || q?.explain === '1',
  top: q?.top === undefined ? 5 : Number(q.top),
});
