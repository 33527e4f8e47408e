import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertBadRequest, type ParityCalls } from './mlflow-parity.js';

type Json = Record<string, unknown>;
interface WireRun {
  info: { run_id: string };
  inputs: { dataset_inputs: unknown[]; model_inputs?: Array<{ model_id: string }> };
  outputs?: { model_outputs: Array<{ model_id: string; step: number }> };
}

/** Creates a logged model in `experimentId` and returns its id. */
async function newLoggedModel(c: ParityCalls, experimentId: string, name: string, runId?: string) {
  const r = await c.post('logged-models', { experiment_id: experimentId, name, source_run_id: runId });
  assert.equal(r.status, 200, r.text);
  return (r.json.model as { info: { model_id: string } }).info.model_id;
}

/**
 * Item 3 of issue 14, the rest: MLflow 3's run inputs and outputs of logged models
 * (sqlalchemy_store.py log_inputs(models=...) / log_outputs, get_run's RunInputs(model_inputs) and
 * RunOutputs), through runs/log-inputs, runs/outputs, runs/get and runs/search.
 */
export function runModelIoTests(c: ParityCalls): void {
  test('runs/get and runs/search carry inputs.model_inputs and outputs.model_outputs', async () => {
    const exp = await c.newExperiment('run model io');
    const { run_id } = await c.newRun(exp);
    const other = await c.newRun(exp);
    const m1 = await newLoggedModel(c, exp, 'm1', run_id);
    const m2 = await newLoggedModel(c, exp, 'm2', run_id);
    const dataset = { name: 'train', digest: 'd1', source_type: 'local', source: '/data/train.csv' };
    let r = await c.post('runs/log-inputs', {
      run_id,
      datasets: [{ dataset, tags: [] }],
      models: [{ model_id: m2 }, { model_id: m1 }],
    });
    assert.equal(r.status, 200, r.text);
    // a model logged again as input is recorded once (MLflow's inputs key is the link itself)
    r = await c.post('runs/log-inputs', { run_id, models: [{ model_id: m1 }] });
    assert.equal(r.status, 200, r.text);
    r = await c.post('runs/outputs', { run_id, models: [{ model_id: m1, step: 3 }] });
    assert.equal(r.status, 200, r.text);
    const expectedInputs = [{ model_id: m1 }, { model_id: m2 }].sort((a, b) =>
      a.model_id.localeCompare(b.model_id),
    );

    const got = (await c.get('runs/get', { run_id })).json.run as WireRun;
    assert.deepEqual(got.inputs.model_inputs, expectedInputs);
    assert.equal(got.inputs.dataset_inputs.length, 1);
    assert.deepEqual(got.outputs, { model_outputs: [{ model_id: m1, step: 3 }] });

    const search = await c.post('runs/search', { experiment_ids: [exp], order_by: ['attributes.run_id'] });
    const runs = search.json.runs as WireRun[];
    const found = runs.find((x) => x.info.run_id === run_id);
    assert.deepEqual(found?.inputs.model_inputs, expectedInputs);
    assert.deepEqual(found?.outputs, { model_outputs: [{ model_id: m1, step: 3 }] });
    // GraphQL reads the same run (MlflowRunInputs.modelInputs, MlflowRunOutputs.modelOutputs)
    const gql = await c.server().server.app.inject({
      method: 'POST',
      url: '/graphql',
      payload: {
        query: `query { mlflowGetRun(input: { runId: "${run_id}" }) { run { inputs { modelInputs { modelId } } outputs { modelOutputs { modelId step } } } } }`,
      },
    });
    assert.deepEqual(gql.json().data.mlflowGetRun.run, {
      inputs: { modelInputs: expectedInputs.map((m) => ({ modelId: m.model_id })) },
      outputs: { modelOutputs: [{ modelId: m1, step: '3' }] },
    });
    const plain = runs.find((x) => x.info.run_id === other.run_id);
    assert.deepEqual(plain?.inputs, { dataset_inputs: [], model_inputs: [] });
    assert.equal(plain?.outputs, undefined, 'a run without outputs has none');
  });

  test('log-inputs models and runs/outputs are validated as MLflow (types, required, active run)', async () => {
    const exp = await c.newExperiment('run model io validation');
    const { run_id } = await c.newRun(exp);
    const m = await newLoggedModel(c, exp, 'm', run_id);
    assertBadRequest(await c.post('runs/log-inputs', { run_id, models: 'm' }), "for parameter 'models'");
    assertBadRequest(await c.post('runs/log-inputs', { run_id, models: [{}] }), "'models[0].model_id'");
    assertBadRequest(
      await c.post('runs/outputs', { run_id }),
      "Missing value for required parameter 'models'",
    );
    assertBadRequest(
      await c.post('runs/outputs', { models: [] }),
      "Missing value for required parameter 'run_id'",
    );
    const unknown = await c.post('runs/outputs', { run_id: 'f'.repeat(32), models: [{ model_id: m }] });
    assert.equal(unknown.status, 404, unknown.text);
    assert.equal(unknown.json.error_code, 'RESOURCE_DOES_NOT_EXIST');
    await c.post('runs/delete', { run_id });
    assertBadRequest(
      await c.post('runs/outputs', { run_id, models: [{ model_id: m, step: 1 }] }),
      "must be in the 'active' state",
    );
    assertBadRequest(
      await c.post('runs/log-inputs', { run_id, models: [{ model_id: m }] }),
      "must be in the 'active' state",
    );
  });
}

