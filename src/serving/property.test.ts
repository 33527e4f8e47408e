import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { courseCompletionSchema } from '../data/builtin-schemas.js';
import { createServingApp } from './app.js';
import { createModelHolder } from './model-holder.js';
import { trainTestModel } from './testing.js';

// Random and malformed bodies against a real listening service (real GBDT, real transform, real HTTP):
// nothing may produce a 5xx, and the service must still answer afterwards.
describe('serving survives random and malformed input', () => {
  let app: FastifyInstance;
  let base: string;
  let sample: Record<string, unknown>;

  before(async () => {
    const trained = await trainTestModel({ rows: 400, trees: 10 });
    sample = trained.records[0]!;
    app = await createServingApp({
      holder: createModelHolder(trained.served()),
      batchCap: 50,
      bodyLimit: 64 * 1024,
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await app?.close();
  });

  test('2,000+ random bodies: no 5xx, the server stays up', async () => {
    const fieldNames = [
      ...courseCompletionSchema.columns.map((c) => c.name),
      'features',
      'records',
      'unknown_field',
      '__proto__',
      'constructor',
    ];
    const scalar = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.string({ maxLength: 12 }),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom(
        'NaN',
        'Infinity',
        '-1e999',
        '1e999',
        '',
        ' ',
        'Yes',
        'No',
        '31/12/2024',
        '2024-02-30',
        'Male',
        'PhD',
      ),
    );
    const value = fc.oneof(
      { weight: 6, arbitrary: scalar },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    );
    const record = fc.oneof(
      // a valid record with one field changed
      fc.tuple(fc.constantFrom(...fieldNames), value).map(([k, v]) => ({ ...sample, [k]: v })),
      fc.dictionary(fc.constantFrom(...fieldNames), value, { maxKeys: 8 }),
      fc.dictionary(fc.string({ maxLength: 6 }), value, { maxKeys: 4 }),
    );
    const asText = (v: unknown) => JSON.stringify(v) ?? 'null';
    const body = fc.oneof(
      record.map(asText),
      fc.array(record, { maxLength: 60 }).map(asText),
      fc.array(record, { maxLength: 5 }).map((records) => asText({ records })),
      fc
        .record({
          features: fc.array(fc.oneof(fc.double(), fc.constant(null), fc.string({ maxLength: 3 })), {
            maxLength: 300,
          }),
        })
        .map(asText),
      fc
        .record(
          {
            dataframe_split: fc.record({
              columns: fc.array(fc.constantFrom(...fieldNames), { maxLength: 5 }),
              data: fc.array(fc.array(value, { maxLength: 5 }), { maxLength: 5 }),
            }),
            dataframe_records: fc.array(record, { maxLength: 4 }),
            instances: fc.array(fc.oneof(record, fc.array(fc.double(), { maxLength: 4 })), { maxLength: 4 }),
            inputs: fc.oneof(
              fc.array(record, { maxLength: 3 }),
              fc.dictionary(fc.constantFrom(...fieldNames), fc.array(value, { maxLength: 3 }), {
                maxKeys: 3,
              }),
            ),
          },
          { requiredKeys: [] },
        )
        .map(asText),
      fc.jsonValue({ maxDepth: 4 }).map(asText),
      fc.string({ maxLength: 200 }),
      fc.constantFrom(
        '{',
        '[',
        '{"a":',
        'null',
        '""',
        '{"__proto__":{"x":1}}',
        '{"constructor":{"prototype":{}}}',
        '\u0000',
        '1e999',
      ),
    );
    const route = fc.constantFrom('/predict', '/predict', '/predict/batch', '/invocations');
    const contentType = fc.oneof(
      { weight: 8, arbitrary: fc.constant('application/json') },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/json; charset=latin1',
          '',
        ),
      },
    );
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(route, body, contentType, async (path, payload, type) => {
        const headers: Record<string, string> = type ? { 'content-type': type } : {};
        const res = await fetch(base + path, { method: 'POST', headers, body: payload });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        return res.status < 500;
      }),
      { numRuns: 2000, seed: 20261127 },
    );
    // the run exercised both accepted and refused input
    assert.ok((statuses.get(200) ?? 0) > 50, JSON.stringify([...statuses]));
    assert.ok((statuses.get(400) ?? 0) > 500, JSON.stringify([...statuses]));
    const live = await fetch(`${base}/health/live`);
    assert.equal(live.status, 200);
    const ok = await fetch(`${base}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(sample),
    });
    assert.equal(ok.status, 200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.doesNotMatch(metrics, /status="5\d\d"/);
  });
});
