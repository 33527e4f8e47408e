import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createPredictionLog } from './prediction-log.js';

const entry = (i: number) => ({
  route: '/predict',
  model: { name: 'm', version: '1', fallback: false },
  request: { i },
  response: { probability: 0.5, label: 1 },
});

test('prediction log: samples, appends JSONL off the request path, bounds its queue and counts drops', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tassel-predlog-'));
  try {
    // a seeded sequence: every other request is sampled at 0.5
    let k = 0;
    const seq = [0.1, 0.9];
    const file = join(dir, 'sub', 'log.jsonl');
    const dropped: number[] = [];
    const log = createPredictionLog({
      file,
      sample: 0.5,
      maxQueue: 3,
      random: () => seq[k++ % 2]!,
      onDrop: (n) => dropped.push(n),
    });
    const sampled = Array.from({ length: 10 }, () => log.sampled());
    assert.deepEqual(sampled.filter(Boolean).length, 5);
    for (let i = 0; i < 5; i++) log.record(entry(i));
    assert.equal(log.dropped, 2, 'queue bound of 3');
    assert.deepEqual(dropped, [1, 1]);
    await log.flush();
    log.record(entry(99));
    await log.close();
    const lines = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.request.i),
      [0, 1, 2, 99],
    );
    assert.match(lines[0].ts, /^\d{4}-\d{2}-\d{2}T/);
    assert.equal(log.written, 4);
    const none = createPredictionLog({ file: join(dir, 'none.jsonl'), sample: 0 });
    assert.equal(none.sampled(), false);
    await none.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
