import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunningTrackingServer } from './start.js';

/** What a parity suite needs: a running server (registry on) with a local artifact destination. */
export interface ParityServer {
  server: RunningTrackingServer;
  /** Local directory behind `mlflow-artifacts:` (the artifacts destination). */
  artifactsDir: string;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  json: Record<string, unknown> & { error_code?: string; message?: string };
  text: string;
}

/** The REST calls a suite makes, through `app.inject` (no sockets). */
export interface ParityCalls {
  post(path: string, body: unknown): Promise<Reply>;
  /** POSTs JSON text as is (to send `9.0`, which JSON.stringify would print as `9`). */
  postText(path: string, text: string): Promise<Reply>;
  get(path: string, query?: Record<string, string | string[]>): Promise<Reply>;
  call(method: 'PATCH' | 'DELETE' | 'PUT', path: string, body?: unknown): Promise<Reply>;
  newExperiment(prefix: string): Promise<string>;
  newRun(experimentId: string, body?: object): Promise<{ run_id: string; artifact_uri: string }>;
  server(): ParityServer;
}

/** Asserts a 400 INVALID_PARAMETER_VALUE whose message contains `text` (as MLflow's tests assert). */
export function assertBadRequest(r: Reply, text: string, code = 'INVALID_PARAMETER_VALUE'): void {
  assert.equal(r.status, 400, `expected 400, got ${r.status}: ${r.text}`);
  assert.equal(r.json.error_code, code, r.text);
  assert.ok(String(r.json.message).includes(text), `"${r.json.message}" should contain "${text}"`);
}

let counter = 0;

/**
 * Opens a server per suite and gives its tests the REST helpers. Each `describe` body registers tests
 * that port MLflow's `test_rest_tracking.py` / `test_model_registry.py` behaviour through Tassel's routes.
 */
export function parityHarness(
  name: string,
  open: () => Promise<ParityServer>,
  options: { skip?: string } = {},
  body: (c: ParityCalls) => void = () => {},
): void {
  describe(name, { skip: options.skip }, () => {
    let s: ParityServer;
    before(async () => {
      s = await open();
    });
    after(async () => {
      await s?.close();
    });
    const inject = async (method: string, url: string, payload?: unknown): Promise<Reply> => {
      const r = await s.server.app.inject({
        method: method as 'POST',
        url,
        ...(payload === undefined ? {} : { payload: payload as object }),
        ...(typeof payload === 'string' ? { headers: { 'content-type': 'application/json' } } : {}),
      });
      let json: Reply['json'] = {};
      try {
        json = r.json();
      } catch {
        json = {};
      }
      return { status: r.statusCode, json, text: r.body };
    };
    const calls: ParityCalls = {
      post: (path, b) => inject('POST', `/api/2.0/mlflow/${path}`, b),
      postText: (path, text) => inject('POST', `/api/2.0/mlflow/${path}`, text),
      get: (path, query = {}) => {
        const qs = new URLSearchParams();
        for (const [k, v] of Object.entries(query)) {
          for (const one of Array.isArray(v) ? v : [v]) qs.append(k, one);
        }
        const q = qs.toString();
        return inject('GET', `/api/2.0/mlflow/${path}${q ? `?${q}` : ''}`);
      },
      call: (method, path, b) => inject(method, `/api/2.0/mlflow/${path}`, b),
      newExperiment: async (prefix) => {
        const r = await inject('POST', '/api/2.0/mlflow/experiments/create', {
          name: `${prefix}-${process.pid}-${++counter}`,
        });
        assert.equal(r.status, 200, r.text);
        return r.json.experiment_id as string;
      },
      newRun: async (experimentId, extra = {}) => {
        const r = await inject('POST', '/api/2.0/mlflow/runs/create', {
          experiment_id: experimentId,
          start_time: 1,
          ...extra,
        });
        assert.equal(r.status, 200, r.text);
        const info = (r.json.run as { info: { run_id: string; artifact_uri: string } }).info;
        return { run_id: info.run_id, artifact_uri: info.artifact_uri };
      },
      server: () => s,
    };
    body(calls);
  });
}

