import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { RawRecord } from '../data/table.js';
import { createServingApp } from './app.js';
import { createServingMetrics } from './metrics.js';
import { createModelHolder } from './model-holder.js';
import { createLocalPredictionStore } from './prediction-sink/local/local-prediction-store.js';
import type { PredictionRecord, PredictionSink, PredictionStore } from './prediction-sink/port.js';
import { createPredictionSink } from './prediction-sink/sink.js';
import { postOverSocket, type TrainedTestModel, trainTestModel } from './testing.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** POST over a real socket (so the fast lane answers), giving status, x-request-id and the parsed body. */
async function postSocket(base: string, body: string, headers: Record<string, string> = {}) {
  const r = await postOverSocket(base, '/predict', body, headers);
  return {
    status: r.status,
    id: r.headers['x-request-id'] as string | undefined,
    date: r.headers.date as string | undefined,
    body: JSON.parse(r.text) as Record<string, unknown>,
  };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('prediction log and ground truth through the serving app', () => {
  let trained: TrainedTestModel;
  let dir: string;
  let sink: PredictionSink;
  let app: FastifyInstance;
  let base: string;
  let records: RawRecord[];

  before(async () => {
    // without the date column the model has a record scanner: the lane's predictions are logged as compact rows
    trained = await trainTestModel({ rows: 400, trees: 10, dropColumns: ['Enrollment_Date'] });
    records = trained.records;
    dir = await mkdtemp(join(tmpdir(), 'tassel-predlogging-'));
    sink = createPredictionSink({ store: createLocalPredictionStore({ dir }), flushIntervalMs: 50 });
    app = await createServingApp({ holder: createModelHolder(trained.served()), predictionSink: sink });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await app?.close();
    await sink?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('x-request-id: echoed when sent, a UUID otherwise, on the fast lane, the route, errors and 404s', async () => {
    const body = JSON.stringify(records[0]);
    const echoed = await postSocket(base, body, { 'x-request-id': 'trace-abc.123' });
    assert.equal(echoed.status, 200);
    assert.equal(echoed.id, 'trace-abc.123');
    const generated = await postSocket(base, body);
    assert.match(generated.id!, UUID);
    // an unusable id (spaces, too long) is replaced, never echoed
    assert.match((await postSocket(base, body, { 'x-request-id': 'a b' })).id!, UUID);
    assert.match((await postSocket(base, body, { 'x-request-id': 'x'.repeat(201) })).id!, UUID);
    // off the happy path the lane replays through Fastify, keeping the id
    const refused = await postSocket(base, JSON.stringify({ ...records[0], Age: 'old' }), {
      'x-request-id': 'r-400',
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.id, 'r-400');
    for (const [method, url] of [
      ['POST', '/predict/batch'],
      ['GET', '/model'],
      ['GET', '/nope'],
    ] as const) {
      const res = await app.inject({
        method,
        url,
        headers: { 'x-request-id': `id-${url}` },
        ...(method === 'POST' ? { payload: [records[1]] } : {}),
      });
      assert.equal(res.headers['x-request-id'], `id-${url}`, `${method} ${url}`);
      assert.match(
        String(
          (await app.inject({ method, url, ...(method === 'POST' ? { payload: [records[1]] } : {}) }))
            .headers['x-request-id'],
        ),
        UUID,
      );
    }
  });

  test('every prediction is logged with its request id, raw inputs, probability and label', async () => {
    const lane = await postSocket(base, JSON.stringify(records[2]), { 'x-request-id': 'lane-1' });
    // without an id the lane makes one, which the log writes from the bytes it was made from
    const unnamed = await postSocket(base, JSON.stringify(records[7]));
    const route = await app.inject({
      method: 'POST',
      url: '/predict',
      headers: { 'x-request-id': 'route-1' },
      payload: records[3],
    });
    const batch = await app.inject({
      method: 'POST',
      url: '/predict/batch',
      headers: { 'x-request-id': 'batch-1' },
      payload: { records: [records[4], records[5]] },
    });
    const mlflow = await app.inject({
      method: 'POST',
      url: '/invocations',
      headers: { 'x-request-id': 'inv-1' },
      payload: { dataframe_records: [records[6]] },
    });
    await sink.flush();
    const logged = new Map<string, PredictionRecord>();
    for await (const r of sink.readPredictions({ modelName: 'course-completion', modelVersion: '1' })) {
      logged.set(r.request_id, r);
    }
    const expect = (
      id: string,
      inputs: RawRecord,
      answer: { probability: number; label: number },
      route: string,
    ) => {
      const r = logged.get(id);
      assert.ok(r, `${id} logged`);
      assert.deepEqual(r.inputs, inputs);
      assert.deepEqual(Object.keys(r.inputs), Object.keys(inputs), `${id}: keys in the order sent`);
      assert.equal(r.probability, answer.probability);
      assert.equal(r.label, answer.label);
      assert.equal(r.route, route);
      assert.equal(r.model_version, '1');
      assert.ok(Math.abs(Date.parse(r.time) - Date.now()) < 60_000);
    };
    expect('lane-1', records[2]!, lane.body as never, '/predict');
    expect(unnamed.id!, records[7]!, unnamed.body as never, '/predict');
    // the wire lane reads the clock once a request: the logged time is in the second its Date header gives
    for (const [id, answer] of [
      ['lane-1', lane],
      [unnamed.id!, unnamed],
    ] as const) {
      assert.equal(Math.floor(Date.parse(logged.get(id)!.time) / 1000), Date.parse(answer.date!) / 1000, id);
    }
    expect('route-1', records[3]!, route.json(), '/predict');
    expect('batch-1/0', records[4]!, batch.json().predictions[0], '/predict/batch');
    expect('batch-1/1', records[5]!, batch.json().predictions[1], '/predict/batch');
    expect('inv-1/0', records[6]!, mlflow.json().predictions[0], '/invocations');
    // the lane's record scanner read its body: logged as a compact row (values only) after its shape line
    const segments = (await readdir(join(dir, 'predictions'))).filter((n) => n.endsWith('.jsonl'));
    const text = (await Promise.all(segments.map((n) => readFile(join(dir, 'predictions', n), 'utf8')))).join(
      '',
    );
    const row = text.split('\n').find((l) => l.startsWith('[') && l.includes('"lane-1"'));
    assert.ok(row, 'a compact row for lane-1');
    assert.ok(text.indexOf('{"shape"') < text.indexOf(row));
  });

  test('a batch body with non-ASCII text (or invalid UTF-8) logs each row as the route parsed it', async () => {
    const field = Object.keys(records[9]!).find((k) => typeof records[9]![k] === 'string')!;
    const accented = { ...records[9]!, [field]: 'Île-de-France ✓ 東京' };
    const bodies = [
      { id: 'utf8-1', payload: JSON.stringify({ records: [records[10], accented] }) },
      // a lone 0xff byte decodes to one U+FFFD: as many chars as bytes, yet not ASCII
      {
        id: 'utf8-2',
        payload: Buffer.concat(
          JSON.stringify({ records: [records[10], { ...records[9]!, [field]: 'x@@' }] })
            .split('@@')
            .flatMap((part, k) => (k === 0 ? [Buffer.from(part), Buffer.from([0xff])] : [Buffer.from(part)])),
        ),
      },
    ];
    const answers: { predictions: { probability: number }[] }[] = [];
    for (const { id, payload } of bodies) {
      const res = await app.inject({
        method: 'POST',
        url: '/predict/batch',
        headers: { 'x-request-id': id, 'content-type': 'application/json' },
        payload,
      });
      assert.equal(res.statusCode, 200, res.body);
      answers.push(res.json());
    }
    await sink.flush();
    const logged = new Map<string, PredictionRecord>();
    for await (const r of sink.readPredictions({ modelName: 'course-completion' }))
      logged.set(r.request_id, r);
    assert.deepEqual(logged.get('utf8-1/0')?.inputs, records[10]);
    assert.deepEqual(logged.get('utf8-1/1')?.inputs, accented);
    assert.deepEqual(logged.get('utf8-2/1')?.inputs, { ...records[9]!, [field]: 'x\uFFFD' });
    assert.equal(logged.get('utf8-1/1')?.probability, answers[0]!.predictions[1]!.probability);
  });

  test('POST /feedback: attached, duplicate, corrected, unknown reported, entity ids, bad input is a 400', async () => {
    await postSocket(base, JSON.stringify(records[7]), { 'x-request-id': 'fb-1' });
    const student = String(records[8]!.Student_ID);
    await postSocket(base, JSON.stringify(records[8]));
    const post = (payload: unknown) =>
      app.inject({ method: 'POST', url: '/feedback', payload: payload as object });
    const first = await post({
      outcomes: [
        { request_id: 'fb-1', outcome: 1 },
        { request_id: 'never-served', outcome: 0 },
        { entity_id: student, outcome: true },
        { entity_id: 'S-nobody', outcome: 0 },
      ],
    });
    assert.equal(first.statusCode, 200, first.body);
    assert.deepEqual(first.json(), {
      results: [
        { request_id: 'fb-1', status: 'attached' },
        { request_id: 'never-served', status: 'unknown' },
        { entity_id: student, status: 'attached' },
        { entity_id: 'S-nobody', status: 'unknown' },
      ],
      attached: 2,
      updated: 0,
      duplicate: 0,
      unknown: 2,
    });
    const again = await post({
      outcomes: [
        { request_id: 'fb-1', outcome: 1 },
        { request_id: 'fb-1', outcome: 0 },
      ],
    });
    assert.deepEqual(
      again.json().results.map((r: { status: string }) => r.status),
      ['duplicate', 'updated'],
    );
    const stored = await collect(sink.readOutcomes());
    assert.deepEqual(
      stored.map((o) => [o.request_id ?? `${o.entity_field}=${o.entity_id}`, o.outcome]),
      [
        ['fb-1', 1],
        [`Student_ID=${student}`, 1],
        ['fb-1', 0],
      ],
    );
    for (const bad of [
      { outcomes: [{ request_id: 'fb-1', entity_id: 'S1', outcome: 1 }] },
      { outcomes: [{ outcome: 1 }] },
      { outcomes: [{ request_id: 'fb-1', outcome: 2 }] },
      { outcomes: [] },
      { outcomes: [{ request_id: 'fb-1', outcome: 1, extra: 1 }] },
    ]) {
      const res = await post(bad);
      assert.equal(res.statusCode, 400, JSON.stringify(bad));
      assert.equal(res.json().error_code, 'INVALID_PARAMETER_VALUE', res.body);
    }
  });

  test('late labels: a restarted service attaches outcomes to predictions logged before', async () => {
    await postSocket(base, JSON.stringify(records[9]), { 'x-request-id': 'before-restart' });
    await sink.flush();
    const reopened = createPredictionSink({ store: createLocalPredictionStore({ dir }) });
    const other = await createServingApp({
      holder: createModelHolder(trained.served()),
      predictionSink: reopened,
    });
    try {
      const res = await other.inject({
        method: 'POST',
        url: '/feedback',
        payload: {
          outcomes: [
            { request_id: 'before-restart', outcome: 0 },
            { request_id: 'fb-1', outcome: 0 },
          ],
        },
      });
      assert.deepEqual(
        res.json().results.map((r: { status: string }) => r.status),
        ['attached', 'duplicate'],
      );
    } finally {
      await other.close();
      await reopened.close();
    }
  });
});

test('POST /feedback without a prediction log is a 501 naming the flag', async () => {
  const trained = await trainTestModel({ rows: 200, trees: 3 });
  const app = await createServingApp({ holder: createModelHolder(trained.served()) });
  try {
    const res = await app.inject({
      method: 'POST',
      url: '/feedback',
      payload: { outcomes: [{ request_id: 'x', outcome: 1 }] },
    });
    assert.equal(res.statusCode, 501);
    assert.equal(res.json().error_code, 'NOT_IMPLEMENTED');
    assert.match(res.json().message, /--prediction-log/);
  } finally {
    await app.close();
  }
});

test('backpressure: a store that cannot keep up never slows a request; drops are counted in /metrics', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tassel-predlog-slow-'));
  const real = createLocalPredictionStore({ dir });
  // a disk that stalls: writes wait until released (the store is real, only its writes are held back)
  let release!: () => void;
  const stalled = new Promise<void>((r) => (release = r));
  const slow: PredictionStore = {
    ...real,
    async appendPredictions(batch) {
      await stalled;
      await real.appendPredictions(batch);
    },
    // the sink writes the local store's encoded chunks: those writes stall too
    encoding: {
      encode: real.encoding!.encode,
      async append(chunks) {
        await stalled;
        await real.encoding!.append(chunks);
      },
    },
  };
  const metrics = createServingMetrics();
  const sink = createPredictionSink({
    store: slow,
    maxQueue: 5,
    flushIntervalMs: 10,
    onDrop: (n) => metrics.countPredictionLogDropped(n),
  });
  const trained = await trainTestModel({ rows: 200, trees: 3 });
  const app = await createServingApp({
    holder: createModelHolder(trained.served()),
    metrics,
    predictionSink: sink,
  });
  try {
    // the first write takes what is queued and stalls; then the queue fills to 5 and the rest are dropped
    await app.inject({ method: 'POST', url: '/predict', payload: trained.records[0] });
    await new Promise((r) => setTimeout(r, 50));
    const answered: number[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await app.inject({ method: 'POST', url: '/predict', payload: trained.records[i % 10] });
      answered.push(res.statusCode);
    }
    assert.deepEqual(new Set(answered), new Set([200]));
    assert.deepEqual(sink.stats, { written: 0, dropped: 15, queued: 5 });
    const text = await (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(text, /^tassel_serving_prediction_log_dropped_total 15$/m);
    release();
    await sink.flush();
    assert.deepEqual(sink.stats, { written: 6, dropped: 15, queued: 0 });
    assert.equal((await collect(sink.readPredictions({ modelName: 'course-completion' }))).length, 6);
  } finally {
    release();
    await app.close();
    await sink.close();
    await rm(dir, { recursive: true, force: true });
  }
});
