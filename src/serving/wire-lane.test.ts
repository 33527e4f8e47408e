import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { createServingApp, type ServingAppOptions } from './app.js';
import { createModelHolder } from './model-holder.js';
import { createLocalPredictionStore } from './prediction-sink/local/local-prediction-store.js';
import { createPredictionSink } from './prediction-sink/sink.js';
import { type TrainedTestModel, trainTestModel } from './testing.js';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const BODY_LIMIT = 16 * 1024;

/** A listening app, and how many requests node:http parsed (the wire lane's answers are not among them). */
interface Served {
  app: FastifyInstance;
  port: number;
  nodeRequests(): number;
}

async function serve(
  trained: TrainedTestModel,
  options: Partial<ServingAppOptions> = {},
  setup: (app: FastifyInstance) => void = () => {},
): Promise<Served> {
  const app = await createServingApp({
    holder: createModelHolder(trained.served()),
    bodyLimit: BODY_LIMIT,
    ...options,
  });
  setup(app);
  let seen = 0;
  app.server.on('request', () => seen++);
  const url = new URL(await app.listen({ port: 0, host: '127.0.0.1' }));
  return { app, port: Number(url.port), nodeRequests: () => seen };
}

/** One HTTP response as read off the wire: its bytes, and its status. */
interface WireResponse {
  status: number;
  bytes: string;
}

/**
 * Splits a byte stream into HTTP/1.1 responses (status line, headers, Content-Length body); the incomplete tail,
 * if any, is returned as `rest`.
 */
function splitResponses(text: string): { responses: WireResponse[]; rest: string } {
  const responses: WireResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd < 0) break;
    const head = text.slice(at, headEnd);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    const end = headEnd + 4 + (length ? Number(length[1]) : 0);
    if (end > text.length) break;
    responses.push({ status: Number(head.slice(9, 12)), bytes: text.slice(at, end) });
    at = end;
  }
  return { responses, rest: text.slice(at) };
}

/**
 * Writes `chunks` to a new connection (a pause between them, so they tend to arrive as separate reads), then
 * `final` once all earlier requests are answered, and reads until `expected` final responses came (`final`'s
 * included), the server closed, or `quietMs` passed without a byte (long: on a loaded machine an answer can take
 * hundreds of ms, and a run where both sides answer never waits for it). Why `final` waits: after a request node:http
 * refuses (a parse error), it closes the connection at once, and whether the answers of the requests before it
 * were written by then depends on how the bytes were split into reads, in node:http itself.
 */
function exchange(
  port: number,
  chunks: Buffer[],
  expected: number,
  final: Buffer | null = null,
  quietMs = 1500,
  gapMs = 2,
): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let text = '';
    let done = false;
    let sentFinal = final === null;
    let timer = setTimeout(() => finish(), quietMs);
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(text);
    };
    const answered = () => splitResponses(text).responses.filter((r) => r.status >= 200).length;
    const sendFinal = () => {
      if (sentFinal || answered() < expected - 1) return;
      sentFinal = true;
      socket.write(final!);
    };
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      clearTimeout(timer);
      timer = setTimeout(() => finish(), quietMs);
      if (answered() >= expected) finish();
      else sendFinal();
    });
    socket.on('close', finish);
    socket.on('error', () => {});
    socket.on('connect', async () => {
      for (const [i, chunk] of chunks.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, gapMs));
        if (!socket.destroyed) socket.write(chunk);
      }
      if (!socket.destroyed) sendFinal();
    });
  });
}

/** The Date values and generated request ids (UUIDs) made equal, as they cannot be compared. */
const normalize = (text: string) =>
  text.replace(/\r\nDate: [^\r]*\r\n/g, '\r\nDate: -\r\n').replace(UUID, '<uuid>');