/** Item 4: request validation as MLflow's handlers do it (test_rest_tracking.py's *_validation tests). */
export function requestValidationTests(c: ParityCalls): void {
  test('experiments/create: wrong types and missing name are 400 with MLflow messages', async () => {
    assertBadRequest(
      await c.post('experiments/create', { name: 123 }),
      "Invalid value 123 for parameter 'name'",
    );
    assertBadRequest(await c.post('experiments/create', {}), "Missing value for required parameter 'name'");
    assertBadRequest(
      await c.postText(
        'experiments/create',
        '{"name": "experiment name", "artifact_location": 9.0, "tags": [{"key": "key", "value": "value"}]}',
      ),
      "Invalid value 9.0 for parameter 'artifact_location'",
    );
    assertBadRequest(
      await c.post('experiments/create', {
        name: 'experiment name',
        artifact_location: 'my_location',
        tags: '5',
      }),
      `Invalid value "5" for parameter 'tags'`,
    );
    // nothing was created by the refused calls
    const r = await c.get('experiments/get-by-name', { experiment_name: 'experiment name' });
    assert.equal(r.status, 404);
    // the exact wording, type hint included
    const exact = await c.post('experiments/create', { name: 123 });
    assert.equal(
      exact.json.message,
      "Invalid value 123 for parameter 'name' supplied:  Hint: Value was of type 'int'. " +
        'See the API docs for more information about request parameters.',
    );
  });

  test('runs/log-metric: wrong types and missing values (test_log_metric_validation)', async () => {
    const { run_id } = await c.newRun(await c.newExperiment('metrics validation'));
    const base = { run_id, key: 'metric', value: 41, timestamp: 59, step: 26 };
    assertBadRequest(
      await c.post('runs/log-metric', { ...base, run_id: 31 }),
      "Invalid value 31 for parameter 'run_id' supplied",
    );
    assertBadRequest(
      await c.post('runs/log-metric', { ...base, key: 31 }),
      "Invalid value 31 for parameter 'key' supplied",
    );
    assertBadRequest(
      await c.post('runs/log-metric', { ...base, step: 'foo' }),
      `Invalid value "foo" for parameter 'step' supplied`,
    );
    assertBadRequest(
      await c.post('runs/log-metric', { ...base, timestamp: 'foo' }),
      `Invalid value "foo" for parameter 'timestamp' supplied`,
    );
    assertBadRequest(
      await c.post('runs/log-metric', { ...base, run_id: null }),
      "Missing value for required parameter 'run_id'",
    );
    const { key: _k, ...noKey } = base;
    assertBadRequest(await c.post('runs/log-metric', noKey), "Missing value for required parameter 'key'");
    assertBadRequest(
      await c.post('runs/log-metric', { ...base, key: null }),
      "Missing value for required parameter 'key'",
    );
    const { timestamp: _t, ...noTimestamp } = base;
    assertBadRequest(
      await c.post('runs/log-metric', noTimestamp),
      "Missing value for required parameter 'timestamp'",
    );
    // none of them logged anything
    const h = await c.get('metrics/get-history', { run_id, metric_key: 'metric' });
    assert.deepEqual(h.json.metrics ?? [], []);
    // a numeric string is still a fine int64 (protobuf JSON)
    assert.equal((await c.post('runs/log-metric', { ...base, timestamp: '59', step: '3' })).status, 200);
  });

  test('runs/log-parameter and set-tag: numbers for strings are 400 (test_log_param_validation)', async () => {
    const { run_id } = await c.newRun(await c.newExperiment('params validation'));
    assertBadRequest(
      await c.post('runs/log-parameter', { run_id: 31, key: 'param', value: 41 }),
      "Invalid value 31 for parameter 'run_id' supplied",
    );
    assertBadRequest(
      await c.post('runs/log-parameter', { run_id, key: 31, value: 41 }),
      "Invalid value 31 for parameter 'key' supplied",
    );
    assertBadRequest(
      await c.post('runs/log-parameter', { run_id, key: 'param', value: 41 }),
      "Invalid value 41 for parameter 'value' supplied",
    );
    assertBadRequest(
      await c.post('runs/set-tag', { run_id, key: 'tag', value: 41 }),
      "Invalid value 41 for parameter 'value' supplied",
    );
    // an empty string is a value (test_log_param_with_empty_string_as_value / set_tag)
    assert.equal((await c.post('runs/log-parameter', { run_id, key: 'param_key', value: '' })).status, 200);
    assert.equal((await c.post('runs/set-tag', { run_id, key: 'tag_key', value: '' })).status, 200);
    const run = (await c.get('runs/get', { run_id })).json.run as {
      data: { params: Array<{ key: string; value: string }>; tags: Array<{ key: string; value: string }> };
    };
    assert.deepEqual(run.data.params, [{ key: 'param_key', value: '' }]);
    assert.ok(run.data.tags.some((t) => t.key === 'tag_key' && t.value === ''));
  });

  test('runs/log-batch: metrics must be a list, each metric needs a timestamp (test_log_batch_validation)', async () => {
    const { run_id } = await c.newRun(await c.newExperiment('batch validation'));
    for (const field of ['metrics', 'params', 'tags']) {
      assertBadRequest(
        await c.post('runs/log-batch', { run_id, [field]: 'foo' }),
        `Invalid value "foo" for parameter '${field}' supplied`,
      );
    }
    assertBadRequest(
      await c.post('runs/log-batch', { run_id, metrics: [{ key: 'm', value: 1, step: 0 }] }),
      "Missing value for required parameter 'metrics[0].timestamp'",
    );
    assertBadRequest(
      await c.post('runs/log-batch', {
        run_id,
        metrics: [
          { key: 'm', value: 1, timestamp: 1 },
          { value: 1, timestamp: 1 },
        ],
      }),
      "Missing value for required parameter 'metrics[1].key'",
    );
    assertBadRequest(
      await c.post('runs/log-batch', { run_id, params: [{ key: 'p', value: 5 }] }),
      "Invalid value 5 for parameter 'params[0].value' supplied",
    );
    assertBadRequest(
      await c.post('runs/log-batch', { run_id: 5 }),
      "Invalid value 5 for parameter 'run_id' supplied",
    );
    const run = (await c.get('runs/get', { run_id })).json.run as {
      data: { metrics: unknown[]; params: unknown[] };
    };
    assert.deepEqual(run.data.metrics, []);
    assert.deepEqual(run.data.params, []);
  });

  test('other handlers check their string fields the same way', async () => {
    const exp = await c.newExperiment('other validation');
    const { run_id } = await c.newRun(exp);
    assertBadRequest(
      await c.post('runs/create', { experiment_id: 5 }),
      "Invalid value 5 for parameter 'experiment_id'",
    );
    assertBadRequest(
      await c.post('runs/create', { experiment_id: exp, run_name: 7 }),
      "Invalid value 7 for parameter 'run_name'",
    );
    assertBadRequest(
      await c.post('runs/create', { experiment_id: exp, start_time: 'soon' }),
      `Invalid value "soon" for parameter 'start_time'`,
    );
    assertBadRequest(
      await c.post('runs/update', { run_id, run_name: 7 }),
      "Invalid value 7 for parameter 'run_name'",
    );
    assertBadRequest(await c.post('runs/delete', { run_id: 7 }), "Invalid value 7 for parameter 'run_id'");
    assertBadRequest(
      await c.post('runs/delete-tag', { run_id, key: null }),
      "Missing value for required parameter 'key'",
    );
    assertBadRequest(
      await c.post('experiments/update', { experiment_id: exp, new_name: 5 }),
      "Invalid value 5 for parameter 'new_name'",
    );
    assertBadRequest(
      await c.post('experiments/set-experiment-tag', { experiment_id: exp, key: 'k', value: 5 }),
      "Invalid value 5 for parameter 'value'",
    );
    assertBadRequest(await c.post('runs/search', { experiment_ids: exp }), `for parameter 'experiment_ids'`);
    assertBadRequest(
      await c.post('runs/search', { experiment_ids: [exp], order_by: [5] }),
      "for parameter 'order_by[0]'",
    );
    assertBadRequest(
      await c.post('experiments/search', { filter: 5 }),
      "Invalid value 5 for parameter 'filter'",
    );
    assertBadRequest(
      await c.post('registered-models/create', { name: 5 }),
      "Invalid value 5 for parameter 'name'",
    );
    assertBadRequest(
      await c.post('registered-models/create', { name: 'x', tags: [{ key: 'k', value: 1 }] }),
      "Invalid value 1 for parameter 'tags[0].value'",
    );
    assertBadRequest(
      await c.post('model-versions/create', { name: 'x', source: 5 }),
      "Invalid value 5 for parameter 'source'",
    );
    assertBadRequest(
      await c.post('model-versions/create', { name: 'x' }),
      "Missing value for required parameter 'source'",
    );
  });
}

