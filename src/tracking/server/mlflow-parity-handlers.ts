import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertBadRequest, type ParityCalls } from './mlflow-parity.js';

interface WireRun {
  info: { run_id: string; experiment_id: string };
  data: { params: Array<{ key: string; value: string }>; tags: Array<{ key: string; value: string }> };
}

/**
 * What the walk through every handler of MLflow's mlflow/server/handlers.py found different and fixed
 * (docs/mlflow-compat.md lists each handler): optional values, runs/create's default experiment,
 * runs/log-model, logged-model details, server-info and the artifact endpoints MLflow answers 501.
 */
export function handlerAuditTests(c: ParityCalls): void {
  test('a tag or param value is optional (MLflow requires the key only): absent is ""', async () => {
    const exp = await c.newExperiment('optional values');
    const { run_id } = await c.newRun(exp);
    for (const [path, body] of [
      ['runs/log-parameter', { run_id, key: 'p' }],
      ['runs/set-tag', { run_id, key: 't' }],
      ['experiments/set-experiment-tag', { experiment_id: exp, key: 'e' }],
    ] as const) {
      const r = await c.post(path, body);
      assert.equal(r.status, 200, `${path}: ${r.text}`);
    }
    const run = (await c.get('runs/get', { run_id })).json.run as WireRun;
    assert.deepEqual(run.data.params, [{ key: 'p', value: '' }]);
    assert.deepEqual(
      run.data.tags.find((t) => t.key === 't'),
      { key: 't', value: '' },
    );
    const experiment = (await c.get('experiments/get', { experiment_id: exp })).json.experiment as {
      tags: Array<{ key: string; value: string }>;
    };
    assert.deepEqual(experiment.tags, [{ key: 'e', value: '' }]);
    assertBadRequest(await c.post('runs/log-parameter', { run_id, value: 'v' }), "parameter 'key'");
  });

  test("max_results out of range: MLflow's handler message for runs/search, its store's for experiments/search", async () => {
    const exp = await c.newExperiment('max results');
    assertBadRequest(
      await c.post('runs/search', { experiment_ids: [exp], max_results: 50001 }),
      "Invalid value 50001 for parameter 'max_results' supplied:  Hint: Value was of type 'int'.",
    );
    assertBadRequest(
      await c.post('runs/search', { experiment_ids: [exp], max_results: 0 }),
      "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer",
    );
    const big = await c.post('experiments/search', { max_results: 50001 });
    assertBadRequest(
      big,
      "Invalid value 50001 for parameter 'max_results' supplied. It must be at most 50000",
    );
    assert.ok(!String(big.json.message).includes('at least'), big.text);
  });

  test('runs/create without experiment_id puts the run in the Default experiment ("0")', async () => {
    const r = await c.post('runs/create', { start_time: 1 });
    assert.equal(r.status, 200, r.text);
    assert.equal((r.json.run as WireRun).info.experiment_id, '0');
  });

  test('runs/log-model appends the MLmodel summary to mlflow.log-model.history (get_tags_dict)', async () => {
    const exp = await c.newExperiment('log model');
    const { run_id } = await c.newRun(exp);
    const model = (artifact_path: string) => ({
      run_id,
      artifact_path,
      utc_time_created: '2026-01-01 00:00:00.000000',
      model_uuid: `uuid-${artifact_path}`,
      flavors: { python_function: { loader_module: 'mlflow.sklearn', config: { device: 'cpu' } } },
      signature: { inputs: '[]' },
    });
    for (const path of ['model', 'model2']) {
      const r = await c.post('runs/log-model', { run_id, model_json: JSON.stringify(model(path)) });
      assert.equal(r.status, 200, r.text);
    }
    const run = (await c.get('runs/get', { run_id })).json.run as WireRun;
    const history = JSON.parse(
      run.data.tags.find((t) => t.key === 'mlflow.log-model.history')?.value ?? '[]',
    );
    assert.deepEqual(
      history,
      ['model', 'model2'].map((artifact_path) => ({
        run_id,
        artifact_path,
        utc_time_created: '2026-01-01 00:00:00.000000',
        model_uuid: `uuid-${artifact_path}`,
        flavors: { python_function: { loader_module: 'mlflow.sklearn' } },
      })),
    );
    assertBadRequest(
      await c.post('runs/log-model', { run_id, model_json: '{"run_id": "x"}' }),
      "Model json is missing mandatory fields: {'artifact_path', 'flavors', 'utc_time_created'}",
    );
    assertBadRequest(
      await c.post('runs/log-model', { run_id, model_json: 'not json' }),
      'Malformed model info.',
    );
    assertBadRequest(
      await c.post('runs/log-model', { run_id }),
      "Missing value for required parameter 'model_json'",
    );
    const gone = await c.post('runs/log-model', {
      run_id: 'f'.repeat(32),
      model_json: JSON.stringify(model('m')),
    });
    assert.equal(gone.status, 404, gone.text);
  });

  test('logged models: a random name when none is given, allow_deleted, deleting twice is fine', async () => {
    const exp = await c.newExperiment('logged model details');
    const created = await c.post('logged-models', { experiment_id: exp });
    const info = (created.json.model as { info: { model_id: string; name: string } }).info;
    assert.match(info.name, /^[a-z]+-[a-z]+-\d+$/, 'named as MLflow names runs');
    const noTag = await c.call('DELETE', `logged-models/${info.model_id}/tags/nope`);
    assert.equal(noTag.status, 404, noTag.text);
    assert.equal(noTag.json.message, `No tag with key 'nope' found for model with ID '${info.model_id}'.`);
    assert.equal((await c.call('DELETE', `logged-models/${info.model_id}`)).status, 200);
    assert.equal((await c.call('DELETE', `logged-models/${info.model_id}`)).status, 200);
    assert.equal((await c.get(`logged-models/${info.model_id}`)).status, 404);
    const deleted = await c.get(`logged-models/${info.model_id}`, { allow_deleted: 'true' });
    assert.equal(deleted.status, 200, deleted.text);
    assert.equal((deleted.json.model as { info: { model_id: string } }).info.model_id, info.model_id);
    assert.equal((await c.call('DELETE', 'logged-models/m-unknown')).status, 404);
  });

  test('server-info, and the multipart/presigned artifact endpoints answer as MLflow without them (501)', async () => {
    const app = c.server().server.app;
    for (const url of ['/api/3.0/mlflow/server-info', '/ajax-api/3.0/mlflow/server-info']) {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(r.json(), { store_type: 'SqlStore', workspaces_enabled: false });
    }
    for (const step of ['create', 'complete', 'abort']) {
      const r = await app.inject({
        method: 'POST',
        url: `/api/2.0/mlflow-artifacts/mpu/${step}/1/run/artifacts/big.bin`,
        payload: { path: 'big.bin', num_parts: 2 },
      });
      assert.equal(r.statusCode, 501, r.body);
      assert.deepEqual(r.json(), {
        error_code: 'NOT_IMPLEMENTED',
        message: 'Multipart upload is not supported for the current artifact repository',
      });
    }
    const presigned = await app.inject({ method: 'GET', url: '/api/2.0/mlflow-artifacts/presigned/1/x.bin' });
    assert.equal(presigned.statusCode, 501, presigned.body);
    const unsafe = await app.inject({
      method: 'POST',
      url: '/api/2.0/mlflow-artifacts/mpu/create/..%2F..%2Fetc%2Fpasswd',
      payload: {},
    });
    assert.equal(unsafe.statusCode, 400, unsafe.body);
  });
}
