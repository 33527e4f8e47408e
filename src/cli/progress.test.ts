import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createProgress } from './progress.js';

const sink = (isTTY: boolean) => {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, columns: 100, write: (s: string) => chunks.push(s) } };
};

describe('progress reporter', () => {
  test('plain timestamped lines when not a terminal, throttled', () => {
    const { chunks, stream } = sink(false);
    let t = Date.UTC(2025, 0, 1, 12, 0, 0);
    const p = createProgress({ stream, now: () => t });
    p.step('reading data.csv');
    const task = p.task('logistic', 10);
    task.update(1, 'loss 0.7');
    t += 100;
    task.update(2); // throttled (2 s default interval)
    t += 2500;
    task.update(3);
    task.update(10); // the last update always prints
    task.done();
    assert.equal(chunks[0], '[2025-01-01 12:00:00] reading data.csv\n');
    assert.equal(chunks[1], '[2025-01-01 12:00:00] logistic: 1/10 loss 0.7\n');
    assert.ok(!chunks.some((c) => c.includes(' 2/10')));
    assert.ok(chunks.some((c) => c.includes('logistic: 3/10')));
    assert.ok(chunks.some((c) => c.includes('logistic: 10/10')));
    assert.match(chunks.at(-1)!, /logistic: 10\/10 \(2\.60 s\)\n$/);
    assert.ok(
      chunks.every((c) => !c.includes('\r')),
      'no carriage returns in logs',
    );
  });

  test('a redrawn bar on a terminal', () => {
    const { chunks, stream } = sink(true);
    let t = 0;
    const p = createProgress({ stream, now: () => t });
    const task = p.task('train', 4);
    task.update(2);
    t += 1000;
    task.update(4, 'done');
    task.done('4 iterations');
    assert.ok(chunks[0]!.startsWith('\r\u001b[2Ktrain ['), 'clears the line and redraws');
    assert.match(chunks[0]!, /train \[#+\.+\] 2\/4/);
    assert.match(chunks[1]!, /\[#+\] 4\/4 1\.0s done/);
    assert.match(chunks.at(-1)!, /train: 4 iterations \(1\.00 s\)\n$/);
  });

  test('silent prints nothing', () => {
    const { chunks, stream } = sink(true);
    const p = createProgress({ stream, silent: true });
    p.step('x');
    p.task('y', 1).done();
    assert.equal(chunks.length, 0);
  });
});
