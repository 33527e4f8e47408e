import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLocalPredictionStore } from '../serving/prediction-sink/local/local-prediction-store.js';
import { runCli } from './cli-capture.test-helper.js';

test('tassel monitor labels: a CSV of outcomes attached by Student_ID; unknown, duplicate and corrected labels', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tassel-labels-'));
  try {
    const log = join(dir, 'predictions');
    const store = createLocalPredictionStore({ dir: log });
    await store.appendPredictions(
      ['S1', 'S2', 'S3'].map((id, i) => ({
        request_id: `r${i}`,
        time: Date.now(),
        model_name: 'course-completion',
        model_version: '1',
        inputs: { Student_ID: id, Age: 30 },
        inputs_json: null,
        probability: 0.4,
        label: 0 as const,
        fallback: false,
        route: '/predict',
      })),
    );
    await store.close();
    const csv = join(dir, 'outcomes.csv');
    await writeFile(csv, 'Student_ID,Completed\nS1,Completed\nS2,Not Completed\nS9,Completed\n,Completed\n');
    const args = ['monitor', 'labels', '--data', csv, '--id-column', 'Student_ID', '--target', 'Completed'];
    const first = await runCli(...args, '--positive', 'Completed', '--prediction-log', log);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /4 rows: 2 attached, 0 updated, 0 duplicate, 1 unknown, 1 skipped/);
    assert.match(first.stdout, /unknown ids \(no logged prediction\): S9/);

    await writeFile(csv, 'Student_ID,Completed\nS1,yes\nS2,yes\n');
    const second = await runCli(...args, '--data-dir', dir, '--json');
    assert.equal(second.code, 0, second.stderr);
    const result = JSON.parse(second.stdout);
    assert.deepEqual([result.attached, result.updated, result.duplicate, result.unknown], [0, 1, 1, 0]);

    await writeFile(csv, 'Student_ID,Completed\nS1,maybe\n');
    const bad = await runCli(...args, '--prediction-log', log);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /outcome "maybe" is not 1\/0.*--positive/);
    const missing = await runCli(
      'monitor',
      'labels',
      '--data',
      csv,
      '--id-column',
      'id',
      '--target',
      'Completed',
      '--prediction-log',
      log,
    );
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no column "id"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
