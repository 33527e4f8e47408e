import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { runPredict } from '../cli/predict-command.js';
import { COURSE_COMPLETION_OPTIONAL, courseCompletionSchema } from '../data/builtin-schemas.js';
import { generateCourseCompletion } from '../data/synthetic.js';
import type { RawRecord } from '../data/table.js';
import { InputError } from '../errors.js';
import { saveBundle } from '../ml/bundle.js';
import { createServingApp } from './app.js';
import { createModelHolder } from './model-holder.js';
import { type TrainedTestModel, trainTestModel } from './testing.js';

// Issue 15, defect 1: a record without a required field was scored (`{}` answered 200). MLflow's signature
// semantics: a column is required unless the schema marks it optional; an absent required field is a 400
// naming every missing field; an explicit null is accepted for an optional column (scored as missing).

const requiredFeatures = courseCompletionSchema.columns
  .filter((c) => c.role === 'feature' && !COURSE_COMPLETION_OPTIONAL.includes(c.name))
  .map((c) => c.name);

let trained: TrainedTestModel;
let dir: string;
let full: RawRecord;
before(async () => {
  trained = await trainTestModel({ rows: 400, trees: 5 });
  dir = await mkdtemp(join(tmpdir(), 'tassel-required-'));
  full = trained.records.find((r) => Object.values(r).every((v) => v !== null))!;
});
after(() => rm(dir, { recursive: true, force: true }));

const without = (r: RawRecord, ...names: string[]) =>
  Object.fromEntries(Object.entries(r).filter(([k]) => !names.includes(k)));

describe('builtin:course-completion: which columns are required', () => {
  test('every feature is required but the three that exist only after an event; ids never', () => {
    assert.deepEqual([...COURSE_COMPLETION_OPTIONAL].sort(), [
      'Project_Grade',
      'Quiz_Score_Avg',
      'Satisfaction_Rating',
    ]);
    assert.equal(requiredFeatures.length, 34);
    for (const c of courseCompletionSchema.columns)
      if (c.role === 'feature') assert.equal(c.nullable, COURSE_COMPLETION_OPTIONAL.includes(c.name), c.name);
  });

  test('the generator leaves only optional cells empty, at any missing rate', () => {
    const lines = generateCourseCompletion({ rows: 300, seed: 3, missingRate: 0.5 }).trim().split('\n');
    const header = lines[0]!.split(',');
    const emptyIn = new Set<string>();
    for (const line of lines.slice(1)) {
      if (line.includes('"')) continue;
      line.split(',').forEach((v, j) => {
        if (v === '') emptyIn.add(header[j]!);
      });
    }
    assert.deepEqual([...emptyIn].sort(), [...COURSE_COMPLETION_OPTIONAL].sort());
  });

  test("MLmodel's signature says required for exactly the required features", async () => {
    const b = join(dir, 'sig');
    await saveBundle(b, {
      model: trained.model,
      transform: trained.transform,
      schema: courseCompletionSchema,
      prior: trained.prior,
    });
    const mlmodel = parseYaml(await readFile(join(b, 'MLmodel'), 'utf8'));
    const inputs = JSON.parse(mlmodel.signature.inputs) as Array<{ name: string; required: boolean }>;
    assert.deepEqual(
      inputs.filter((c) => c.required).map((c) => c.name),
      requiredFeatures,
    );
    assert.ok(inputs.some((c) => c.name === 'Quiz_Score_Avg' && c.required === false));
    assert.ok(inputs.some((c) => c.name === 'Student_ID' && c.required === false));
  });
});

