import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRegistryClient } from '../client/registry-client.js';
import { createTrackingClient } from '../client/tracking-client.js';
import { runTrackingStoreContract } from '../store/contract.js';
import { type RunningTrackingServer, startTrackingServer } from './start.js';

/** A PUT with the path sent exactly as given (no client-side normalisation). */
function rawPut(base: string, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = request(
      { host: u.hostname, port: u.port, path, method: 'PUT', headers: { 'content-type': 'text/plain' } },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const dir = mkdtempSync(join(tmpdir(), 'tassel-server-'));
after(() => rmSync(dir, { recursive: true, force: true }));

runTrackingStoreContract('REST client against a running server', async () => {
  const server = await startTrackingServer({
    backendStoreUri: `sqlite:///${join(dir, 'contract.db')}`,
    artifactsDestination: `file://${join(dir, 'contract-artifacts')}`,
    port: 0,
  });
  return {
    store: createTrackingClient({ trackingUri: server.url, maxRetries: 0 }),
    registry: createRegistryClient({ trackingUri: server.url, maxRetries: 0 }),
    close: server.close,
  };
});

describe('tracking server over HTTP', () => {
  let server: RunningTrackingServer;
  const artifactsDir = join(dir, 'artifacts');
  before(async () => {
    server = await startTrackingServer({
      backendStoreUri: `sqlite:///${join(dir, 'server.db')}`,
      artifactsDestination: `file://${artifactsDir}`,
      port: 0,
      app: { maxArtifactBytes: 1024 * 1024, bodyLimit: 256 * 1024 },
    });
  });
  after(() => server.close());

  const call = async (method: string, url: string, body?: unknown, raw?: string) => {
    const r = await server.app.inject({
      method: method as 'GET',
      url,
      ...(raw !== undefined ? { payload: raw, headers: { 'content-type': 'application/json' } } : {}),
      ...(body !== undefined ? { payload: body as object } : {}),
    });
    return {
      status: r.statusCode,
      json: r.body ? JSON.parse(r.body) : undefined,
      headers: r.headers,
      body: r.body,
    };
  };

  test('/openapi.json documents every /api/2.0 route with its methods; /docs serves Swagger UI', async () => {
    const doc = (await call('GET', '/openapi.json')).json as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    assert.equal(doc.openapi, '3.1.0');
    // Every route Fastify registered, from its route tree (prefix nodes carry no methods).
    const routes: Array<{ path: string; methods: string[] }> = [];
    const stack: string[] = [];
    for (const line of server.app.printRoutes({ commonPrefix: false }).split('\n')) {
      const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([^)]*)\))?$/.exec(line);
      if (!m) continue;
      const depth = m[1].length / 4;
      stack.length = depth;
      const path = (stack[depth - 1] ?? '') + m[2];
      stack[depth] = path;
      if (m[3]) routes.push({ path, methods: m[3].split(', ') });
    }
    const api = routes.filter((r) => r.path.startsWith('/api/2.0/'));
    assert.ok(api.length > 50, `expected the whole API, found ${api.length} routes`);
    for (const path of [
      '/api/2.0/mlflow/runs/get',
      '/api/2.0/mlflow/runs/search',
      '/api/2.0/mlflow/registered-models/create',
    ])
      assert.ok(
        api.some((r) => r.path === path),
        path,
      );
    const missing: string[] = [];
    for (const r of api) {
      const documented = doc.paths[r.path.replace(/:(\w+)/g, '{$1}').replace(/\/?\*$/, '/{*}')];
      for (const method of r.methods.filter((m) => m !== 'HEAD'))
        if (!documented?.[method.toLowerCase()]) missing.push(`${method} ${r.path}`);
    }
    assert.deepEqual(missing, []);
    // The documented runs/get response carries the run, outputs included.
    const getRun = doc.paths['/api/2.0/mlflow/runs/get'].get as {
      responses: Record<
        string,
        { content: Record<string, { schema: { properties: { run: { properties: object } } } }> }
      >;
    };
    assert.deepEqual(
      Object.keys(
        getRun.responses['200'].content['application/json'].schema.properties.run.properties,
      ).sort(),
      ['data', 'info', 'inputs', 'outputs'],
    );
    const docs = await server.app.inject({ url: '/docs' });
    assert.equal(docs.statusCode, 200);
    assert.match(docs.body, /swagger/i);
  });

  test('registry DELETEs take their arguments as a JSON body (MLflow clients) or as query parameters, documented', async () => {
    const r = '/api/2.0/mlflow';
    assert.equal((await call('POST', `${r}/registered-models/create`, { name: 'del-args' })).status, 200);
    const run = (await call('POST', `${r}/runs/create`, { experiment_id: '0' })).json.run.info;
    const mv = await call('POST', `${r}/model-versions/create`, {
      name: 'del-args',
      source: `${run.artifact_uri}/model`,
      run_id: run.run_id,
    });
    assert.equal(mv.status, 200, mv.body);
    const aliases = async () =>
      (
        (await call('GET', `${r}/registered-models/get?name=del-args`)).json.registered_model.aliases ?? []
      ).map((a: { alias: string }) => a.alias);
    for (const alias of ['a1', 'a2', 'a3'])
      await call('POST', `${r}/registered-models/alias`, { name: 'del-args', alias, version: '1' });
    // a JSON body, as the mlflow Python client sends it
    assert.equal(
      (await call('DELETE', `${r}/registered-models/alias`, { name: 'del-args', alias: 'a1' })).status,
      200,
    );
    // query parameters, as curl users write it
    assert.equal((await call('DELETE', `${r}/registered-models/alias?name=del-args&alias=a2`)).status, 200);
    assert.deepEqual(await aliases(), ['a3']);
    // a wrong-typed body is refused by the schema and changes nothing
    const bad = await call('DELETE', `${r}/registered-models/alias`, { name: 'del-args', alias: { x: 1 } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error_code, 'INVALID_PARAMETER_VALUE');
    const missing = await call('DELETE', `${r}/registered-models/alias`, { name: 'del-args' });
    assert.equal(missing.status, 400);
    assert.deepEqual(await aliases(), ['a3']);
    // the OpenAPI document names the arguments of every registry DELETE
    const doc = (await call('GET', '/openapi.json')).json as {
      paths: Record<
        string,
        {
          delete?: {
            parameters?: Array<{ name: string; in: string }>;
            requestBody?: { required: boolean; content: Record<string, { schema: { required?: string[] } }> };
          };
        }
      >;
    };
    for (const [path, args] of [
      ['registered-models/delete', ['name', 'reason']],
      ['registered-models/delete-tag', ['name', 'key']],
      ['registered-models/alias', ['name', 'alias', 'reason']],
      ['model-versions/delete', ['name', 'version', 'force', 'reason']],
      ['model-versions/delete-tag', ['name', 'version', 'key']],
    ] as const) {
      const documented = (doc.paths[`${r}/${path}`]?.delete?.parameters ?? [])
        .filter((p) => p.in === 'query')
        .map((p) => p.name);
      assert.deepEqual(documented.sort(), [...args].sort(), path);
      // the same arguments as an optional JSON body whose required fields are listed
      const body = doc.paths[`${r}/${path}`]?.delete?.requestBody;
      assert.equal(body?.required, false, path);
      assert.ok(body?.content['application/json']?.schema.required?.includes('name'), path);
    }
  });

  test('/health and /version answer plain text', async () => {
    const h = await server.app.inject({ url: '/health' });
    assert.equal(h.statusCode, 200);
    assert.equal(h.body, 'OK');
    const v = await server.app.inject({ url: '/version' });
    assert.equal(v.statusCode, 200);
    assert.match(v.body, /^\d+\.\d+\.\d+/);
  });

  test('wire format: experiments and runs field by field, both prefixes', async () => {
    const created = await call('POST', '/api/2.0/mlflow/experiments/create', { name: 'wire' });
    assert.equal(created.status, 200);
    assert.deepEqual(Object.keys(created.json), ['experiment_id']);
    assert.equal(typeof created.json.experiment_id, 'string');
    const expId = created.json.experiment_id;
    const exp = (await call('GET', `/ajax-api/2.0/mlflow/experiments/get?experiment_id=${expId}`)).json
      .experiment;
    assert.deepEqual(Object.keys(exp).sort(), [
      'artifact_location',
      'creation_time',
      'experiment_id',
      'last_update_time',
      'lifecycle_stage',
      'name',
      'tags',
    ]);
    assert.equal(exp.artifact_location, `mlflow-artifacts:/${expId}`);
    assert.ok(Number.isInteger(exp.creation_time) && exp.creation_time > 1.6e12, 'ms timestamp');

    const run = (
      await call('POST', '/api/2.0/mlflow/runs/create', {
        experiment_id: expId,
        start_time: '1700000000000',
        run_name: 'w',
      })
    ).json.run;
    assert.deepEqual(Object.keys(run), ['info', 'data', 'inputs']);
    const info = run.info;
    assert.deepEqual(Object.keys(info).sort(), [
      'artifact_uri',
      'experiment_id',
      'lifecycle_stage',
      'run_id',
      'run_name',
      'run_uuid',
      'start_time',
      'status',
      'user_id',
    ]);
    assert.equal(info.run_uuid, info.run_id);
    assert.equal(info.start_time, 1_700_000_000_000);
    assert.equal(info.experiment_id, expId);
    assert.equal(info.lifecycle_stage, 'active');
    assert.equal(info.artifact_uri, `mlflow-artifacts:/${expId}/${info.run_id}/artifacts`);

    const lb = await call('POST', '/api/2.0/mlflow/runs/log-batch', {
      run_id: info.run_id,
      metrics: [{ key: 'm', value: 1.5, timestamp: 5, step: '3' }],
      params: [{ key: 'p', value: 'v' }],
    });
    assert.equal(lb.status, 200);
    assert.deepEqual(lb.json, {});
    const got = (await call('GET', `/api/2.0/mlflow/runs/get?run_id=${info.run_id}`)).json.run;
    assert.deepEqual(got.data.metrics, [{ key: 'm', value: 1.5, timestamp: 5, step: 3 }]);
    assert.deepEqual(got.data.params, [{ key: 'p', value: 'v' }]);
    await call('POST', '/api/2.0/mlflow/runs/log-batch', {
      run_id: info.run_id,
      metrics: [
        { key: 'n', value: 'NaN', timestamp: 5, step: 0 },
        { key: 'i', value: 'Infinity', timestamp: 5, step: 0 },
      ],
    });
    const special = (await call('GET', `/api/2.0/mlflow/runs/get?run_id=${info.run_id}`)).json.run.data
      .metrics;
    assert.deepEqual(
      special.filter((m: { key: string }) => m.key !== 'm').map((m: { value: unknown }) => m.value),
      ['Infinity', 'NaN'],
    );
    const byUuid = await call('GET', `/api/2.0/mlflow/runs/get?run_uuid=${info.run_id}`);
    assert.equal(byUuid.json.run.info.run_id, info.run_id);

    const upd = (
      await call('POST', '/api/2.0/mlflow/runs/update', {
        run_id: info.run_id,
        status: 'FINISHED',
        end_time: 1_700_000_000_500,
      })
    ).json;
    assert.equal(upd.run_info.status, 'FINISHED');
    assert.equal(upd.run_info.end_time, 1_700_000_000_500);

    for (let i = 0; i < 3; i++) await call('POST', '/api/2.0/mlflow/runs/create', { experiment_id: expId });
    const page = (
      await call('POST', '/api/2.0/mlflow/runs/search', { experiment_ids: [expId], max_results: 2 })
    ).json;
    assert.equal(page.runs.length, 2);
    assert.equal(typeof page.next_page_token, 'string');
    const last = (
      await call('POST', '/api/2.0/mlflow/runs/search', {
        experiment_ids: [expId],
        max_results: 2,
        page_token: page.next_page_token,
      })
    ).json;
    assert.equal(last.runs.length, 2);
    assert.equal(last.next_page_token, undefined);
    // GET with repeated keys for lists.
    const es = await call(
      'GET',
      `/api/2.0/mlflow/experiments/search?max_results=1&order_by=name%20ASC&order_by=experiment_id%20DESC`,
    );
    assert.equal(es.status, 200);
    assert.equal(es.json.experiments.length, 1);
    assert.equal(typeof es.json.next_page_token, 'string');

    const hist = (await call('GET', `/api/2.0/mlflow/metrics/get-history?run_id=${info.run_id}&metric_key=m`))
      .json;
    assert.deepEqual(hist, { metrics: [{ key: 'm', value: 1.5, timestamp: 5, step: 3 }] });
    const bulk = (
      await call(
        'GET',
        `/api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids=${info.run_id}&metric_key=m&max_results=10`,
      )
    ).json;
    assert.deepEqual(bulk, {
      metrics: [{ key: 'm', value: 1.5, timestamp: 5, step: 3, run_id: info.run_id }],
    });
  });

  test('bad input gets the right 4xx and changes nothing', async () => {
    const expId = (await call('POST', '/api/2.0/mlflow/experiments/create', { name: 'bad-input' })).json
      .experiment_id;
    const runId = (await call('POST', '/api/2.0/mlflow/runs/create', { experiment_id: expId })).json.run.info
      .run_id;
    const cases: Array<[string, string, unknown, string | undefined, number, string]> = [
      ['POST', '/api/2.0/mlflow/runs/log-batch', undefined, '{"run_id": ', 400, 'MALFORMED_REQUEST'],
      [
        'POST',
        '/api/2.0/mlflow/runs/log-batch',
        { run_id: runId, metrics: [{ key: 'm', value: 1, timestamp: 'yesterday' }] },
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
      ],
      [
        'POST',
        '/api/2.0/mlflow/runs/log-batch',
        { run_id: runId, params: 'nope' },
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
      ],
      ['POST', '/api/2.0/mlflow/runs/log-batch', { metrics: [] }, undefined, 400, 'INVALID_PARAMETER_VALUE'],
      [
        'POST',
        '/api/2.0/mlflow/runs/log-metric',
        { run_id: runId, key: 'm', value: 'abc', timestamp: 1 },
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
      ],
      [
        'POST',
        '/api/2.0/mlflow/runs/log-batch',
        { run_id: 'f'.repeat(32), params: [{ key: 'a', value: 'b' }] },
        undefined,
        404,
        'RESOURCE_DOES_NOT_EXIST',
      ],
      ['GET', '/api/2.0/mlflow/runs/get?run_id=nope', undefined, undefined, 404, 'RESOURCE_DOES_NOT_EXIST'],
      [
        'POST',
        '/api/2.0/mlflow/experiments/create',
        { name: 'bad-input' },
        undefined,
        400,
        'RESOURCE_ALREADY_EXISTS',
      ],
      [
        'POST',
        '/api/2.0/mlflow/runs/log-batch',
        { run_id: runId, params: [{ key: 'x', value: 'y'.repeat(300 * 1024) }] },
        undefined,
        413,
        'REQUEST_TOO_LARGE',
      ],
      [
        'POST',
        '/api/2.0/mlflow/runs/search',
        { experiment_ids: [expId], max_results: 50_001 },
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
      ],
      [
        'POST',
        '/api/2.0/mlflow/runs/search',
        { experiment_ids: [expId], filter: "params.a = 'x' OR" },
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
      ],
      ['GET', '/api/2.0/mlflow/no/such/endpoint', undefined, undefined, 404, 'ENDPOINT_NOT_FOUND'],
      [
        'GET',
        `/api/2.0/mlflow/artifacts/list?run_id=${runId}&path=../../etc`,
        undefined,
        undefined,
        400,
        'INVALID_PARAMETER_VALUE',
      ],
    ];
    for (const [method, url, body, raw, status, code] of cases) {
      const r = await call(method, url, body, raw);
      assert.equal(r.status, status, `${method} ${url}: ${r.body}`);
      assert.equal(r.json.error_code, code, `${method} ${url}: ${r.body}`);
      assert.equal(typeof r.json.message, 'string');
      assert.doesNotMatch(r.json.message, /SELECT|INSERT|sqlite|at .*\.ts/i);
    }
    const run = (await call('GET', `/api/2.0/mlflow/runs/get?run_id=${runId}`)).json.run;
    assert.deepEqual(run.data.metrics, []);
    assert.deepEqual(run.data.params, []);
  });

  test('artifact proxy: PUT, GET, list, DELETE; traversal and oversized bodies write nothing', async () => {
    const put = await server.app.inject({
      method: 'PUT',
      url: '/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/weights.bin',
      payload: Buffer.from([1, 2, 3, 4]),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(put.statusCode, 200, put.body);
    assert.deepEqual(put.json(), {});
    const got = await server.app.inject({
      url: '/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/weights.bin',
    });
    assert.equal(got.statusCode, 200);
    assert.deepEqual([...got.rawPayload], [1, 2, 3, 4]);
    const list = await server.app.inject({ url: '/api/2.0/mlflow-artifacts/artifacts?path=1/abc/artifacts' });
    assert.deepEqual(list.json(), { files: [{ path: 'model', is_dir: true }] });
    const list2 = await server.app.inject({
      url: '/ajax-api/2.0/mlflow-artifacts/artifacts?path=1/abc/artifacts/model',
    });
    assert.deepEqual(list2.json(), { files: [{ path: 'weights.bin', is_dir: false, file_size: 4 }] });

    const before = readdirSync(artifactsDir, { recursive: true }).sort();
    for (const url of [
      '/api/2.0/mlflow-artifacts/artifacts/%2e%2e/escape.txt',
      '/api/2.0/mlflow-artifacts/artifacts/a/%2E%2E/%2E%2E/escape.txt',
      '/api/2.0/mlflow-artifacts/artifacts/a/nul%00.txt',
      '/api/2.0/mlflow-artifacts/artifacts/a/../../../escape.txt',
    ]) {
      // Over real HTTP: inject() would normalise the path before routing.
      const r = await rawPut(server.url, url, 'x');
      assert.equal(r.status, 400, `${url}: ${r.body}`);
      assert.equal(JSON.parse(r.body).error_code, 'INVALID_PARAMETER_VALUE');
    }
    const big = await server.app.inject({
      method: 'PUT',
      url: '/api/2.0/mlflow-artifacts/artifacts/1/big.bin',
      payload: Buffer.alloc(1024 * 1024 + 1),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().error_code, 'REQUEST_TOO_LARGE');
    assert.deepEqual(readdirSync(artifactsDir, { recursive: true }).sort(), before);
    assert.ok(!existsSync(join(dir, 'escape.txt')));

    const missing = await server.app.inject({ url: '/api/2.0/mlflow-artifacts/artifacts/1/none.txt' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error_code, 'RESOURCE_DOES_NOT_EXIST');
    const del = await server.app.inject({
      method: 'DELETE',
      url: '/api/2.0/mlflow-artifacts/artifacts/1/abc',
    });
    assert.equal(del.statusCode, 200);
    assert.ok(!existsSync(join(artifactsDir, '1', 'abc')));
  });

  test('client uploads and downloads whole directories through the proxy; artifacts/list sees them', async () => {
    const client = createTrackingClient({ trackingUri: server.url });
    const expId = await client.createExperiment({ name: 'client-artifacts' });
    const run = await client.createRun({ experiment_id: expId });
    const src = join(dir, 'src-model');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'MLmodel'), 'flavor: tassel\n');
    writeFileSync(join(src, 'sub', 'weights.json'), JSON.stringify({ w: [1, 2, 3] }));
    await client.logArtifacts(run.info.run_id, src, 'model');
    await client.logArtifactContent(run.info.run_id, 'notes.txt', Buffer.from('hello'));
    const top = await client.listArtifacts(run.info.run_id);
    assert.equal(top.root_uri, run.info.artifact_uri);
    assert.deepEqual(top.files, [
      { path: 'model', is_dir: true },
      { path: 'notes.txt', is_dir: false, file_size: 5 },
    ]);
    const inner = await client.listArtifacts(run.info.run_id, 'model');
    assert.deepEqual(
      inner.files.map((f) => f.path),
      ['model/MLmodel', 'model/sub'],
    );
    const dest = join(dir, 'download');
    const local = await client.downloadArtifacts(run.info.run_id, 'model', dest);
    assert.equal(readFileSync(join(local, 'MLmodel'), 'utf8'), 'flavor: tassel\n');
    assert.deepEqual(JSON.parse(readFileSync(join(local, 'sub', 'weights.json'), 'utf8')), { w: [1, 2, 3] });
    const one = await client.downloadArtifacts(run.info.run_id, 'notes.txt', join(dir, 'one'));
    assert.equal(readFileSync(one, 'utf8'), 'hello');
    // The files sit under the destination at <experiment>/<run>/artifacts as mlflow server lays them out.
    assert.ok(
      existsSync(join(artifactsDir, expId, run.info.run_id, 'artifacts', 'model', 'sub', 'weights.json')),
    );
  });
});
