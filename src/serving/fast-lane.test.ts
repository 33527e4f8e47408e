import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { courseCompletionSchema } from '../data/builtin-schemas.js';
import { createServingApp } from './app.js';
import { createFallbackModel } from './fallback.js';
import { createModelHolder } from './model-holder.js';
import { trainTestModel } from './testing.js';

interface Answer {
  status: number;
  type: string | undefined;
  length: string | undefined;
  body: string;
}

/** POST over a real socket, with full control of the headers (fetch would add its own). */
function post(
  base: string,
  path: string,
  body: string,
  headers: Record<string, string>,
  chunked = false,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, base);
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'],
            length: res.headers['content-length'],
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    if (chunked) {
      // two writes without a Content-Length: Transfer-Encoding: chunked
      const half = Math.floor(body.length / 2);
      req.write(body.slice(0, half));
      req.end(body.slice(half));
    } else {
      req.setHeader('content-length', Buffer.byteLength(body));
      req.end(body);
    }
  });
}

// The fast lane must be invisible: for every body, the listening service (fast lane on) answers with the same
// status, bytes and headers as the Fastify route itself (app.inject never takes the lane), and requests off
// the happy path still run through Fastify.
describe('the /predict fast lane answers exactly as the Fastify route', () => {
  let app: FastifyInstance;
  let base: string;
  let sample: Record<string, unknown>;
  let fastifySaw = 0;

  before(async () => {
    const trained = await trainTestModel({ rows: 400, trees: 10 });
    sample = trained.records[0]!;
    app = await createServingApp({
      holder: createModelHolder(trained.served()),
      bodyLimit: 16 * 1024,
    });
    app.addHook('onRequest', async (request) => {
      if (request.url.split('?')[0] === '/predict') fastifySaw++;
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await app?.close();
  });

  const json = { 'content-type': 'application/json' };
  const viaRoute = async (body: string, headers: Record<string, string> = json): Promise<Answer> => {
    const res = await app.inject({ method: 'POST', url: '/predict', headers, payload: body });
    return {
      status: res.statusCode,
      type: res.headers['content-type'] as string | undefined,
      length: String(res.headers['content-length']),
      body: res.body,
    };
  };

  test('valid records are answered by the lane, not by Fastify, with the route bytes', async () => {
    const before = fastifySaw;
    const body = JSON.stringify(sample);
    const lane = await post(base, '/predict', body, json);
    const route = await viaRoute(body);
    assert.equal(lane.status, 200);
    assert.deepEqual(lane, route);
    // the inject above went through Fastify; the socket request did not
    assert.equal(fastifySaw - before, 1);
    const charset = await post(base, '/predict', body, { 'content-type': 'Application/JSON; charset=UTF-8' });
    assert.deepEqual(charset, route);
    assert.equal(fastifySaw - before, 1);
  });

  test('random and malformed bodies: same status, bytes and headers as the route', async () => {
    const names = [...courseCompletionSchema.columns.map((c) => c.name), 'features', 'unknown', '__proto__'];
    const scalar = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer(),
      fc.string({ maxLength: 8 }),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom('Yes', 'No', '', 'NaN', 'Male', '2024-02-30'),
    );
    const value = fc.oneof(
      { weight: 8, arbitrary: scalar },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
    );
    const record = fc.oneof(
      { weight: 3, arbitrary: fc.constant(sample) },
      {
        weight: 4,
        arbitrary: fc.tuple(fc.constantFrom(...names), value).map(([k, v]) => ({ ...sample, [k]: v })),
      },
      {
        weight: 2,
        arbitrary: fc
          .constantFrom(...names)
          .map((k) => Object.fromEntries(Object.entries(sample).filter(([n]) => n !== k))),
      },
      { weight: 1, arbitrary: fc.dictionary(fc.constantFrom(...names), value, { maxKeys: 5 }) },
    );
    const body = fc.oneof(
      { weight: 8, arbitrary: record.map((r) => JSON.stringify(r)) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null') },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '',
          '{',
          '[]',
          'null',
          '{"__proto__":{"x":1}}',
          '{"constructor":{"prototype":{}}}',
          '{"features":[1,2,3]}',
          '{"__proto__":1}',
          '{"constructor":1}',
          `{"pad":"${'x'.repeat(17 * 1024)}"}`,
          '\uFEFF{}',
        ),
      },
    );
    let lanes = 0;
    let errors = 0;
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const seen = fastifySaw;
        const lane = await post(base, '/predict', text, json);
        const route = await viaRoute(text);
        if (fastifySaw - seen === 1) lanes++;
        if (lane.status !== 200) errors++;
        assert.deepEqual(lane, route);
      }),
      { numRuns: 600, seed: 1127 },
    );
    // both the lane and the replay through Fastify were exercised
    assert.ok(lanes > 100, `${lanes} answered by the lane`);
    assert.ok(errors > 50, `${errors} refused`);
  });

  test('?explain=true (or 1, with top) is answered by the lane with the route bytes; other views by the route', async () => {
    const body = JSON.stringify(sample);
    for (const path of ['/predict?explain=true', '/predict?explain=1&top=3', '/predict?top=0&explain=true']) {
      const before = fastifySaw;
      const lane = await post(base, path, body, json);
      const res = await app.inject({ method: 'POST', url: path, headers: json, payload: body });
      assert.equal(lane.status, 200, path);
      assert.equal(lane.body, res.body, path);
      assert.equal(lane.type, res.headers['content-type']);
      assert.equal(lane.length, String(res.headers['content-length']));
      assert.equal(fastifySaw - before, 1, `${path}: only the inject went through Fastify`);
    }
    for (const path of ['/predict?explain=encoded', '/predict?explain=true&top=abc', '/predict?explain=0']) {
      const before = fastifySaw;
      const lane = await post(base, path, body, json);
      const res = await app.inject({ method: 'POST', url: path, headers: json, payload: body });
      assert.equal(lane.status, res.statusCode, path);
      assert.equal(lane.body, res.body, path);
      assert.equal(fastifySaw - before, 2, `${path}: both went through Fastify`);
    }
    // an invalid record on an explained URL is replayed through the route with its query string
    const bad = await post(base, '/predict?explain=true', '{"nope":1}', json);
    const badRoute = await app.inject({
      method: 'POST',
      url: '/predict?explain=true',
      headers: json,
      payload: '{"nope":1}',
    });
    assert.equal(bad.status, badRoute.statusCode);
    assert.equal(bad.body, badRoute.body);
  });

  test('requests the lane does not take reach the route unchanged', async () => {
    const body = JSON.stringify(sample);
    const cases: Array<[string, Record<string, string>, boolean]> = [
      ['/predict?x=1', json, false],
      ['/predict', { 'content-type': 'text/plain' }, false],
      ['/predict', { 'content-type': 'application/json; charset=latin1' }, false],
      ['/predict', json, true],
    ];
    for (const [path, headers, chunked] of cases) {
      const seen = fastifySaw;
      const lane = await post(base, path, body, headers, chunked);
      const res = await app.inject({ method: 'POST', url: path, headers, payload: body });
      assert.equal(lane.status, res.statusCode, `${path} ${JSON.stringify(headers)} chunked=${chunked}`);
      assert.equal(lane.body, res.body);
      assert.equal(fastifySaw - seen, 2, 'both went through Fastify');
    }
  });

  test('the lane records the same request and prediction metrics as the route', async () => {
    const metric = async (pattern: RegExp) => {
      const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      const m = text.match(pattern);
      return m ? Number(m[1]) : 0;
    };
    const ok = /tassel_serving_requests_total\{route="\/predict",method="POST",status="200"\} (\d+)/;
    const bad = /tassel_serving_requests_total\{route="\/predict",method="POST",status="400"\} (\d+)/;
    const count =
      /tassel_serving_request_duration_seconds_count\{route="\/predict",method="POST",status="200"\} (\d+)/;
    const predictions = async () =>
      (await metric(/tassel_serving_predictions_total\{label="0",fallback="false"\} (\d+)/)) +
      (await metric(/tassel_serving_predictions_total\{label="1",fallback="false"\} (\d+)/));
    const [ok0, bad0, count0, p0] = [
      await metric(ok),
      await metric(bad),
      await metric(count),
      await predictions(),
    ];
    for (let i = 0; i < 5; i++) await post(base, '/predict', JSON.stringify(sample), json);
    await post(base, '/predict', JSON.stringify({ ...sample, unknown: 1 }), json);
    assert.equal((await metric(ok)) - ok0, 5);
    assert.equal((await metric(count)) - count0, 5);
    assert.equal((await metric(bad)) - bad0, 1);
    assert.equal((await predictions()) - p0, 5);
  });
});

