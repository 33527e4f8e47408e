import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runPredictionStoreContract } from '../contract.js';
import { openPredictionStore } from '../registry.js';
import { createLocalPredictionStore } from './local-prediction-store.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const freshDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'tassel-predstore-'));
  dirs.push(d);
  return d;
};

runPredictionStoreContract('local segments', {
  make: async () => createLocalPredictionStore({ dir: await freshDir() }),
});
runPredictionStoreContract('local segments through the page cache', {
  make: async () => createLocalPredictionStore({ dir: await freshDir(), directIo: false }),
});
runPredictionStoreContract('local segments, rotated every few lines', {
  make: async () => createLocalPredictionStore({ dir: await freshDir(), maxSegmentBytes: 300 }),
});

test('local store: segments rotate by size, the registry opens plain paths and file: URIs, refuses unknown schemes', async () => {
  const dir = await freshDir();
  const store = await openPredictionStore(`file://${dir}`, { maxSegmentBytes: 1 });
  const base = { model_name: 'm', model_version: '1', inputs: { a: 1 }, inputs_json: null, probability: 0.5 };
  for (let i = 0; i < 3; i++) {
    await store.appendPredictions([
      { ...base, request_id: `r${i}`, time: Date.now(), label: 1, fallback: false, route: '/predict' },
    ]);
  }
  await store.close();
  const segments = await readdir(join(dir, 'predictions'));
  assert.equal(segments.length, 3);
  assert.ok(
    segments.every((s) => /^predictions-\d{8}T\d{9}Z-\d+-\d{6}\.jsonl$/.test(s)),
    segments.join(),
  );
  const reopened = await openPredictionStore(dir);
  let n = 0;
  for await (const _ of reopened.readPredictions({ modelName: 'm' })) n++;
  assert.equal(n, 3);
  await reopened.close();
  assert.throws(() => openPredictionStore('mongodb://x/y'), /Known schemes: file, postgresql, postgres/);
});
