import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKeyBatcher } from './key-batcher.js';

/** A batcher over `values` that records the keys of each loadMany call. */
function recording(values: Record<string, string>, maxBatch?: number) {
  const calls: string[][] = [];
  const batcher = createKeyBatcher<string>({
    maxBatch,
    loadMany: async (keys) => {
      calls.push(keys);
      return new Map(keys.filter((k) => k in values).map((k) => [k, values[k]]));
    },
  });
  return { calls, batcher };
}

test('loads asked for in the same turn share one call; each gets its own value, a missing key undefined', async () => {
  const { calls, batcher } = recording({ a: 'A', b: 'B' });
  const got = await Promise.all([batcher.load('a'), batcher.load('b'), batcher.load('a'), batcher.load('x')]);
  assert.deepEqual(got, ['A', 'B', 'A', undefined]);
  assert.deepEqual(calls, [['a', 'b', 'x']]);
});

test('loads of later turns go in later calls', async () => {
  const { calls, batcher } = recording({ a: 'A', b: 'B' });
  assert.equal(await batcher.load('a'), 'A');
  assert.equal(await batcher.load('b'), 'B');
  assert.deepEqual(calls, [['a'], ['b']]);
});

test('a turn with more keys than maxBatch is split into calls of at most maxBatch', async () => {
  const values = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`k${i}`, `v${i}`]));
  const { calls, batcher } = recording(values, 2);
  const got = await Promise.all(Object.keys(values).map((k) => batcher.load(k)));
  assert.deepEqual(got, Object.values(values));
  assert.deepEqual(
    calls.map((c) => c.length),
    [2, 2, 1],
  );
});

test('a failed call rejects every load of its batch, and the next turn loads again', async () => {
  let fail = true;
  const batcher = createKeyBatcher<string>({
    loadMany: async (keys) => {
      if (fail) throw new Error('database down');
      return new Map(keys.map((k) => [k, k.toUpperCase()]));
    },
  });
  const results = await Promise.allSettled([batcher.load('a'), batcher.load('b')]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  fail = false;
  assert.equal(await batcher.load('a'), 'A');
});
