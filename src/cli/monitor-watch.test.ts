import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { logPredictions, registerModel } from '../monitoring/monitor-fixtures.test-helper.js';
import { openPredictionStore } from '../serving/prediction-sink/registry.js';
import { type RunningTrackingServer, startTrackingServer } from '../tracking/server/start.js';

const TASSEL = fileURLToPath(new URL('../../bin/tassel.js', import.meta.url));

let dir: string;
let server: RunningTrackingServer;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tassel-monitor-watch-'));
  server = await startTrackingServer({
    backendStoreUri: `sqlite:///${join(dir, 'mlflow.db')}`,
    artifactsDestination: `file://${join(dir, 'artifacts')}`,
    port: 0,
    logger: false,
  });
});
after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

test('tassel monitor --watch checks each window as it fills up, and stops cleanly on SIGTERM', async () => {
  const model = 'watched';
  await registerModel(server.url, model);
  const log = join(dir, 'predictions');
  const store = await openPredictionStore(log);
  const t0 = Date.UTC(2026, 0, 1);
  await logPredictions(store, model, { n: 700, seed: 1, start: t0, stepMs: 10, prefix: 'a' });
  const child = spawn(
    process.execPath,
    [
      TASSEL,
      'monitor',
      '--watch',
      '--interval',
      '1',
      '--window-size',
      '500',
      '--min-window',
      '100',
      '--tracking-uri',
      server.url,
      '--prediction-log',
      log,
      '--model',
      model,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => {
    stdout += String(c);
  });
  child.stderr.on('data', (c) => {
    stderr += String(c);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = async (re: RegExp, what: string) => {
    const deadline = Date.now() + 60_000;
    while (!re.test(stdout)) {
      if (Date.now() > deadline || child.exitCode !== null)
        assert.fail(`${what} not seen; stdout:\n${stdout}\nstderr:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    // the first 500 form window 0; the other 200 wait (a watch judges complete windows only)
    await waitFor(/window 0: 500 predictions/, 'window 0');
    assert.doesNotMatch(stdout, /window 1/);
    await logPredictions(store, model, { n: 400, seed: 2, start: t0 + 60_000, stepMs: 10, prefix: 'b' });
    await waitFor(/window 1: 500 predictions/, 'window 1');
    assert.doesNotMatch(stdout, /window 2/, 'the last 100 do not make a window yet');
    const stoppedAt = Date.now();
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.ok(Date.now() - stoppedAt < 10_000, 'stops without waiting out the interval');
    assert.equal((stdout.match(/window 0:/g) ?? []).length, 1, 'each window is reported once');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await store.close();
  }
});
