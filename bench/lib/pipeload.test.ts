import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createNetServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildPipeload, hasCompiler, parsePipeloadOutput, runPipeload } from './pipeload.js';

const skip = hasCompiler() ? false : 'no C compiler (cc) on the PATH: apt-get install gcc';

test('parsePipeloadOutput reads the JSON line and refuses a missing field or a zero duration', () => {
  const line = { requests: 1000, duration_us: 2_000_000, p50_us: 900, p90_us: 1500, p99_us: 4000, max_us: 9000, non2xx: 3, errors: 1 };
  const r = parsePipeloadOutput(`${JSON.stringify(line)}\n`);
  assert.equal(r.rps, 500);
  assert.equal(r.p99Ms, 4);
  assert.equal(r.non2xx, 3);
  assert.equal(r.errors, 1);
  assert.throws(() => parsePipeloadOutput('usage: ...'), /no result line/);
  const { p99_us: _, ...noP99 } = line;
  assert.throws(() => parsePipeloadOutput(JSON.stringify(noP99)), /p99_us/);
  assert.throws(() => parsePipeloadOutput(JSON.stringify({ ...line, duration_us: 0 })), /0 us/);
});

const listen = async (server: Server | ReturnType<typeof createServer>) => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
};

test('pipeload POSTs the body, DEPTH requests a write, and counts every response and every non-2xx', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tassel-pipeload-test-'));
  const request = 'POST /p HTTP/1.1\r\n';
  let answered = 0;
  let failed = 0;
  let largest = 0;
  let badBodies = 0;
  // a raw server, so the test sees how requests arrive: each batch in one read on loopback
  const server = createNetServer((socket) => {
    socket.setEncoding('latin1').on('data', (chunk: string) => {
      const n = chunk.split(request).length - 1;
      if (chunk.split('Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{"x":1}').length - 1 !== n)
        badBodies++;
      largest = Math.max(largest, n);
      let out = '';
      for (let i = 0; i < n; i++) {
        answered++;
        // every seventh a 503 and every eleventh a 302: both non-2xx; header names in any case
        const status = answered % 7 === 0 ? '503 Service Unavailable' : answered % 11 === 0 ? '302 Found' : '200 OK';
        if (!status.startsWith('200')) failed++;
        out += `HTTP/1.1 ${status}\r\nX-A: b\r\nCONTENT-LENGTH: 2\r\n\r\n{}`;
      }
      socket.write(out);
    });
    socket.on('error', () => socket.destroy());
  });
  try {
    const port = await listen(server);
    const bodyFile = join(dir, 'body.json');
    await writeFile(bodyFile, '{"x":1}');
    const r = await runPipeload({
      binary: buildPipeload(join(dir, 'bin')),
      url: `http://127.0.0.1:${port}/p`,
      bodyFile,
      connections: 3,
      durationS: 1,
      pipeline: 8,
    });
    assert.equal(badBodies, 0);
    assert.equal(largest, 8);
    assert.ok(r.requests > 80, `only ${r.requests} requests`);
    assert.ok(r.requests <= answered, `${r.requests} counted, ${answered} answered`);
    // the responses counted are the server's first ones on each connection, so their share of failures matches
    const expected = (k: number) => Math.floor(k / 7) + Math.floor(k / 11) - Math.floor(k / 77);
    assert.ok(Math.abs(r.non2xx - expected(r.requests)) <= 3 * 8 + 3, `${r.non2xx} non-2xx of ${r.requests}`);
    assert.ok(r.non2xx <= failed);
    assert.equal(r.errors, 0);
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a response it cannot count (chunked, no Content-Length) is an error, and the connection is opened again', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tassel-pipeload-test-'));
  let connections = 0;
  const server = createServer((req, res) => {
    req.resume().on('end', () => {
      res.setHeader('transfer-encoding', 'chunked');
      res.end('{}');
    });
  });
  server.on('connection', () => connections++);
  try {
    const port = await listen(server);
    const bodyFile = join(dir, 'body.json');
    await writeFile(bodyFile, '{"x":1}');
    const r = await runPipeload({
      binary: buildPipeload(join(dir, 'bin')),
      url: `http://127.0.0.1:${port}/`,
      bodyFile,
      connections: 2,
      durationS: 0.5,
      pipeline: 1,
    });
    assert.equal(r.requests, 0);
    assert.ok(r.errors > 2, `${r.errors} errors`);
    assert.ok(connections > 2, `${connections} connections`);
  } finally {
    server.close();
    server.closeAllConnections();
    await rm(dir, { recursive: true, force: true });
  }
});
