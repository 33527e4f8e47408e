import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseWrkOutput, runWrk, WRK_PATH, WRK_RESULT_MARK, writeWrkScript } from './wrk.js';

const report = (fields: Record<string, number>) =>
  [
    'Running 2s test @ http://127.0.0.1:8080/predict',
    '  1 threads and 32 connections',
    'Requests/sec:  12345.67',
    `${WRK_RESULT_MARK}${JSON.stringify(fields)}`,
    '',
  ].join('\n');

const FIELDS = {
  requests: 25000,
  duration_us: 2_000_000,
  bytes: 900000,
  p50_us: 2100,
  p90_us: 3500,
  p99_us: 9800,
  max_us: 41000,
  connect: 1,
  read: 2,
  write: 3,
  status: 7,
  timeout: 4,
  non2xx: 9,
};

test('parseWrkOutput reads the done() line among wrk report lines', () => {
  const r = parseWrkOutput(report(FIELDS));
  assert.equal(r.requests, 25000);
  assert.equal(r.durationS, 2);
  assert.equal(r.rps, 12500);
  assert.equal(r.p50Ms, 2.1);
  assert.equal(r.p90Ms, 3.5);
  assert.equal(r.p99Ms, 9.8);
  assert.equal(r.maxMs, 41);
  // socket errors and timeouts; statuses are in non2xx (wrk's own status count, > 399 only, is a subset)
  assert.equal(r.errors, 10);
  assert.equal(r.non2xx, 9);
});

test('parseWrkOutput refuses output without the line, a missing field or a zero duration', () => {
  assert.throws(() => parseWrkOutput('Requests/sec: 100\n'), /no WRK_RESULT line/);
  const { p99_us: _, ...noP99 } = FIELDS;
  assert.throws(() => parseWrkOutput(report(noP99)), /p99_us/);
  assert.throws(() => parseWrkOutput(report({ ...FIELDS, requests: -1 })), /requests/);
  assert.throws(() => parseWrkOutput(report({ ...FIELDS, duration_us: 0 })), /0 us/);
});

test('the Lua script POSTs the body and counts every non-2xx status', {
  skip: existsSync(WRK_PATH) ? false : `${WRK_PATH} is absent (apt-get install wrk)`,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tassel-wrk-test-'));
  let n = 0;
  let badBodies = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => {
      body += d;
    });
    req.on('end', () => {
      if (req.method !== 'POST' || body !== '{"x":1}' || req.headers['content-type'] !== 'application/json')
        badBodies++;
      // every third request a 503, every fifth a 302 (not an error for wrk itself)
      n++;
      res.statusCode = n % 3 === 0 ? 503 : n % 5 === 0 ? 302 : 200;
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const bodyFile = join(dir, 'body.json');
    await writeFile(bodyFile, '{"x":1}');
    const r = await runWrk({
      url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
      script: await writeWrkScript(dir),
      bodyFile,
      connections: 2,
      durationS: 1,
    });
    assert.equal(badBodies, 0);
    assert.ok(r.requests > 10, `only ${r.requests} requests`);
    // the server may have answered a few requests wrk stopped waiting for at the end
    const expected = (k: number) => Math.floor(k / 3) + Math.floor(k / 5) - Math.floor(k / 15);
    assert.ok(
      r.non2xx >= expected(r.requests) - 2 && r.non2xx <= expected(n),
      `${r.non2xx} of ${r.requests}`,
    );
    assert.equal(r.errors, 0);
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('with pipeline N the script writes N requests at once and wrk counts each response', {
  skip: existsSync(WRK_PATH) ? false : `${WRK_PATH} is absent (apt-get install wrk)`,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tassel-wrk-test-'));
  const request = 'POST / HTTP/1.1\r\n';
  const answer = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}';
  let answered = 0;
  let largestChunk = 0;
  let badBatches = 0;
  const server = createNetServer((socket) => {
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      // wrk writes each batch in one write; on loopback it arrives as one read
      const n = chunk.split(request).length - 1;
      if (chunk.split('\r\n\r\n{"x":1}').length - 1 !== n) badBatches++;
      largestChunk = Math.max(largestChunk, n);
      answered += n;
      socket.write(answer.repeat(n));
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const bodyFile = join(dir, 'body.json');
    await writeFile(bodyFile, '{"x":1}');
    const r = await runWrk({
      url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
      script: await writeWrkScript(dir),
      bodyFile,
      connections: 2,
      durationS: 1,
      pipeline: 4,
    });
    assert.equal(largestChunk, 4);
    assert.equal(badBatches, 0);
    assert.ok(r.requests > 40, `only ${r.requests} requests`);
    assert.ok(r.requests <= answered, `${r.requests} counted, ${answered} answered`);
    assert.equal(r.errors, 0);
    assert.equal(r.non2xx, 0);
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('lean: no Lua per response, and non2xx is wrk\'s own count of statuses > 399', {
  skip: existsSync(WRK_PATH) ? false : `${WRK_PATH} is absent (apt-get install wrk)`,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tassel-wrk-test-'));
  let n = 0;
  let failed = 0;
  const server = createServer((req, res) => {
    req.resume().on('end', () => {
      // every third request a 503 (counted), every fifth a 302 (lean does not count it)
      n++;
      res.statusCode = n % 3 === 0 ? 503 : n % 5 === 0 ? 302 : 200;
      if (res.statusCode === 503) failed++;
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const bodyFile = join(dir, 'body.json');
    await writeFile(bodyFile, '{"x":1}');
    const r = await runWrk({
      url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
      script: await writeWrkScript(dir),
      bodyFile,
      connections: 2,
      durationS: 1,
      pipeline: 4,
      lean: true,
    });
    assert.ok(r.requests > 40, `only ${r.requests} requests`);
    assert.ok(r.non2xx >= Math.floor(r.requests / 3) - 8 && r.non2xx <= failed, `${r.non2xx} of ${r.requests}`);
    assert.ok(r.non2xx < Math.floor(r.requests / 3) + Math.floor(r.requests / 5) - 8, 'a 302 was counted');
    assert.equal(r.errors, 0);
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