describe('serving: the same rule on /predict, /predict/batch and /invocations', () => {
  const post = async (url: string, payload: unknown) => {
    const app = await createServingApp({ holder: createModelHolder(trained.served()) });
    try {
      const res = await app.inject({ method: 'POST', url, payload: payload as object });
      return { status: res.statusCode, body: res.json() as Record<string, unknown> };
    } finally {
      await app.close();
    }
  };

  test('{} is a 400 naming every required field', async () => {
    const { status, body } = await post('/predict', {});
    assert.equal(status, 400);
    assert.equal(body.error_code, 'INVALID_PARAMETER_VALUE');
    for (const name of requiredFeatures) assert.match(String(body.message), new RegExp(`"${name}"`));
    assert.doesNotMatch(String(body.message), /"Quiz_Score_Avg"/);
  });

  test('leaving out Age (or sending it null) is a 400 naming Age, not a different probability', async () => {
    for (const record of [without(full, 'Age'), { ...full, Age: null }]) {
      const { status, body } = await post('/predict', record);
      assert.equal(status, 400);
      assert.match(String(body.message), /required field "Age" is missing or null/);
    }
    const two = await post('/predict', without(full, 'Age', 'Gender'));
    assert.match(
      String(two.body.message),
      /required fields "Gender", "Age" are missing or null|"Age", "Gender" are/,
    );
  });

  test('a record with a bad value and missing fields is told every problem at once, in one 400', async () => {
    const { status, body } = await post('/predict', { Age: 'old', Shoe_Size: 42 });
    assert.equal(status, 400);
    const message = String(body.message);
    const parts = message.split('; ');
    assert.match(parts[0]!, /^field "Age": "old" is not /);
    assert.match(parts[1]!, /^field "Shoe_Size" is not an input of this model/);
    assert.match(parts[2]!, /^required fields .* are missing or null/);
    assert.equal(parts.length, 3, message);
    // every required field but Age (present, if bad) is named as missing
    for (const name of requiredFeatures.filter((n) => n !== 'Age'))
      assert.match(parts[2]!, new RegExp(`"${name}"`));
    assert.doesNotMatch(parts[2]!, /"Age"/);
    // the batch route says the same for its row
    const batch = await post('/predict/batch', [full, { ...without(full, 'Gender'), Age: 'old' }]);
    assert.equal(batch.status, 400);
    assert.match(
      String(batch.body.message),
      /^records\[1\]: field "Age": "old" is not .*; required field "Gender" is missing or null/,
    );
  });

  test('an optional field may be absent or null: scored as missing, the same either way', async () => {
    const absent = await post('/predict', without(full, ...COURSE_COMPLETION_OPTIONAL, 'Student_ID', 'Name'));
    const nulls = await post('/predict', {
      ...full,
      Quiz_Score_Avg: null,
      Project_Grade: null,
      Satisfaction_Rating: null,
    });
    assert.equal(absent.status, 200, JSON.stringify(absent.body));
    assert.equal(nulls.status, 200);
    assert.equal(absent.body.probability, nulls.body.probability);
  });

  test('/predict/batch and /invocations refuse a record without a required field, naming it', async () => {
    const batch = await post('/predict/batch', [full, without(full, 'Course_Level')]);
    assert.equal(batch.status, 400);
    assert.match(String(batch.body.message), /records\[1\]/);
    assert.match(String(batch.body.message), /"Course_Level"/);
    const cols = Object.keys(without(full, 'Age'));
    const inv = await post('/invocations', {
      dataframe_split: { columns: cols, data: [cols.map((c) => full[c])] },
    });
    assert.equal(inv.status, 400);
    assert.match(String(inv.body.message), /"Age"/);
    const ok = await post('/invocations', { dataframe_records: [without(full, 'Project_Grade')] });
    assert.equal(ok.status, 200);
  });
});

describe('tassel predict: the same rule for JSON records and CSV files', () => {
  let bundle: string;
  before(async () => {
    bundle = join(dir, 'predict-bundle');
    await saveBundle(bundle, {
      model: trained.model,
      transform: trained.transform,
      schema: courseCompletionSchema,
      prior: trained.prior,
    });
  });
  const predict = (name: string, text: string) =>
    writeFile(join(dir, name), text).then(() =>
      runPredict({ model: bundle, data: join(dir, name), out: join(dir, `${name}.out.csv`), policy: 'fail' }),
    );

  test('a JSON record without a required field exits 2 naming it; optional ones may be absent or null', async () => {
    await assert.rejects(
      predict('no-age.json', JSON.stringify([without(full, 'Age')])),
      (e: unknown) => e instanceof InputError && /Age/.test(e.message) && /required/.test(e.message),
    );
    const r = await predict(
      'optional.json',
      JSON.stringify([without(full, 'Quiz_Score_Avg', 'Student_ID'), { ...full, Project_Grade: null }]),
    );
    assert.equal(r.rows, 2);
  });

  test('a CSV may leave out optional columns, not required ones', async () => {
    const cols = Object.keys(without(full, 'Satisfaction_Rating', 'Name'));
    const csv = (names: string[]) =>
      `${names.join(',')}\n${names.map((c) => (/,/.test(String(full[c])) ? `"${full[c]}"` : full[c])).join(',')}\n`;
    const r = await predict('optional.csv', csv(cols));
    assert.equal(r.rows, 1);
    await assert.rejects(
      predict('no-gender.csv', csv(cols.filter((c) => c !== 'Gender'))),
      /lacks column Gender/,
    );
  });
});