function predictRequest(body: string, extra = '', path = '/predict'): string {
  return (
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`
  );
}

describe('the wire lane answers exactly as node:http and the fast lane', () => {
  let trained: TrainedTestModel;
  let on: Served;
  let off: Served;
  let record: string;

  before(async () => {
    trained = await trainTestModel({ rows: 300, trees: 5 });
    record = JSON.stringify(trained.records[0]);
    on = await serve(trained);
    off = await serve(trained, { wireLane: false });
  });
  after(async () => {
    await on?.app.close();
    await off?.app.close();
  });

  test('the same bytes but the Date, for plain and explained /predict, with and without a request id', async () => {
    const requests = [
      predictRequest(record, 'x-request-id: trace-1\r\n'),
      predictRequest(record),
      predictRequest(record, 'X-Request-ID: a b\r\n'),
      predictRequest(record, 'x-request-id: e-1\r\n', '/predict?explain=true&top=3'),
      predictRequest(record.replace(/}$/, ',"Age":"old"}'), 'x-request-id: bad-1\r\n'),
    ];
    const onBefore = on.nodeRequests();
    const offBefore = off.nodeRequests();
    for (const request of requests) {
      const [a, b] = await Promise.all([
        exchange(on.port, [Buffer.from(request)], 1),
        exchange(off.port, [Buffer.from(request)], 1),
      ]);
      assert.match(a, /^HTTP\/1\.1 (200|400) /);
      assert.equal(normalize(a), normalize(b));
      if (!request.includes('bad-1')) {
        // byte for byte, Date's value aside: the status line, header order and case, Keep-Alive, body
        assert.match(
          a,
          /^HTTP\/1\.1 200 OK\r\nx-request-id: [^\r]+\r\ncontent-type: application\/json; charset=utf-8\r\ncontent-length: \d+\r\nDate: [^\r]+ GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=72\r\n\r\n\{/,
        );
      }
    }
    // the four happy-path requests never reached node:http's parser; the invalid one did (the route answered)
    assert.equal(on.nodeRequests() - onBefore, 1);
    assert.equal(off.nodeRequests() - offBefore, 5);
  });

  test('pipelined requests split at random bytes: the same responses as node:http (property)', async () => {
    const records = trained.records.slice(0, 5).map((r) => JSON.stringify(r));
    const caseOf = (name: string, how: number) =>
      how === 0 ? name.toLowerCase() : how === 1 ? name.toUpperCase() : name;
    const header = fc.tuple(
      fc.constantFrom(
        ['Accept', '*/*'],
        ['User-Agent', 'wrk'],
        ['X-Trace', 'a\tb c'],
        ['Keep-Alive', 'timeout=5'],
        ['Connection', 'keep-alive'],
        ['Connection', 'Keep-Alive'],
        ['X-Request-Id', 'req-7'],
        ['X-Request-Id', 'not ok'],
        ['Accept-Encoding', ''],
      ),
      fc.integer({ min: 0, max: 2 }),
      fc.constantFrom(' ', '', '  ', '\t'),
    );
    const body = fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...records) },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          '{',
          '',
          '[]',
          '{"features":[1,2]}',
          '{"__proto__":1}',
          records[0]!.replace(/}$/, ',"unknown":1}'),
          records[1]!.replace(/^\{/, '{"Age":"old",'),
        ),
      },
    );
    /** Mostly `usual`, sometimes one of `others`. */
    const mostly = (usual: string, ...others: string[]) =>
      fc.oneof(
        { weight: 8, arbitrary: fc.constant(usual) },
        { weight: 2, arbitrary: fc.constantFrom(...others) },
      );
    const contentType = mostly(
      'application/json',
      'Application/JSON; charset=UTF-8',
      'text/plain',
      'application/json; charset=latin1',
    );
    const path = mostly('/predict', '/predict?explain=1', '/predict?x=1', '/predict/');
    /** A request that leaves the connection open (whoever answers it). */
    const keepAlive = fc.oneof(
      {
        weight: 6,
        arbitrary: fc
          .record({
            body,
            path,
            contentType,
            extra: fc.array(header, { maxLength: 4 }),
            order: fc.integer({ min: 0, max: 5 }),
            cases: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3, maxLength: 3 }),
            big: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
          })
          .map(({ body, path, contentType, extra, order, cases, big }) => {
            const lines = [
              `${caseOf('Host', cases[0]!)}: 127.0.0.1`,
              `${caseOf('Content-Type', cases[1]!)}: ${contentType}`,
              `${caseOf('Content-Length', cases[2]!)}: ${Buffer.byteLength(body)}`,
              ...extra.map(([[name, value], how, ows]) => `${caseOf(name!, how)}:${ows}${value}`),
              ...(big ? [`X-Pad: ${'p'.repeat(9000)}`] : []),
            ];
            const rotated = [...lines.slice(order % lines.length), ...lines.slice(0, order % lines.length)];
            return `POST ${path} HTTP/1.1\r\n${rotated.join('\r\n')}\r\n\r\n${body}`;
          }),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n',
          'GET /predict HTTP/1.1\r\nHost: x\r\n\r\n',
          'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n',
          `POST /predict/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${records[0]!.length + 14}\r\n\r\n{"records":[${records[0]}]}`,
          `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 0${records[0]!.length}\r\n\r\n${records[0]}`,
          `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${records[0]!.length.toString(16)}\r\n${records[0]}\r\n0\r\n\r\n`,
        ),
      },
    );
    const valid = predictRequest(records[2]!);
    const at = (marker: string, insert: string) => valid.replace(marker, insert + marker);
    /** A request after which node:http may close the connection (so it comes last). */
    const last = fc.constantFrom(
      at('Content-Length', 'Transfer-Encoding: chunked\r\n'),
      at('Content-Length', 'Content-Length: 3\r\n'),
      at('Content-Length', `Content-Length: ${Buffer.byteLength(records[2]!)}\r\n`),
      at('Content-Length', 'X-Fold: a\r\n b\r\n'),
      valid.replace('Host: 127.0.0.1\r\n', 'Host: 127.0.0.1\n'),
      at('Content-Length', 'X-Nul: a\u0000b\r\n'),
      at('Content-Length', 'X-Name: caf\u00e9\r\n'),
      valid.replace('HTTP/1.1', 'HTTP/1.0'),
      at('Content-Length', 'Connection: close\r\n'),
      at('Content-Length', 'Expect: 100-continue\r\n'),
      at('Content-Length', 'Expect: nothing\r\n'),
      at('Content-Length', 'Upgrade: websocket\r\nConnection: Upgrade\r\n'),
      at('Content-Length', 'Proxy-Connection: close\r\n'),
      at('Content-Length', 'X-Trailing: a \r\n'),
      at('Content-Length', 'X-Space : a\r\n'),
      at('Content-Length', `X-Huge: ${'h'.repeat(17 * 1024)}\r\n`),
      valid.replace('Host: 127.0.0.1\r\n', ''),
      valid.replace('POST', 'post'),
      predictRequest(`{"pad":"${'x'.repeat(BODY_LIMIT)}"}`),
      valid.replace(/Content-Length: \d+/, 'Content-Length: +5'),
      at('Content-Length', 'Host: other\r\n'),
      at('Content-Length', 'Content-Type: text/plain\r\n'),
      valid.replace('Content-Type: application/json\r\n', ''),
      valid.replace('Content-Length:', 'Content-Length :'),
      valid.replace('POST /predict HTTP/1.1', 'POST  /predict HTTP/1.1'),
      valid.replace('POST /predict HTTP/1.1', 'POST http://127.0.0.1/predict HTTP/1.1'),
    );
    const stream = fc
      .tuple(
        fc.array(keepAlive, { minLength: 1, maxLength: 5 }),
        fc.option(last, { freq: 3 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
        fc.integer({ min: 0, max: 2 }).map((n) => n > 0),
      )
      .map(([all, final, cuts, atBoundaries]) => {
        const bytes = Buffer.from(all.join(''), 'latin1');
        const bounds = atBoundaries
          ? all.map((_, i) => Buffer.byteLength(all.slice(0, i + 1).join(''), 'latin1'))
          : cuts.map((c) => Math.floor(c * bytes.length));
        const points = [...new Set(bounds)].filter((p) => p > 0 && p < bytes.length).sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let from = 0;
        for (const p of [...points, bytes.length]) {
          chunks.push(bytes.subarray(from, p));
          from = p;
        }
        const last = final === null ? null : Buffer.from(final, 'latin1');
        return { chunks, last, count: all.length + (final === null ? 0 : 1) };
      });
    let laneAnswers = 0;
    let handedOver = 0;
    await fc.assert(
      fc.asyncProperty(stream, async ({ chunks, last, count }) => {
        const seen = on.nodeRequests();
        const [a, b] = await Promise.all([
          exchange(on.port, chunks, count, last),
          exchange(off.port, chunks, count, last),
        ]);
        assert.equal(normalize(a), normalize(b));
        const answered = splitResponses(a).responses.filter((r) => r.status >= 200).length;
        laneAnswers += answered - (on.nodeRequests() - seen);
        if (on.nodeRequests() > seen) handedOver++;
      }),
      { numRuns: 150, seed: 2026 },
    );
    // both sides of the lane were exercised
    assert.ok(laneAnswers > 100, `${laneAnswers} answered by the wire lane`);
    assert.ok(handedOver > 50, `${handedOver} connections handed over`);
  });

  test('a /predict then another route on the same connection: the lane answers, then node:http', async () => {
    const seen = on.nodeRequests();
    const text = await exchange(
      on.port,
      [Buffer.from(predictRequest(record) + 'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n')],
      2,
    );
    const { responses } = splitResponses(text);
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 200],
    );
    assert.match(responses[1]!.bytes, /\{"status":"ok"\}$/);
    assert.equal(on.nodeRequests() - seen, 1);
    // and after a handover, node:http keeps the connection: a /predict on it is answered by the fast lane
    const again = await exchange(
      on.port,
      [Buffer.from('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n' + predictRequest(record))],
      2,
    );
    assert.deepEqual(
      splitResponses(again).responses.map((r) => r.status),
      [200, 200],
    );
    assert.equal(on.nodeRequests() - seen, 3);
  });

  test('a request split across reads goes to node:http, which answers it', async () => {
    const request = Buffer.from(predictRequest(record));
    const seen = on.nodeRequests();
    const cuts = [1, 20, request.length - record.length, request.length - 1];
    for (const cut of cuts) {
      const chunks = [request.subarray(0, cut), request.subarray(cut)];
      const text = await exchange(on.port, chunks, 1, null, 1500, 50);
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    }
    // 50 ms apart, the halves arrive as two reads unless the machine stalls the server that long (then the lane
    // reads one whole request and answers it, rightly)
    assert.ok(on.nodeRequests() - seen >= cuts.length - 1, `${on.nodeRequests() - seen} parsed by node:http`);
  });

  test('the same prediction log line as node:http and the fast lane', async () => {
    const lines: string[][] = [];
    for (const wireLane of [true, false]) {
      const dir = await mkdtemp(join(tmpdir(), 'tassel-wire-lane-log-'));
      const sink = createPredictionSink({ store: createLocalPredictionStore({ dir }), flushIntervalMs: 20 });
      const served = await serve(trained, { wireLane, predictionSink: sink });
      try {
        const seen = served.nodeRequests();
        await exchange(served.port, [Buffer.from(predictRequest(record, 'x-request-id: logged-1\r\n'))], 1);
        assert.equal(served.nodeRequests() - seen, wireLane ? 0 : 1);
        await served.app.close();
        await sink.close();
        const text: string[] = [];
        for (const f of (await readdir(dir, { recursive: true })).sort()) {
          if (f.endsWith('.jsonl')) text.push(await readFile(join(dir, f), 'utf8'));
        }
        lines.push(
          text
            .join('')
            .trim()
            .split('\n')
            .map((l) => l.replace(/"time":"[^"]+"/, '"time":-')),
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    assert.equal(lines[0]!.length, 1);
    assert.match(lines[0]![0]!, /"request_id":"logged-1"/);
    assert.deepEqual(lines[0], lines[1]);
  });
});

/** Opens a connection, sends one /predict (the lane answers it) and leaves the connection open. */
async function openLaneConnection(
  port: number,
  request: string,
): Promise<{ socket: Socket; text: () => string }> {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  socket.write(request);
  while (!text.includes('"model"')) await new Promise((r) => setTimeout(r, 5));
  return { socket, text: () => text };
}

const closedWithin = (socket: Socket, ms: number) =>
  new Promise<boolean>((resolve) => {
    if (socket.destroyed || socket.readableEnded) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });

describe('wire lane connections', () => {
  let trained: TrainedTestModel;
  let record: string;
  before(async () => {
    trained = await trainTestModel({ rows: 200, trees: 3 });
    record = JSON.stringify(trained.records[0]);
  });

  test('app.close() returns promptly with an idle keep-alive connection in the lane, and closes it', async () => {
    const served = await serve(trained);
    const { socket } = await openLaneConnection(served.port, predictRequest(record));
    assert.equal(served.nodeRequests(), 0);
    const t0 = performance.now();
    await served.app.close();
    assert.ok(performance.now() - t0 < 1000, `close took ${performance.now() - t0} ms`);
    assert.ok(await closedWithin(socket, 1000));
  });

  test('a closing app leaves /predict to the route, which answers 503', async () => {
    let lane: Awaited<ReturnType<typeof openLaneConnection>> | null = null;
    let during = '';
    // runs after the app's own preClose hook (which marks it closing) and before the server closes
    const served = await serve(trained, {}, (app) =>
      app.addHook('preClose', async () => {
        const { socket, text } = lane!;
        const before = text().length;
        socket.write(predictRequest(record));
        while (!/\r\n\r\n[\s\S]*\}$/.test(text().slice(before))) await new Promise((r) => setTimeout(r, 5));
        during = text().slice(before);
      }),
    );
    lane = await openLaneConnection(served.port, predictRequest(record));
    assert.equal(served.nodeRequests(), 0);
    await served.app.close();
    assert.match(during, /^HTTP\/1\.1 503 /);
    assert.equal(served.nodeRequests(), 1);
    lane.socket.destroy();
  });

  test('an idle connection in the lane closes after the keep-alive timeout (+1 s, as node:http)', async () => {
    const served = await serve(trained, { keepAliveTimeoutMs: 300 });
    try {
      const { socket, text } = await openLaneConnection(served.port, predictRequest(record));
      assert.match(text(), /Keep-Alive: timeout=0\r\n/);
      assert.equal(served.nodeRequests(), 0);
      assert.equal(await closedWithin(socket, 800), false, 'not before the timeout');
      assert.equal(await closedWithin(socket, 2000), true, 'closed after it');
    } finally {
      await served.app.close();
    }
  });

  test('one write answers the requests of one read; a write the socket cannot take at once: nothing more is read until it drains', async () => {
    const served = await serve(trained);
    const writes: number[] = [];
    let server: Socket | null = null;
    // the socket's buffer cannot be made to fill on demand: its write is made to report a full buffer
    served.app.server.on('connection', (s: Socket) => {
      server = s;
      const write = s.write.bind(s) as (chunk: string) => boolean;
      s.write = ((chunk: string) => {
        write(chunk);
        writes.push(chunk.length);
        return false;
      }) as Socket['write'];
    });
    try {
      const socket = connect(served.port, '127.0.0.1');
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      await new Promise((r) => socket.once('connect', r));
      // three requests in one write arrive in one read on loopback
      socket.write(predictRequest(record).repeat(3));
      const answers = () => splitResponses(text).responses.length;
      while (answers() < 3) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(writes.length, 1, 'the three answers went out in one write');
      assert.equal((server as Socket | null)?.isPaused(), true);
      // while the write is pending nothing more is read
      socket.write(predictRequest(record));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(answers(), 3);
      assert.equal(writes.length, 1);
      (server as Socket | null)!.emit('drain');
      while (answers() < 4) await new Promise((r) => setTimeout(r, 5));
      assert.equal(writes.length, 2);
      assert.equal(served.nodeRequests(), 0);
      socket.destroy();
    } finally {
      await served.app.close();
    }
  });

  test('a client that pipelines without reading: the server stops reading, then answers everything', async () => {
    const served = await serve(trained);
    let serverSocket: Socket | null = null;
    served.app.server.on('connection', (s: Socket) => (serverSocket = s));
    try {
      const n = 20_000;
      const request = predictRequest(record);
      const socket = connect(served.port, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise((r) => socket.once('connect', r));
      socket.pause();
      socket.write(Buffer.from(request.repeat(n)));
      let most = 0;
      for (let i = 0; i < 100; i++) {
        await new Promise((r) => setTimeout(r, 10));
        most = Math.max(most, (serverSocket as Socket | null)?.writableLength ?? 0);
      }
      // responses queued in the process stay near one write's high-water mark while the client does not read
      assert.ok(most < 256 * 1024, `${most} bytes queued`);
      let text = '';
      let count = 0;
      await new Promise<void>((resolve) => {
        socket.on('data', (d: Buffer) => {
          text += d.toString('latin1');
          const { responses, rest } = splitResponses(text);
          count += responses.filter((r) => r.status === 200).length;
          text = rest;
          if (count >= n) resolve();
        });
        socket.resume();
      });
      assert.equal(count, n);
      // the first read's whole requests were the lane's; the one cut at a read's end went to node:http with the rest
      assert.ok(served.nodeRequests() < n, `${served.nodeRequests()} parsed by node:http`);
      socket.destroy();
    } finally {
      await served.app.close();
    }
  });

  test('wireLane: false, and fastLane: false, leave every request to node:http', async () => {
    for (const options of [{ wireLane: false }, { fastLane: false }]) {
      const served = await serve(trained, options);
      try {
        const text = await exchange(served.port, [Buffer.from(predictRequest(record))], 1);
        assert.match(text, /^HTTP\/1\.1 200 OK/);
        assert.equal(served.nodeRequests(), 1);
      } finally {
        await served.app.close();
      }
    }
  });
});
