import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { ERROR_STATUS } from '../../errors.js';
import { type RunningTrackingServer, startTrackingServer } from './start.js';

/** The parts of a JSON schema the request generator reads. */
interface Schema {
  type?: string;
  $ref?: string;
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
}

interface OpenApi {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Array<{ in: string; name: string; required?: boolean; schema?: Schema }>;
        requestBody?: { content?: Record<string, { schema?: Schema }> };
      }
    >
  >;
  components?: { schemas?: Record<string, Schema> };
}

interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
}

describe('the tracking server under random and malformed requests', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tassel-tracking-fuzz-'));
  let server: RunningTrackingServer;
  let routes: Route[] = [];
  let doc: OpenApi;
  const ids: string[] = [];

  before(async () => {
    server = await startTrackingServer({
      backendStoreUri: `sqlite:///${join(dir, 'fuzz.db')}`,
      artifactsDestination: `file://${join(dir, 'artifacts')}`,
      port: 0,
    });
    // every documented route, from the server's own OpenAPI document
    doc = (await server.app.inject({ url: '/openapi.json' })).json() as OpenApi;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        const m = method.toUpperCase();
        if (m === 'GET' || m === 'POST' || m === 'PATCH' || m === 'PUT' || m === 'DELETE') {
          routes.push({ method: m, path });
        }
      }
    }
    // the event stream never ends by design (its own tests read it)
    routes = routes.filter((r) => r.path.startsWith('/api/2.0/') && !r.path.endsWith('/events'));
    // real ids for the random requests to hit: an experiment, a run with data, a registered model
    const post = async (path: string, payload: object) =>
      (await server.app.inject({ method: 'POST', url: `/api/2.0/mlflow/${path}`, payload })).json();
    const exp = (await post('experiments/create', { name: 'fuzz' })) as { experiment_id: string };
    const run = (await post('runs/create', { experiment_id: exp.experiment_id })) as {
      run: { info: { run_id: string } };
    };
    await post('runs/log-batch', {
      run_id: run.run.info.run_id,
      metrics: [{ key: 'auc', value: 0.8, timestamp: 1, step: 0 }],
      params: [{ key: 'lr', value: '0.1' }],
    });
    await post('registered-models/create', { name: 'fuzz-model' });
    ids.push(exp.experiment_id, run.run.info.run_id, 'fuzz-model', 'auc', 'lr', '1', '0');
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every route answers random bodies and queries with a 2xx or an MLflow error body, never a 5xx', async () => {
    assert.ok(routes.length >= 40, `only ${routes.length} routes documented`);
    const tricky = fc.constantFrom(
      '',
      '..',
      '../../etc/passwd',
      'a\u0000b',
      '`',
      "'",
      ' OR 1=1 --',
      '\u2028',
      'x'.repeat(300),
    );
    const scalar = fc.oneof(
      fc.constantFrom(...ids),
      fc.string({ maxLength: 12 }),
      tricky,
      fc.integer(),
      fc.double(),
      fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -1, 0, 1e308, 2 ** 63),
      fc.boolean(),
      fc.constant(null),
    );
    // Values of a schema, mostly of the right type (real ids for id-like fields) so requests get past
    // validation into the stores; sometimes of a wrong type, which must be refused with a 400.
    const arbitraryOf = (schema: Schema, field: string, depth: number): fc.Arbitrary<unknown> => {
      const right = wellTypedOf(schema, field, depth);
      return fc.oneof({ weight: 30, arbitrary: right }, { weight: 1, arbitrary: scalar });
    };
    const wellTypedOf = (schema: Schema, field: string, depth: number): fc.Arbitrary<unknown> => {
      if (schema.$ref) return arbitraryOf(resolve(schema.$ref), field, depth);
      const alternatives = schema.anyOf ?? schema.oneOf;
      if (alternatives) return fc.oneof(...alternatives.map((a) => arbitraryOf(a, field, depth)));
      if (schema.enum) return fc.constantFrom(...schema.enum);
      if (schema.const !== undefined) return fc.constant(schema.const);
      switch (schema.type) {
        case 'object': {
          if (depth > 3) return fc.constant({});
          const entries = Object.entries(schema.properties ?? {}).map(([k, sub]) => {
            const required = schema.required?.includes(k) ?? false;
            // fast-check biases numbers towards their bounds: weights give the odds exactly
            const keep = fc.oneof(
              { weight: required ? 19 : 1, arbitrary: fc.constant(true) },
              { weight: 1, arbitrary: fc.constant(false) },
            );
            return fc
              .tuple(keep, arbitraryOf(sub, k, depth + 1))
              .map(([kept, v]) => (kept ? ([k, v] as const) : null));
          });
          return fc
            .tuple(
              fc.tuple(...entries),
              fc.option(fc.tuple(fc.string({ maxLength: 6 }), scalar), { freq: 10 }),
            )
            .map(([pairs, extra]) => {
              const out: Record<string, unknown> = {};
              for (const p of pairs) if (p !== null) out[p[0]] = p[1];
              if (extra !== null) out[extra[0]] = extra[1];
              return out;
            });
        }
        case 'array':
          return fc.array(schema.items ? arbitraryOf(schema.items, field, depth + 1) : scalar, {
            maxLength: 3,
          });
        case 'integer':
          return fc.oneof(
            fc.integer({ min: -5, max: 2_000_000_000_000 }),
            fc.constantFrom(0, 1, 100, 1000, 5000, -1, 2 ** 53 + 2, 1e20),
          );
        case 'number':
          return fc.oneof(fc.double({ noNaN: true }), fc.constantFrom(0, 0.5, -1e308, 1e308));
        case 'boolean':
          return fc.boolean();
        case 'string':
          return /id$|ids$|name$|key$|version$|alias$/.test(field)
            ? fc.oneof(
                { weight: 4, arbitrary: fc.constantFrom(...ids) },
                { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
                { weight: 1, arbitrary: tricky },
              )
            : fc.oneof(fc.string({ maxLength: 12 }), tricky, fc.constantFrom(...ids));
        default:
          return scalar;
      }
    };
    const resolve = (ref: string): Schema => {
      const key = ref.replace('#/components/schemas/', '');
      return doc.components?.schemas?.[key] ?? {};
    };
    const bodyOf = (route: Route): fc.Arbitrary<unknown> => {
      const op = doc.paths[route.path]![route.method.toLowerCase()]!;
      let well: fc.Arbitrary<unknown>;
      if (route.method === 'GET' || route.method === 'DELETE') {
        const params = (op.parameters ?? []).filter((p) => p.in === 'query');
        well = arbitraryOf(
          {
            type: 'object',
            properties: Object.fromEntries(params.map((p) => [p.name, p.schema ?? {}])),
            required: params.filter((p) => p.required).map((p) => p.name),
          },
          '',
          0,
        );
      } else {
        const schema = op.requestBody?.content?.['application/json']?.schema;
        well = schema ? arbitraryOf(schema, '', 0) : fc.string({ maxLength: 64 });
      }
      return fc.oneof(
        { weight: 16, arbitrary: well },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => v as unknown) },
        // not JSON at all, or poisoned JSON
        {
          weight: 1,
          arbitrary: fc.oneof(
            fc.string({ maxLength: 40 }),
            fc.constantFrom('{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}', '{', '[1,', 'null'),
          ),
        },
      );
    };
    const pathPart = fc.oneof(
      fc.constantFrom(...ids),
      fc.string({ maxLength: 12 }).map(encodeURIComponent),
      fc.constantFrom(
        '..%2F..%2Fetc%2Fpasswd',
        '%2e%2e/x',
        'a/b/c.txt',
        '%00',
        'x%2F..%2F..%2Fy',
        '1/model/MLmodel',
      ),
    );
    const request = fc.integer({ min: 0, max: routes.length - 1 }).chain((i) =>
      fc.tuple(
        fc.constant(routes[i]!),
        bodyOf(routes[i]!),
        pathPart,
        // mostly a JSON content type, as MLflow clients send; sometimes text/plain, which must be refused
        fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      ),
    );

    let requests = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async ([route, payload, part, asJson]) => {
        let url = route.path.replace(/\{[^}]+\}/g, part);
        const init: InjectOptions = { method: route.method, url };
        const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
        if (route.method === 'GET' || route.method === 'DELETE') {
          // GET takes query parameters: lists as repeated keys
          if (payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
            const q = new URLSearchParams();
            for (const [k, v] of Object.entries(payload)) {
              for (const item of Array.isArray(v) ? v : [v])
                q.append(k, typeof item === 'string' ? item : JSON.stringify(item));
            }
            url += `${url.includes('?') ? '&' : '?'}${q}`;
            init.url = url;
          }
          if (route.method === 'DELETE') {
            // MLflow clients send DELETE arguments as a JSON body; the registry reads body and query alike
            init.payload = text;
            init.headers = { 'content-type': asJson ? 'application/json' : 'text/plain' };
          }
        } else if (route.method === 'PUT') {
          init.payload = text;
          init.headers = { 'content-type': 'application/octet-stream' };
        } else {
          init.payload = text;
          init.headers = { 'content-type': asJson ? 'application/json' : 'text/plain' };
        }
        // a request that never answers is a failure too: name it instead of hanging the suite
        let timer: NodeJS.Timeout | undefined;
        const res = await Promise.race([
          server.app.inject(init),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`${route.method} ${url}: no answer in 10 s`)), 10_000);
          }),
        ]).finally(() => clearTimeout(timer));
        requests++;
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        // 501 NOT_IMPLEMENTED is an answer, not a crash: MLflow's own for the multipart artifact endpoints
        const unsupported = res.statusCode === 501 && res.json().error_code === 'NOT_IMPLEMENTED';
        assert.ok(
          res.statusCode < 500 || unsupported,
          `${route.method} ${url} ${String(init.payload)} -> ${res.statusCode} ${res.body}`,
        );
        if (res.statusCode >= 400) {
          const err = res.json() as { error_code: unknown; message: unknown };
          assert.equal(typeof err.message, 'string', res.body);
          assert.ok(
            typeof err.error_code === 'string' && err.error_code in ERROR_STATUS,
            `unknown error code in ${res.body}`,
          );
          assert.ok(!/\bSELECT\b|\bINSERT\b|sqlite|at .*\.ts:\d+/i.test(err.message as string), res.body);
        }
      }),
      { numRuns: 3000 },
    );
    assert.equal(requests, 3000);
    // the generator reaches the handlers: a good share of requests succeed, not only validation errors
    // (about 15 % succeed, a third are unknown ids, half are refused as invalid)
    assert.ok((statuses.get(200) ?? 0) > 300, `statuses: ${JSON.stringify([...statuses])}`);
    const health = await server.app.inject({ url: '/health' });
    assert.equal(health.statusCode, 200);
  });
});
