import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkConcurrentLogBatch } from './concurrency-check.js';
import { startTrackingServer } from './start.js';

test('16 clients x 200 log-batch calls at once lose nothing on SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tassel-conc-'));
  const server = await startTrackingServer({
    backendStoreUri: `sqlite:///${join(dir, 'c.db')}`,
    artifactsDestination: `file://${join(dir, 'a')}`,
    port: 0,
  });
  try {
    const r = await checkConcurrentLogBatch(server.url);
    assert.equal(r.calls, 3200);
    console.log(`# SQLite: ${r.calls} log-batch calls (${r.metrics} metrics) in ${r.seconds.toFixed(2)} s`);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