/** Item 7: get-history-bulk-interval's argument checks, "Invalid path", artifact_location resolution. */
export function detailTests(c: ParityCalls): void {
  test('get-history-bulk-interval checks its arguments before looking anything up', async () => {
    const { run_id } = await c.newRun(await c.newExperiment('bulk interval args'));
    const missing = 'f'.repeat(32);
    const url = 'metrics/get-history-bulk-interval';
    // a run that does not exist is not looked up while the arguments are wrong
    assertBadRequest(
      await c.get(url, { run_ids: missing, metric_key: '' }),
      "Missing value for required parameter 'metric_key'",
    );
    assertBadRequest(
      await c.get(url, { run_ids: missing }),
      "Missing value for required parameter 'metric_key'",
    );
    assertBadRequest(await c.get(url, { metric_key: 'm' }), "Missing value for required parameter 'run_ids'");
    assertBadRequest(
      await c.get(url, { run_ids: missing, metric_key: 'm', start_step: '0' }),
      'If either start step or end step are specified, both must be specified.',
    );
    assertBadRequest(
      await c.get(url, { run_ids: missing, metric_key: 'm', end_step: '3' }),
      'If either start step or end step are specified, both must be specified.',
    );
    assertBadRequest(
      await c.get(url, { run_ids: missing, metric_key: 'm', start_step: '5', end_step: '1' }),
      'end_step must be greater than start_step. Found start_step=5 and end_step=1.',
    );
    for (const max of ['0', '2501']) {
      assertBadRequest(
        await c.get(url, { run_ids: missing, metric_key: 'm', max_results: max }),
        'max_results must be between 1 and 2500.',
      );
    }
    const many = Array.from({ length: 101 }, (_, i) => `${i}`.padStart(32, 'a'));
    assertBadRequest(
      await c.get(url, { run_ids: many, metric_key: 'm' }),
      'GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received 101 run_ids.',
    );
    // with good arguments, an unknown run is 404
    const r = await c.get(url, { run_ids: missing, metric_key: 'm' });
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.error_code, 'RESOURCE_DOES_NOT_EXIST');
    assert.equal((await c.get(url, { run_ids: run_id, metric_key: 'm' })).status, 200);
  });

  test('artifact paths with .. (also percent-encoded), # or an absolute path are refused with "Invalid path"', async () => {
    const { run_id } = await c.newRun(await c.newExperiment('invalid path'));
    for (const path of ['../x', 'a/../../b', '..', '%2E%2E/x', 'a%2F..%2F..%2Fb', '/etc', 'a#b', 'C:/x']) {
      const r = await c.get('artifacts/list', { run_id, path });
      assertBadRequest(r, 'Invalid path');
      assert.equal(r.json.message, 'Invalid path');
    }
    assert.equal((await c.get('artifacts/list', { run_id, path: 'a/./b' })).status, 200);
  });

  test('a relative artifact_location is resolved to an absolute one; runs:/ and fragments are refused', async () => {
    const name = `relative-location-${process.pid}`;
    const r = await c.post('experiments/create', { name, artifact_location: 'my_location' });
    assert.equal(r.status, 200, r.text);
    const exp = (await c.get('experiments/get', { experiment_id: r.json.experiment_id as string })).json
      .experiment as { artifact_location: string };
    assert.equal(exp.artifact_location, `${process.cwd()}/my_location`);
    const f = await c.post('experiments/create', { name: `${name}-f`, artifact_location: 'file:rel/dir' });
    const expF = (await c.get('experiments/get', { experiment_id: f.json.experiment_id as string })).json
      .experiment as { artifact_location: string };
    assert.equal(expF.artifact_location, `file://${process.cwd()}/rel/dir`);
    const abs = await c.post('experiments/create', { name: `${name}-a`, artifact_location: 's3://bucket/x' });
    const expA = (await c.get('experiments/get', { experiment_id: abs.json.experiment_id as string })).json
      .experiment as { artifact_location: string };
    assert.equal(expA.artifact_location, 's3://bucket/x');
    assertBadRequest(
      await c.post('experiments/create', { name: `${name}-r`, artifact_location: 'runs:/abc/x' }),
      'Artifact location cannot be a runs:/ URI',
    );
    assertBadRequest(
      await c.post('experiments/create', { name: `${name}-h`, artifact_location: 's3://bucket/x#frag' }),
      "'artifact_location' URL can't include fragments or params.",
    );
    assertBadRequest(
      await c.post('experiments/create', { name: `${name}-q`, artifact_location: 's3://bucket/x?a=../b' }),
      'Invalid query string',
    );
  });
}

/** Item 5: model-version `source` rules (MLflow's _validate_source_run / _validate_source_model). */
export function sourceRuleTests(c: ParityCalls): void {
  const localRun = async (name: string) => {
    const base = join(c.server().artifactsDir, '..', `local-${name}-${++counter}`);
    const r = await c.post('experiments/create', {
      name: `${name}-${process.pid}-${counter}`,
      artifact_location: `file://${base}`,
    });
    assert.equal(r.status, 200, r.text);
    const run = await c.newRun(r.json.experiment_id as string);
    assert.ok(run.artifact_uri.startsWith('file:///'), run.artifact_uri);
    const model = `model-${name}-${process.pid}-${counter}`;
    assert.equal((await c.post('registered-models/create', { name: model })).status, 200);
    return {
      ...run,
      experimentId: r.json.experiment_id as string,
      model,
      path: run.artifact_uri.slice('file://'.length),
    };
  };
  const create = (body: object) => c.post('model-versions/create', body);
  const LOCAL =
    'To use a local path as a model version source, the run_id request parameter has to be specified';
  const RELATIVE =
    'If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri';

  test('a local path source needs the run_id and must lie in its artifact directory (test_create_model_version_with_path_source)', async () => {
    const r = await localRun('path-source');
    assert.equal((await create({ name: r.model, source: r.path, run_id: r.run_id })).status, 200);
    assertBadRequest(await create({ name: r.model, source: r.path }), LOCAL);
    assertBadRequest(await create({ name: r.model, source: '/tmp', run_id: r.run_id }), LOCAL);
    // '..' that normalises to a place inside the run's directory is fine; one that leaves it is not
    assert.equal(
      (await create({ name: r.model, source: `${r.path}/model/../model`, run_id: r.run_id })).status,
      200,
    );
    assertBadRequest(await create({ name: r.model, source: `${r.path}/../../..`, run_id: r.run_id }), LOCAL);
    // a run that does not exist is 404
    const missing = await create({ name: r.model, source: r.path, run_id: 'f'.repeat(32) });
    assert.equal(missing.status, 404, missing.text);
  });

  test('file:// sources: inside the run is fine, another host is refused (test_create_model_version_with_file_uri)', async () => {
    const r = await localRun('file-uri');
    for (const source of [
      r.artifact_uri,
      `${r.artifact_uri}/model`,
      `${r.artifact_uri}/.`,
      `${r.artifact_uri}/model/../model`,
      `file://localhost${r.path}`,
    ]) {
      const res = await create({ name: r.model, source, run_id: r.run_id });
      assert.equal(res.status, 200, `${source}: ${res.text}`);
    }
    assertBadRequest(await create({ name: r.model, source: 'file:///' }), LOCAL);
    assertBadRequest(await create({ name: r.model, source: 'file:///tmp', run_id: r.run_id }), LOCAL);
    assertBadRequest(
      await create({ name: r.model, source: 'file://123.456.789.123/path/to/source', run_id: r.run_id }),
      'is not a valid remote uri',
    );
  });

  test('other sources must be absolute without .. (test_create_model_version_with_non_local_source)', async () => {
    const r = await localRun('non-local');
    for (const source of [
      'mlflow-artifacts:/models',
      'mlflow-artifacts://host:9000/models',
      's3://bucket/models/x',
      `runs:/${r.run_id}/model`,
    ]) {
      const res = await create({ name: r.model, source, run_id: r.run_id });
      assert.equal(res.status, 200, `${source}: ${res.text}`);
    }
    for (const source of [
      'mlflow-artifacts://host:9000/models/../../../',
      'http://host:9000/models/artifacts/../../../',
      'https://host/api/2.0/mlflow-artifacts/artifacts/../../../',
      's3:/my_bucket/api/2.0/mlflow-artifacts/artifacts/../../../',
      'ftp://host:8888/api/2.0/mlflow-artifacts/artifacts/../../../',
      'mlflow-artifacts://host:9000/models/..%2f..%2fartifacts',
      'mlflow-artifacts:/models%00',
      'http://host:9000/models/./x',
    ]) {
      assertBadRequest(await create({ name: r.model, source, run_id: r.run_id }), RELATIVE);
    }
    // nothing was registered by the refused calls: 4 versions from the accepted ones
    const versions = await c.post('model-versions/search', { filter: `name = '${r.model}'` });
    assert.equal((versions.json.model_versions as unknown[]).length, 4);
  });

  test('a model_id with a local source outside its artifact directory is refused; prompts may not be local', async () => {
    const r = await localRun('model-id');
    const lm = await c.post('logged-models', { experiment_id: r.experimentId, name: 'lm' });
    assert.equal(lm.status, 200, lm.text);
    const modelId = (lm.json.model as { info: { model_id: string } }).info.model_id;
    assertBadRequest(
      await create({ name: r.model, source: '/tmp/somewhere', model_id: modelId }),
      'the model_id request parameter has to be specified',
    );
    const prompt = { key: 'mlflow.prompt.is_prompt', value: 'true' };
    assertBadRequest(
      await create({ name: r.model, source: '/etc/passwd', tags: [prompt] }),
      'Local source paths are not allowed for prompts.',
    );
    assertBadRequest(
      await create({ name: r.model, source: 'file:///etc', tags: [prompt] }),
      'Local source paths are not allowed for prompts.',
    );
    assert.equal((await create({ name: r.model, source: 'prompt-template', tags: [prompt] })).status, 200);
  });
}