// The lane spells the part after the label once per served model: it must still match the route byte for byte
// for every identity the registry can give (versions, run ids, names needing escapes), for a non-default
// threshold, and for the fallback prior model, whose model object carries a reason - and after a swap.
describe('the fast lane matches the route for every served model', () => {
  test('registered identities, thresholds, the fallback model, and a swap between them', async () => {
    const trained = await trainTestModel({ rows: 300, trees: 5 });
    const record = JSON.stringify(trained.records[0]);
    const registered = trained.served({
      name: 'course "completion" \u00e9\u2028',
      version: '12',
      runId: 'abc123',
    });
    const fallback = createFallbackModel({
      reason: 'registry unreachable: "connect ECONNREFUSED"',
      prior: 0.3125,
      identity: {
        name: 'course-completion',
        version: '3',
        runId: null,
        uri: 'models:/course-completion@production',
      },
      threshold: 0.25,
      schema: courseCompletionSchema,
    });
    const holder = createModelHolder(registered);
    const app = await createServingApp({ holder });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const json = { 'content-type': 'application/json' };
    try {
      const seen = new Set<string>();
      for (const model of [registered, fallback, registered]) {
        holder.swap(model);
        const lane = await post(base, '/predict', record, json);
        const res = await app.inject({ method: 'POST', url: '/predict', headers: json, payload: record });
        assert.equal(lane.status, 200);
        assert.equal(lane.body, res.body);
        assert.equal(lane.length, res.headers['content-length']);
        const answer = JSON.parse(lane.body);
        assert.equal(answer.model.name, model.identity.name);
        assert.equal(answer.model.fallback, model.fallback);
        seen.add(lane.body);
      }
      const degraded = JSON.parse([...seen][1]!);
      assert.deepEqual(degraded, {
        probability: 0.3125,
        label: 1,
        threshold: 0.25,
        model: {
          name: 'course-completion',
          version: '3',
          run_id: null,
          fallback: true,
          reason: 'registry unreachable: "connect ECONNREFUSED"',
        },
      });
    } finally {
      await app.close();
    }
  });
});

describe('the fast lane can be turned off', () => {
  test('fastLane: false sends /predict through Fastify', async () => {
    const trained = await trainTestModel({ rows: 200, trees: 3 });
    const app = await createServingApp({ holder: createModelHolder(trained.served()), fastLane: false });
    let saw = 0;
    app.addHook('onRequest', async () => {
      saw++;
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const res = await post(base, '/predict', JSON.stringify(trained.records[0]), {
        'content-type': 'application/json',
      });
      assert.equal(res.status, 200);
      assert.equal(saw, 1);
    } finally {
      await app.close();
    }
  });
});