/** Names of the models logged-models/search returns for `body`, in the order returned. */
async function searchNames(c: ParityCalls, exp: string, body: Json): Promise<string[]> {
  const r = await c.post('logged-models/search', { experiment_ids: [exp], ...body });
  assert.equal(r.status, 200, r.text);
  return ((r.json.models as Array<{ info: { name: string } }> | undefined) ?? []).map((m) => m.info.name);
}

/**
 * logged-models/search as MLflow's SqlAlchemyStore answers it (_apply_filter_string_datasets_search_logged_models,
 * _apply_order_by_search_logged_models, search_logged_model_utils.parse_filter_string), and NaN in a
 * logged model's data.metrics spelled as protobuf JSON spells it.
 */
export function loggedModelSearchTests(c: ParityCalls): void {
  let exp = '';
  const setUp = async () => {
    if (exp) return exp;
    exp = await c.newExperiment('logged model search');
    const { run_id } = await c.newRun(exp);
    const a = await newLoggedModel(c, exp, 'a', run_id);
    const b = await newLoggedModel(c, exp, 'b', run_id);
    await newLoggedModel(c, exp, 'c', run_id);
    const point = (
      model_id: string,
      key: string,
      value: number | string,
      timestamp: number,
      ds?: string,
    ) => ({
      key,
      value,
      timestamp,
      step: 0,
      model_id,
      ...(ds ? { dataset_name: ds, dataset_digest: `${ds}-digest` } : {}),
    });
    const r = await c.post('runs/log-batch', {
      run_id,
      metrics: [
        point(a, 'acc', 0.9, 1, 'eval'),
        point(a, 'acc', 0.2, 2, 'train'),
        point(b, 'acc', 0.5, 1, 'eval'),
        point(b, 'loss', 'NaN', 1),
      ],
    });
    assert.equal(r.status, 200, r.text);
    await c.post(`logged-models/${a}/params`, { params: [{ key: 'lr', value: '0.1' }] });
    await c.post(`logged-models/${b}/params`, { params: [{ key: 'lr', value: '0.2' }] });
    await c.call('PATCH', `logged-models/${a}/tags`, { tags: [{ key: 'stage', value: 'prod' }] });
    await c.call('PATCH', `logged-models/${b}/tags`, { tags: [{ key: 'stage', value: 'dev' }] });
    return exp;
  };
  const names = async (body: Json) => (await searchNames(c, await setUp(), body)).sort();

  test('metrics. filters match any point of the metric; datasets narrow it; NaN matches nothing', async () => {
    assert.deepEqual(await names({ filter: 'metrics.acc > 0.8' }), ['a']);
    assert.deepEqual(await names({ filter: 'metrics.acc < 0.3' }), ['a'], 'an older point counts too');
    assert.deepEqual(await names({ filter: 'metrics.acc = 0.5' }), ['b']);
    assert.deepEqual(await names({ filter: 'metrics.acc != 0.5' }), ['a']);
    assert.deepEqual(await names({ filter: 'metrics.acc >= 0.5 AND metrics.acc <= 0.9' }), ['a', 'b']);
    assert.deepEqual(await names({ filter: 'metrics.loss > -1e300' }), []);
    // with a metric filter, `datasets` narrows that filter's points ...
    assert.deepEqual(await names({ filter: 'metrics.acc < 0.3', datasets: [{ dataset_name: 'eval' }] }), []);
    assert.deepEqual(
      await names({
        filter: 'metrics.acc >= 0.5',
        datasets: [{ dataset_name: 'eval', dataset_digest: 'eval-digest' }],
      }),
      ['a', 'b'],
    );
    assert.deepEqual(
      await names({
        filter: 'metrics.acc > 0',
        datasets: [{ dataset_name: 'eval', dataset_digest: 'other' }],
      }),
      [],
    );
    // ... without one, it keeps the models with any metric on those datasets
    assert.deepEqual(await names({ datasets: [{ dataset_name: 'train' }] }), ['a']);
  });

  test('params. and tags. filters need the entity (!= does not match models without it, as in MLflow)', async () => {
    assert.deepEqual(await names({ filter: "params.lr = '0.1'" }), ['a']);
    assert.deepEqual(await names({ filter: "params.lr != '0.1'" }), ['b']);
    assert.deepEqual(await names({ filter: "params.lr LIKE '0.%'" }), ['a', 'b']);
    assert.deepEqual(await names({ filter: "tags.stage != 'prod'" }), ['b']);
    assert.deepEqual(await names({ filter: "tags.stage ILIKE 'PROD'" }), ['a']);
    assert.deepEqual(await names({ filter: "tags.stage = 'prod' AND metrics.acc > 0.1" }), ['a']);
    const e = await setUp();
    const bad = (filter: string) => c.post('logged-models/search', { experiment_ids: [e], filter });
    assertBadRequest(await bad("metrics.acc LIKE '0.5'"), 'Invalid comparator');
    assertBadRequest(await bad("metrics.acc > 'high'"), 'Expected numeric value');
    assertBadRequest(await bad('params.lr > 0.1'), 'Invalid comparator');
    assertBadRequest(await bad("datasets.x = 'a'"), "Invalid entity type 'datasets'");
  });

  test('order_by metrics.<key>: latest point, on a dataset when given, models without it last', async () => {
    const e = await setUp();
    const order = (o: Json) => searchNames(c, e, { order_by: [o] });
    assert.deepEqual(await order({ field_name: 'metrics.acc', ascending: false }), ['b', 'a', 'c']);
    assert.deepEqual(await order({ field_name: 'metrics.acc', ascending: true }), ['a', 'b', 'c']);
    assert.deepEqual(await order({ field_name: 'metrics.acc', ascending: false, dataset_name: 'eval' }), [
      'a',
      'b',
      'c',
    ]);
    assertBadRequest(
      await c.post('logged-models/search', { experiment_ids: [e], order_by: [{ field_name: 'params.lr' }] }),
      'Only metrics are supported',
    );
  });

  test('a NaN metric of a logged model is sent as "NaN", as protobuf JSON spells it', async () => {
    const e = await setUp();
    const r = await c.post('logged-models/search', { experiment_ids: [e], filter: "name = 'b'" });
    const model = (r.json.models as Array<{ info: { model_id: string } }>)[0];
    const got = await c.get(`logged-models/${model.info.model_id}`);
    const metrics = (got.json.model as { data: { metrics: Array<{ key: string; value: unknown }> } }).data
      .metrics;
    assert.deepEqual(
      metrics.map((m) => [m.key, m.value]),
      [
        ['acc', 0.5],
        ['loss', 'NaN'],
      ],
    );
    assert.ok(r.text.includes('"value":"NaN"'), r.text);
  });
}
