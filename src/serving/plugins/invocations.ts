import type { RawRecord } from '../../data/table.js';
import { InputError } from '../../errors.js';
import { InvocationsBody, InvocationsResponse } from '../schemas.js';
import { requireModel, type Scoring } from '../scoring.js';
import { JSON_ERRORS, type ServingPlugin } from './context.js';

const INPUT_KEYS = ['dataframe_split', 'dataframe_records', 'instances', 'inputs'] as const;
type InputKey = (typeof INPUT_KEYS)[number];

/**
 * POST /invocations: MLflow's scoring protocol, as `mlflow models serve` speaks it: exactly one of
 * dataframe_split, dataframe_records, instances, inputs; answers `{"predictions": [{probability, label}, ...]}`.
 */
export const invocationsRoutes: ServingPlugin<'holder' | 'scoring'> = async (app, { holder, scoring }) => {
  app.post(
    '/invocations',
    {
      schema: {
        tags: ['predict'],
        summary: "MLflow's scoring protocol",
        description:
          'Exactly one of dataframe_split, dataframe_records, instances, inputs; answers {"predictions": [...]} ' +
          "as MLflow's pyfunc scoring server does (one {probability, label} per row).",
        body: InvocationsBody,
        response: { 200: InvocationsResponse, ...JSON_ERRORS },
      },
    },
    (request) => {
      const model = requireModel(holder);
      const body = request.body as InvocationsBody;
      const key = inputKeyOf(body);
      const records = invocationRecords(body, key, scoring);
      if (key === 'instances' && records.length > 0 && records.every((r) => Array.isArray(r))) {
        return { predictions: scoring.scoreVectors(model, records as (number | null)[][]) };
      }
      const log = { route: '/invocations', requestId: request.id };
      return { predictions: scoring.scoreMany(model, records, key, log).predictions };
    },
  );
};

/** The one input field present, else a 400 naming the four. */
function inputKeyOf(body: InvocationsBody): InputKey {
  const present = INPUT_KEYS.filter((k) => body[k] !== undefined);
  if (present.length !== 1) {
    throw new InputError(
      `the input must be a JSON object with exactly one of the input fields ${INPUT_KEYS.join(', ')}` +
        (present.length ? `; got ${present.join(', ')}` : ''),
    );
  }
  return present[0]!;
}

/** The rows of an invocation as records (or, for `instances`, possibly feature vectors). */
function invocationRecords(body: InvocationsBody, key: InputKey, scoring: Scoring): unknown[] {
  if (key === 'dataframe_split') {
    const { columns, data } = body.dataframe_split!;
    scoring.checkBatchSize(data.length);
    return data.map((row, i) => {
      if (row.length !== columns.length) {
        throw new InputError(
          `dataframe_split.data[${i}] has ${row.length} values for ${columns.length} columns`,
        );
      }
      const r: RawRecord = {};
      for (let j = 0; j < columns.length; j++) r[columns[j]!] = row[j];
      return r;
    });
  }
  if (key === 'inputs' && !Array.isArray(body.inputs)) {
    return columnarRecords(body.inputs as Record<string, unknown[]>, scoring);
  }
  return body[key] as unknown[];
}

/** MLflow's columnar `inputs` ({column: [values]}) as records; every column must have the same length. */
function columnarRecords(cols: Record<string, unknown[]>, scoring: Scoring): RawRecord[] {
  const names = Object.keys(cols);
  const n = names.length ? cols[names[0]!]!.length : 0;
  for (const name of names) {
    if (cols[name]!.length !== n)
      throw new InputError(`inputs: column "${name}" has ${cols[name]!.length} values, expected ${n}`);
  }
  scoring.checkBatchSize(n);
  return Array.from({ length: n }, (_, i) => {
    const r: RawRecord = {};
    for (const name of names) r[name] = cols[name]![i];
    return r;
  });
}