/** Item 6: the endpoints MLflow serves besides the JSON API's core (bulk history, datasets, artifact files). */
export function endpointTests(c: ParityCalls): void {
  const raw = async (method: 'GET' | 'POST', url: string, payload?: string) => {
    const r = await c.server().server.app.inject({
      method,
      url,
      ...(payload === undefined ? {} : { payload, headers: { 'content-type': 'application/octet-stream' } }),
    });
    return r;
  };

  test('metrics/get-history-bulk: full histories of several runs, sorted, with run_id (both prefixes)', async () => {
    const exp = await c.newExperiment('history bulk');
    const a = await c.newRun(exp);
    const b = await c.newRun(exp);
    const metrics = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ key: 'loss', value: n - i, timestamp: 100 + i, step: i }));
    assert.equal((await c.post('runs/log-batch', { run_id: a.run_id, metrics: metrics(3) })).status, 200);
    assert.equal((await c.post('runs/log-batch', { run_id: b.run_id, metrics: metrics(2) })).status, 200);
    for (const prefix of ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow']) {
      const r = await c.server().server.app.inject({
        url: `${prefix}/metrics/get-history-bulk?run_id=${a.run_id}&run_id=${b.run_id}&metric_key=loss`,
      });
      assert.equal(r.statusCode, 200, r.body);
      const got = r.json().metrics as Array<{ run_id: string; step: number; value: number; key: string }>;
      const expected = [a.run_id, b.run_id]
        .sort()
        .flatMap((id) => metrics(id === a.run_id ? 3 : 2).map((m) => ({ ...m, run_id: id })));
      assert.deepEqual(got, expected);
    }
    const capped = await c.get('metrics/get-history-bulk', {
      run_id: [a.run_id, b.run_id],
      metric_key: 'loss',
      max_results: '4',
    });
    assert.equal((capped.json.metrics as unknown[]).length, 4);
    assertBadRequest(
      await c.get('metrics/get-history-bulk', { metric_key: 'loss' }),
      'GetMetricHistoryBulk request must specify at least one run_id.',
    );
    assertBadRequest(
      await c.get('metrics/get-history-bulk', { run_id: a.run_id }),
      'GetMetricHistoryBulk request must specify a metric_key.',
    );
    const many = Array.from({ length: 101 }, (_, i) => `${i}`.padStart(32, 'a'));
    assertBadRequest(
      await c.get('metrics/get-history-bulk', { run_id: many, metric_key: 'loss' }),
      'GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received 101 run_ids.',
    );
  });

  test('experiments/search-datasets: distinct datasets with their context, 1-20 experiments', async () => {
    const exp = await c.newExperiment('search datasets');
    const other = await c.newExperiment('search datasets other');
    const run = await c.newRun(exp);
    const run2 = await c.newRun(exp);
    const otherRun = await c.newRun(other);
    const dataset = (name: string, digest: string) => ({ name, digest, source_type: 'local', source: '{}' });
    const context = (v: string) => [{ key: 'mlflow.data.context', value: v }];
    const log = (run_id: string, datasets: unknown[]) => c.post('runs/log-inputs', { run_id, datasets });
    assert.equal(
      (
        await log(run.run_id, [
          { tags: context('training'), dataset: dataset('train', 'd1') },
          { dataset: dataset('raw', 'd2') },
        ])
      ).status,
      200,
    );
    assert.equal(
      (
        await log(run2.run_id, [
          { tags: context('training'), dataset: dataset('train', 'd1') },
          { tags: context('eval'), dataset: dataset('train', 'd1') },
        ])
      ).status,
      200,
    );
    assert.equal(
      (await log(otherRun.run_id, [{ tags: context('training'), dataset: dataset('elsewhere', 'd3') }]))
        .status,
      200,
    );
    const r = await c.post('experiments/search-datasets', { experiment_ids: [exp] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.dataset_summaries, [
      { experiment_id: exp, name: 'raw', digest: 'd2' },
      { experiment_id: exp, name: 'train', digest: 'd1', context: 'eval' },
      { experiment_id: exp, name: 'train', digest: 'd1', context: 'training' },
    ]);
    const both = await c.post('experiments/search-datasets', { experiment_ids: [exp, other] });
    assert.equal((both.json.dataset_summaries as unknown[]).length, 4);
    assertBadRequest(
      await c.post('experiments/search-datasets', {}),
      'SearchDatasets request must specify at least one experiment_id.',
    );
    assertBadRequest(
      await c.post('experiments/search-datasets', {
        experiment_ids: Array.from({ length: 21 }, (_, i) => String(i)),
      }),
      'SearchDatasets request cannot specify more than 20 experiment_ids. Received 21 experiment_ids.',
    );
  });

  test('upload-artifact then get-artifact: the bytes round-trip through the run artifact root', async () => {
    const { run_id } = await c.newRun(await c.newExperiment('upload artifact'));
    const up = await raw(
      'POST',
      `/ajax-api/2.0/mlflow/upload-artifact?run_uuid=${run_id}&path=dir/notes.txt`,
      'hello artifact',
    );
    assert.equal(up.statusCode, 200, up.body);
    const listed = await c.get('artifacts/list', { run_id, path: 'dir' });
    assert.deepEqual(listed.json.files, [{ path: 'dir/notes.txt', is_dir: false, file_size: 14 }]);
    for (const key of ['run_id', 'run_uuid']) {
      const got = await raw('GET', `/get-artifact?${key}=${run_id}&path=dir/notes.txt`);
      assert.equal(got.statusCode, 200, got.body);
      assert.equal(got.body, 'hello artifact');
      assert.equal(got.headers['content-type'], 'text/plain');
      assert.equal(got.headers['content-disposition'], 'attachment; filename=notes.txt');
      assert.equal(got.headers['x-content-type-options'], 'nosniff');
    }
    const missing = await raw('GET', `/get-artifact?run_id=${run_id}&path=dir/none.txt`);
    assert.equal(missing.statusCode, 404);
    const bad = await raw('GET', `/get-artifact?run_id=${run_id}&path=../x`);
    assert.equal(bad.statusCode, 400);
    assert.equal(JSON.parse(bad.body).message, 'Invalid path');
    const upBad = await raw(
      'POST',
      `/ajax-api/2.0/mlflow/upload-artifact?run_uuid=${run_id}&path=a/../../x`,
      'x',
    );
    assert.equal(JSON.parse(upBad.body).message, 'Invalid path');
    const noRun = await raw('POST', '/ajax-api/2.0/mlflow/upload-artifact?path=x', 'x');
    assert.equal(JSON.parse(noRun.body).message, 'Request must specify run_uuid.');
    const noPath = await raw('POST', `/ajax-api/2.0/mlflow/upload-artifact?run_uuid=${run_id}`, 'x');
    assert.equal(JSON.parse(noPath.body).message, 'Request must specify path.');
    const noData = await raw('POST', `/ajax-api/2.0/mlflow/upload-artifact?run_uuid=${run_id}&path=y`, '');
    assert.equal(JSON.parse(noData.body).message, 'Request must specify data.');
    const big = await raw(
      'POST',
      `/ajax-api/2.0/mlflow/upload-artifact?run_uuid=${run_id}&path=big`,
      'x'.repeat(10 * 1024 * 1024 + 1),
    );
    assert.equal(big.statusCode, 400);
    assert.equal(JSON.parse(big.body).message, 'Artifact size is too large. Max size is 10MB.');
    assert.deepEqual(
      ((await c.get('artifacts/list', { run_id })).json.files as Array<{ path: string }>).map((f) => f.path),
      ['dir'],
    );
  });

  test('model-versions/get-artifact and logged-models/<id>/artifacts/files serve the files', async () => {
    const exp = await c.newExperiment('model artifacts');
    const { run_id } = await c.newRun(exp);
    await raw(
      'POST',
      `/ajax-api/2.0/mlflow/upload-artifact?run_uuid=${run_id}&path=model/MLmodel`,
      'flavors: {}',
    );
    const name = `artifact-model-${process.pid}-${++counter}`;
    await c.post('registered-models/create', { name });
    const mv = await c.post('model-versions/create', { name, source: `runs:/${run_id}/model`, run_id });
    assert.equal(mv.status, 200, mv.text);
    const got = await raw('GET', `/model-versions/get-artifact?name=${name}&version=1&path=MLmodel`);
    assert.equal(got.statusCode, 200, got.body);
    assert.equal(got.body, 'flavors: {}');
    assert.equal(got.headers['content-type'], 'text/plain');

    const lm = await c.post('logged-models', { experiment_id: exp, name: 'lm', source_run_id: run_id });
    const model = lm.json.model as { info: { model_id: string; artifact_uri: string } };
    const dir = model.info.artifact_uri.replace(/^mlflow-artifacts:\/*/, '');
    const { writeFileSync, mkdirSync } = await import('node:fs');
    mkdirSync(join(c.server().artifactsDir, dir), { recursive: true });
    writeFileSync(join(c.server().artifactsDir, dir, 'model.pkl'), 'pickled');
    for (const prefix of ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow']) {
      const f = await raw(
        'GET',
        `${prefix}/logged-models/${model.info.model_id}/artifacts/files?artifact_file_path=model.pkl`,
      );
      assert.equal(f.statusCode, 200, f.body);
      assert.equal(f.body, 'pickled');
      assert.equal(f.headers['content-type'], 'application/octet-stream');
    }
    const noPath = await raw('GET', `/api/2.0/mlflow/logged-models/${model.info.model_id}/artifacts/files`);
    assert.equal(noPath.statusCode, 400);
    assert.equal(JSON.parse(noPath.body).error_code, 'BAD_REQUEST');
  });
}

/** Item 6: MLflow's GraphQL API (test_rest_tracking.py's *_graphql tests). */
export function graphqlTests(c: ParityCalls): void {
  const gql = async (body: unknown, url = '/graphql') => {
    const r = await c.server().server.app.inject({ method: 'POST', url, payload: body as object });
    assert.equal(r.statusCode, 200, r.body);
    // biome-ignore lint/suspicious/noExplicitAny: GraphQL data is shaped by each query
    return r.json() as { data: Record<string, any> | null; errors: string[] | null };
  };

  test('mlflowGetMetricHistoryBulkInterval samples like the REST endpoint (test_get_metric_history_bulk_interval_graphql)', async () => {
    const { run_id } = await c.newRun(await c.newExperiment('GraphqlTest'));
    const metrics = Array.from({ length: 10 }, (_, i) => ({
      key: 'metric_0',
      value: i,
      timestamp: 1000 + i,
      step: i,
    }));
    await c.post('runs/log-batch', { run_id, metrics });
    const json = await gql({
      query: `query testQuery { mlflowGetMetricHistoryBulkInterval(input: { runIds: ["${run_id}"], metricKey: "metric_0" }) { metrics { key timestamp value step runId } } }`,
      operationName: 'testQuery',
    });
    assert.equal(json.errors, null);
    assert.deepEqual(
      json.data?.mlflowGetMetricHistoryBulkInterval.metrics,
      metrics.map((m) => ({
        key: m.key,
        timestamp: String(m.timestamp),
        value: m.value,
        step: String(m.step),
        runId: run_id,
      })),
    );
  });

  test('mlflowSearchRuns (a mutation, as in MLflow) and mlflowGetRun with the experiment and model-version extension', async () => {
    const exp = await c.newExperiment('GraphqlSearch');
    const first = await c.newRun(exp, { start_time: 1 });
    const second = await c.newRun(exp, { start_time: 2 });
    const json = await gql({
      query: `mutation testMutation { mlflowSearchRuns(input: { experimentIds: ["${exp}"] }) { runs { info { runId status endTime } } } }`,
      operationName: 'testMutation',
    });
    assert.deepEqual(json.data?.mlflowSearchRuns.runs, [
      { info: { runId: second.run_id, status: 'RUNNING', endTime: '0' } },
      { info: { runId: first.run_id, status: 'RUNNING', endTime: '0' } },
    ]);
    const model = `gql-model-${process.pid}-${++counter}`;
    await c.post('registered-models/create', { name: model });
    await c.post('model-versions/create', {
      name: model,
      source: `runs:/${first.run_id}/model`,
      run_id: first.run_id,
    });
    const got = await gql({
      query: `query { mlflowGetRun(input: { runId: "${first.run_id}" }) { run { info { experimentId } experiment { name } modelVersions { name version description } data { params { key } } } apiError { code } } }`,
    });
    assert.equal(got.errors, null);
    const run = got.data?.mlflowGetRun.run;
    assert.equal(run.info.experimentId, exp);
    assert.match(run.experiment.name, /^GraphqlSearch-/);
    assert.deepEqual(run.modelVersions, [{ name: model, version: '1', description: '' }]);
    assert.deepEqual(run.data.params, []);
    assert.equal(got.data?.mlflowGetRun.apiError, null);
  });

  test('mlflowListArtifacts with aliases and a fragment (test_list_artifacts_graphql)', async () => {
    const { run_id } = await c.newRun(await c.newExperiment('GraphqlArtifacts'));
    const upload = (path: string) =>
      c.server().server.app.inject({
        method: 'POST',
        url: `/ajax-api/2.0/mlflow/upload-artifact?run_uuid=${run_id}&path=${path}`,
        payload: 'hello world',
        headers: { 'content-type': 'application/octet-stream' },
      });
    await upload('test.txt');
    await upload('testDir/test.txt');
    const json = await gql({
      query: `fragment FilesFragment on MlflowListArtifactsResponse { files { path isDir fileSize } }
        query testQuery {
          file: mlflowListArtifacts(input: { runId: "${run_id}" }) { ...FilesFragment }
          subdir: mlflowListArtifacts(input: { runId: "${run_id}", path: "testDir" }) { ...FilesFragment }
        }`,
      operationName: 'testQuery',
    });
    assert.equal(json.errors, null);
    assert.deepEqual(json.data?.file.files, [
      { path: 'test.txt', isDir: false, fileSize: '11' },
      { path: 'testDir', isDir: true, fileSize: '0' },
    ]);
    assert.deepEqual(json.data?.subdir.files, [{ path: 'testDir/test.txt', isDir: false, fileSize: '11' }]);
  });

  test('mlflowSearchDatasets: a dataset without context reads "" (test_search_datasets_graphql)', async () => {
    const exp = await c.newExperiment('GraphqlDatasets');
    const { run_id } = await c.newRun(exp);
    await c.post('runs/log-inputs', {
      run_id,
      datasets: [
        {
          tags: [],
          dataset: { name: 'test-dataset-1', digest: '12345', source_type: 'script', source: 'test' },
        },
        {
          tags: [{ key: 'mlflow.data.context', value: 'training' }],
          dataset: { name: 'test-dataset-2', digest: '12346', source_type: 'script', source: 'test' },
        },
      ],
    });
    const json = await gql({
      query: `mutation testMutation { mlflowSearchDatasets(input: { experimentIds: ["${exp}"] }) { datasetSummaries { experimentId name digest context } } }`,
      operationName: 'testMutation',
    });
    const got = [...(json.data?.mlflowSearchDatasets.datasetSummaries ?? [])].sort((a, b) =>
      a.digest.localeCompare(b.digest),
    );
    assert.deepEqual(got, [
      { experimentId: exp, name: 'test-dataset-1', digest: '12345', context: '' },
      { experimentId: exp, name: 'test-dataset-2', digest: '12346', context: 'training' },
    ]);
  });

  test('errors are 200 with messages; NaN metric values are a GraphQL error, not a crash; batches and limits', async () => {
    const exp = await c.newExperiment('GraphqlErrors');
    const { run_id } = await c.newRun(exp);
    const missing = await gql({
      query: `query { mlflowGetRun(input: { runId: "${'f'.repeat(32)}" }) { run { info { runId } } } }`,
    });
    assert.equal(missing.data?.mlflowGetRun, null);
    assert.ok(
      missing.errors?.[0]?.includes('not found') || missing.errors?.[0]?.includes('does not exist'),
      String(missing.errors),
    );
    const bad = await gql({ query: 'query { nope }' });
    assert.equal(bad.data, null);
    assert.match(String(bad.errors), /Cannot query field "nope"/);
    const syntax = await gql({ query: 'query {' });
    assert.match(String(syntax.errors), /Syntax Error/);
    await c.post('runs/log-batch', { run_id, metrics: [{ key: 'n', value: 'NaN', timestamp: 1, step: 0 }] });
    const nan = await gql({
      query: `query { mlflowGetRun(input: { runId: "${run_id}" }) { run { data { metrics { key value } } } } }`,
    });
    assert.match(String(nan.errors), /Float cannot represent non numeric value: NaN/);
    const echo = await gql({ query: 'query { test(inputString: "hi") { output } }' }, '/ajax-api/graphql');
    assert.deepEqual(echo, { data: { test: { output: 'hi' } }, errors: null });
    const batch = (
      await c.server().server.app.inject({
        method: 'POST',
        url: '/graphql',
        payload: [
          { query: 'query { test(inputString: "a") { output } }' },
          { query: 'mutation { testMutation(inputString: "b") { output } }' },
        ],
      })
    ).json();
    assert.deepEqual(batch, [
      { data: { test: { output: 'a' } }, errors: null },
      { data: { testMutation: { output: 'b' } }, errors: null },
    ]);
    const tooMany = await gql({
      query: `query { ${Array.from({ length: 11 }, (_, i) => `t${i}: test(inputString: "${i}") { output }`).join(' ')} }`,
    });
    assert.equal(tooMany.data, null);
    assert.match(String(tooMany.errors), /at most 10 root fields, got 11/);
  });
}

/** Item 1: search semantics (test_model_registry.py's search tests, MLflow 3's prompt filter). */
export function searchSemanticsTests(c: ParityCalls): void {
  const PROMPT_FILTER = "tag.`mlflow.prompt.is_prompt` != 'true'";

  test("registry: tag != matches models and versions without the tag (MlflowClient's prompt filter)", async () => {
    const p = `semantics-${process.pid}-${++counter}`;
    const names = [`${p}-plain`, `${p}-tagged`, `${p}-prompt`];
    await c.post('registered-models/create', { name: names[0] });
    await c.post('registered-models/create', {
      name: names[1],
      tags: [{ key: 'mlflow.prompt.is_prompt', value: 'false' }],
    });
    await c.post('registered-models/create', {
      name: names[2],
      tags: [{ key: 'mlflow.prompt.is_prompt', value: 'true' }],
    });
    for (const name of names) await c.post('model-versions/create', { name, source: 's3://bucket/m' });
    await c.post('model-versions/set-tag', {
      name: names[2],
      version: '1',
      key: 'mlflow.prompt.is_prompt',
      value: 'true',
    });
    const models = await c.post('registered-models/search', {
      filter: `name LIKE '${p}-%' AND ${PROMPT_FILTER}`,
    });
    assert.deepEqual(
      (models.json.registered_models as Array<{ name: string }>).map((m) => m.name),
      [names[0], names[1]],
    );
    // the same through GET, as the Python client sends it
    const viaGet = await c.get('registered-models/search', {
      filter: `name LIKE '${p}-%' AND ${PROMPT_FILTER}`,
    });
    assert.equal((viaGet.json.registered_models as unknown[]).length, 2);
    const versions = await c.post('model-versions/search', {
      filter: `name LIKE '${p}-%' AND ${PROMPT_FILTER}`,
    });
    assert.deepEqual((versions.json.model_versions as Array<{ name: string }>).map((m) => m.name).sort(), [
      names[0],
      names[1],
    ]);
    // = still needs the tag; != on a present tag with another value matches
    const eq = await c.post('registered-models/search', {
      filter: `name LIKE '${p}-%' AND tag.\`mlflow.prompt.is_prompt\` = 'false'`,
    });
    assert.deepEqual(
      (eq.json.registered_models as Array<{ name: string }>).map((m) => m.name),
      [names[1]],
    );
    // paging through the filtered set keeps the order and loses nothing
    const first = await c.post('registered-models/search', {
      filter: `name LIKE '${p}-%' AND ${PROMPT_FILTER}`,
      max_results: 1,
    });
    assert.equal((first.json.registered_models as unknown[]).length, 1);
    const second = await c.post('registered-models/search', {
      filter: `name LIKE '${p}-%' AND ${PROMPT_FILTER}`,
      max_results: 1,
      page_token: first.json.next_page_token,
    });
    assert.deepEqual(
      [
        ...(first.json.registered_models as Array<{ name: string }>),
        ...(second.json.registered_models as Array<{ name: string }>),
      ].map((m) => m.name),
      [names[0], names[1]],
    );
    assert.equal(second.json.next_page_token, undefined);
  });

  test('registry: LIKE is case-sensitive, ILIKE is not, on names and tags (test_search_registered_models)', async () => {
    const p = `LikeTest${process.pid}x${++counter}`;
    await c.post('registered-models/create', {
      name: `${p}-Alpha`,
      tags: [{ key: 'team', value: 'Vision' }],
    });
    await c.post('registered-models/create', {
      name: `${p}-beta`,
      tags: [{ key: 'team', value: 'vision-ops' }],
    });
    const search = async (filter: string) =>
      (
        ((await c.post('registered-models/search', { filter })).json.registered_models as
          | Array<{ name: string }>
          | undefined) ?? []
      ).map((m) => m.name);
    assert.deepEqual(await search(`name LIKE '${p}-A%'`), [`${p}-Alpha`]);
    assert.deepEqual(await search(`name LIKE '${p}-a%'`), []);
    assert.deepEqual(await search(`name ILIKE '${p.toLowerCase()}-a%'`), [`${p}-Alpha`]);
    assert.deepEqual(await search(`name LIKE '${p}-%' AND tags.team LIKE 'vision%'`), [`${p}-beta`]);
    assert.deepEqual(await search(`name LIKE '${p}-%' AND tags.team ILIKE 'VISION%'`), [
      `${p}-Alpha`,
      `${p}-beta`,
    ]);
    assert.deepEqual(await search(`name LIKE '${p}-%' AND tags.\`team\` = 'Vision'`), [`${p}-Alpha`]);
    assert.deepEqual(await search(`name LIKE '${p}-_eta'`), [`${p}-beta`]);
    assertBadRequest(await c.post('registered-models/search', { filter: 'tags.team < 5' }), 'Invalid');
  });

  test('registered models and versions always carry a description ("" when none)', async () => {
    const name = `described-${process.pid}-${++counter}`;
    const rm = await c.post('registered-models/create', { name });
    assert.equal((rm.json.registered_model as { description: string }).description, '');
    const mv = await c.post('model-versions/create', { name, source: 's3://bucket/m' });
    assert.equal((mv.json.model_version as { description: string }).description, '');
    const got = await c.get('registered-models/get', { name });
    const model = got.json.registered_model as {
      description: string;
      latest_versions: Array<{ description: string }>;
    };
    assert.equal(model.description, '');
    assert.equal(model.latest_versions[0].description, '');
    assert.equal(
      (
        (await c.get('model-versions/get', { name, version: '1' })).json.model_version as {
          description: string;
        }
      ).description,
      '',
    );
    const updated = await c.call('PATCH', 'registered-models/update', { name, description: 'about' });
    assert.equal((updated.json.registered_model as { description: string }).description, 'about');
  });

  test('runs and experiments: tag != needs the tag, as MLflow (a run without it does not match)', async () => {
    const exp = await c.newExperiment('run tag semantics');
    const tagged = await c.newRun(exp, { tags: [{ key: 'team', value: 'a' }] });
    const other = await c.newRun(exp, { tags: [{ key: 'team', value: 'b' }] });
    await c.newRun(exp);
    const runs = await c.post('runs/search', { experiment_ids: [exp], filter: "tags.team != 'a'" });
    assert.deepEqual(
      (runs.json.runs as Array<{ info: { run_id: string } }>).map((r) => r.info.run_id),
      [other.run_id],
    );
    const like = await c.post('runs/search', { experiment_ids: [exp], filter: "tags.team LIKE 'A%'" });
    // MLflow omits the empty list ({}); Tassel sends runs: [] (both read as no runs by every client)
    assert.deepEqual(like.json.runs ?? [], []);
    const ilike = await c.post('runs/search', { experiment_ids: [exp], filter: "tags.team ILIKE 'A%'" });
    assert.deepEqual(
      (ilike.json.runs as Array<{ info: { run_id: string } }>).map((r) => r.info.run_id),
      [tagged.run_id],
    );
    const name = `tagged-exp-${process.pid}-${++counter}`;
    await c.post('experiments/create', { name, tags: [{ key: 'k', value: 'x' }] });
    await c.post('experiments/create', { name: `${name}-untagged` });
    const exps = await c.post('experiments/search', { filter: `name LIKE '${name}%' AND tags.k != 'y'` });
    assert.deepEqual(
      (exps.json.experiments as Array<{ name: string }>).map((e) => e.name),
      [name],
    );
  });
}

/** Item 2: logging an identical metric point again stores nothing (MLflow's metrics primary key). */
export function metricIdempotencyTests(c: ParityCalls): void {
  test('re-logging the latest metrics (as log_model does, with a model_id) leaves the history at 10 points', async () => {
    const { run_id } = await c.newRun(await c.newExperiment('metric idempotency'));
    for (let step = 0; step < 10; step++) {
      const r = await c.post('runs/log-metric', {
        run_id,
        key: 'loss',
        value: 1 / (step + 1),
        timestamp: 1000 + step,
        step,
      });
      assert.equal(r.status, 200, r.text);
    }
    // log_model's re-log: the run's latest metrics again, now naming the model
    const again = await c.post('runs/log-batch', {
      run_id,
      metrics: [{ key: 'loss', value: 1 / 10, timestamp: 1009, step: 9, model_id: 'm-123' }],
    });
    assert.equal(again.status, 200, again.text);
    await c.post('runs/log-metric', { run_id, key: 'loss', value: 1 / 10, timestamp: 1009, step: 9 });
    const history = await c.get('metrics/get-history', { run_id, metric_key: 'loss' });
    assert.equal((history.json.metrics as unknown[]).length, 10);
    // duplicates inside one batch count once; a different value, step or timestamp is a new point
    await c.post('runs/log-batch', {
      run_id,
      metrics: [
        { key: 'acc', value: 0.5, timestamp: 1, step: 0 },
        { key: 'acc', value: 0.5, timestamp: 1, step: 0 },
        { key: 'acc', value: 0.6, timestamp: 1, step: 0 },
        { key: 'acc', value: 0.5, timestamp: 2, step: 0 },
        { key: 'acc', value: 0.5, timestamp: 1, step: 1 },
        { key: 'acc', value: 'NaN', timestamp: 1, step: 2 },
        { key: 'acc', value: 'NaN', timestamp: 1, step: 2 },
      ],
    });
    const acc = await c.get('metrics/get-history', { run_id, metric_key: 'acc' });
    assert.deepEqual(
      (acc.json.metrics as Array<{ value: number | string; timestamp: number; step: number }>).map((m) => [
        m.step,
        m.timestamp,
        m.value,
      ]),
      [
        [0, 1, 0.5],
        [0, 1, 0.6],
        [0, 2, 0.5],
        [1, 1, 0.5],
        [2, 1, 'NaN'],
      ],
    );
    const run = (await c.get('runs/get', { run_id })).json.run as {
      data: { metrics: Array<{ key: string; value: number }> };
    };
    assert.deepEqual(run.data.metrics.find((m) => m.key === 'loss')?.value, 0.1);
  });
}

/** Item 7: get-history-bulk-interval samples steps exactly as MLflow's handler. */
export function samplingTests(c: ParityCalls): void {
  const steps = (r: { json: Record<string, unknown> }, runId?: string) =>
    (r.json.metrics as Array<{ step: number; run_id: string }>)
      .filter((m) => !runId || m.run_id === runId)
      .map((m) => m.step);

  test('10 steps with max_results=5 give steps 0, 2, 4, 6, 8, 9 (test_get_metric_history_bulk_interval_respects_max_results)', async () => {
    const { run_id } = await c.newRun(await c.newExperiment('sampling'));
    const metrics = Array.from({ length: 10 }, (_, i) => ({
      key: 'm',
      value: i,
      timestamp: 100 + i,
      step: i,
    }));
    await c.post('runs/log-batch', { run_id, metrics });
    const url = 'metrics/get-history-bulk-interval';
    assert.deepEqual(
      steps(await c.get(url, { run_ids: run_id, metric_key: 'm', max_results: '5' })),
      [0, 2, 4, 6, 8, 9],
    );
    assert.deepEqual(
      steps(await c.get(url, { run_ids: run_id, metric_key: 'm' })),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.deepEqual(
      steps(
        await c.get(url, {
          run_ids: run_id,
          metric_key: 'm',
          start_step: '2',
          end_step: '7',
          max_results: '2',
        }),
      ),
      // in range 2..7 (6 steps), interval 3 from the range's start, plus the range's last
      [2, 5, 7],
    );
    const full = await c.get(url, { run_ids: run_id, metric_key: 'm', max_results: '5' });
    assert.deepEqual(
      full.json.metrics,
      [0, 2, 4, 6, 8, 9].map((i) => ({ key: 'm', value: i, timestamp: 100 + i, step: i, run_id })),
    );
  });

  test("several runs share one set of sampled steps, plus each run's first and last", async () => {
    const exp = await c.newExperiment('sampling runs');
    const a = await c.newRun(exp);
    const b = await c.newRun(exp);
    const log = (run_id: string, stepList: number[]) =>
      c.post('runs/log-batch', {
        run_id,
        metrics: stepList.map((s) => ({ key: 'm', value: s, timestamp: 1, step: s })),
      });
    await log(
      a.run_id,
      Array.from({ length: 20 }, (_, i) => i),
    );
    await log(b.run_id, [3, 7, 11]);
    const r = await c.get('metrics/get-history-bulk-interval', {
      run_ids: [a.run_id, b.run_id],
      metric_key: 'm',
      max_results: '4',
    });
    // union 0..19 sampled at interval 5: 0, 5, 10, 15 + last 19; b's first and last (3, 11) join the set
    assert.deepEqual(steps(r, a.run_id), [0, 3, 5, 10, 11, 15, 19]);
    assert.deepEqual(steps(r, b.run_id), [3, 11]);
  });
}

/** Item 3: logged models linked to runs (metrics with model_id, datasets filter, mlflow.modelVersions). */
export function loggedModelTests(c: ParityCalls): void {
  test('metrics logged with a model_id appear in the logged model, with their dataset; search honours datasets', async () => {
    const exp = await c.newExperiment('logged model metrics');
    const { run_id } = await c.newRun(exp);
    const create = async (name: string) =>
      (
        (await c.post('logged-models', { experiment_id: exp, name, source_run_id: run_id })).json.model as {
          info: { model_id: string };
        }
      ).info.model_id;
    const m1 = await create('m1');
    const m2 = await create('m2');
    await create('m3');
    const r = await c.post('runs/log-batch', {
      run_id,
      metrics: [
        {
          key: 'acc',
          value: 0.9,
          timestamp: 5,
          step: 1,
          model_id: m1,
          dataset_name: 'eval',
          dataset_digest: 'd1',
        },
        {
          key: 'acc',
          value: 0.7,
          timestamp: 5,
          step: 1,
          model_id: m2,
          dataset_name: 'train',
          dataset_digest: 'd2',
        },
        { key: 'loss', value: 0.1, timestamp: 5, step: 1 },
      ],
    });
    assert.equal(r.status, 200, r.text);
    // the re-log log_model does: identical point, nothing new anywhere
    await c.post('runs/log-metric', {
      run_id,
      key: 'acc',
      value: 0.9,
      timestamp: 5,
      step: 1,
      model_id: m1,
      dataset_name: 'eval',
      dataset_digest: 'd1',
    });
    const got = await c.get(`logged-models/${m1}`);
    assert.deepEqual((got.json.model as { data: { metrics: unknown[] } }).data.metrics, [
      {
        key: 'acc',
        value: 0.9,
        timestamp: 5,
        step: 1,
        model_id: m1,
        run_id,
        dataset_name: 'eval',
        dataset_digest: 'd1',
      },
    ]);
    assert.equal(
      ((await c.get('metrics/get-history', { run_id, metric_key: 'acc' })).json.metrics as unknown[]).length,
      2,
    );
    const search = async (datasets: unknown) =>
      (
        ((await c.post('logged-models/search', { experiment_ids: [exp], datasets })).json.models as
          | Array<{ info: { name: string } }>
          | undefined) ?? []
      )
        .map((m) => m.info.name)
        .sort();
    assert.deepEqual(await search([{ dataset_name: 'eval' }]), ['m1']);
    assert.deepEqual(
      await search([{ dataset_name: 'eval' }, { dataset_name: 'train', dataset_digest: 'd2' }]),
      ['m1', 'm2'],
    );
    assert.deepEqual(await search([{ dataset_name: 'train', dataset_digest: 'other' }]), []);
    assert.deepEqual(await search(undefined), ['m1', 'm2', 'm3']);
    assertBadRequest(
      await c.post('logged-models/search', { experiment_ids: [exp], datasets: [{ dataset_digest: 'd1' }] }),
      'dataset_name',
    );
  });

  test('registering a logged model records {"name", "version": <number>} in mlflow.modelVersions', async () => {
    const exp = await c.newExperiment('model versions tag');
    const { run_id } = await c.newRun(exp);
    const lm = (await c.post('logged-models', { experiment_id: exp, name: 'lm', source_run_id: run_id })).json
      .model as {
      info: { model_id: string };
    };
    const name = `from-logged-${process.pid}-${++counter}`;
    await c.post('registered-models/create', { name });
    const mv = await c.post('model-versions/create', {
      name,
      source: `models:/${lm.info.model_id}`,
      model_id: lm.info.model_id,
    });
    assert.equal(mv.status, 200, mv.text);
    const model = (await c.get(`logged-models/${lm.info.model_id}`)).json.model as {
      info: { tags: Array<{ key: string; value: string }> };
    };
    const tag = model.info.tags.find((t) => t.key === 'mlflow.modelVersions');
    assert.deepEqual(JSON.parse(tag?.value ?? '[]'), [{ name, version: 1 }]);
  });
}
