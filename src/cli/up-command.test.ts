import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTrackingServer } from '../tracking/server/start.js';

// Issue 15, defects 2 and 3: `tassel up` trained, registered and promoted a model, then failed with
// EADDRINUSE on a taken port. Every port (and the data, and the store) is checked first; a taken port is one
// line naming the port, what holds it and the flag to change. Ports here are ones this test occupies itself.

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(repo, 'bin', 'tassel.js');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'tassel-up-'));
  dirs.push(d);
  return d;
}

function tassel(
  cwd: string,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true' };
    delete env.TASSEL_TRACKING_URI;
    delete env.MLFLOW_TRACKING_URI;
    const child = spawn(process.execPath, [bin, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

async function occupyPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { port: address.port, server };
}

describe('tassel up checks before it writes', () => {
  test('a taken serving port: exit 2, one line naming the port and --port, nothing generated or stored', async () => {
    const cwd = scratch();
    const { port, server } = await occupyPort();
    try {
      const r = await tassel(
        cwd,
        'up',
        '--once',
        '--rows',
        '200',
        '--port',
        String(port),
        '--tracking-port',
        '0',
      );
      assert.equal(r.code, 2, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, new RegExp(`port ${port} \\(prediction service\\) is already in use`));
      assert.match(lines[0]!, /--port <port>/);
      assert.equal(existsSync(join(cwd, 'tassel-data')), false, 'no data generated, no store created');
      assert.equal(r.stdout, '');
    } finally {
      server.close();
    }
  });

  test('a taken tracking port: names --tracking-port and what answers there (a tracking server)', async () => {
    const cwd = scratch();
    const other = scratch();
    const tracking = await startTrackingServer({
      host: '127.0.0.1',
      port: 0,
      backendStoreUri: `sqlite:///${join(other, 'mlflow.db')}`,
      artifactsDestination: join(other, 'artifacts'),
      logger: false,
    });
    try {
      const port = new URL(tracking.url).port;
      const r = await tassel(cwd, 'up', '--once', '--rows', '200', '--port', '0', '--tracking-port', port);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `port ${port} \\(tracking server and web UI\\) is already in use by an MLflow-compatible tracking server`,
        ),
      );
      assert.match(r.stderr, /--tracking-port <port>/);
      assert.equal(existsSync(join(cwd, 'tassel-data')), false);
    } finally {
      await tracking.close();
    }
  });

  test('the same port for both, a bad port and an unreadable store are refused up front', async () => {
    const cwd = scratch();
    const same = await tassel(cwd, 'up', '--once', '--port', '5999', '--tracking-port', '5999');
    assert.equal(same.code, 2);
    assert.match(same.stderr, /--port and --tracking-port are both 5999/);
    const bad = await tassel(cwd, 'up', '--once', '--tracking-port', 'http');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--tracking-port must be a port number/);
    // a damaged store file: refused before data is generated
    const dataDir = join(cwd, 'tassel-data');
    rmSync(dataDir, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dataDir);
    writeFileSync(
      join(dataDir, 'mlflow.db'),
      'not a database, just text long enough to be read as a header......',
    );
    const broken = await tassel(cwd, 'up', '--once', '--rows', '200', '--port', '0', '--tracking-port', '0');
    assert.equal(broken.code, 2, broken.stderr);
    assert.match(broken.stderr, /mlflow\.db: not a usable tracking store/);
    assert.equal(existsSync(join(dataDir, 'students.csv')), false);
  });
});
