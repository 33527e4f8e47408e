import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRandomSampler, createTpeSampler, type Observation, type Sampler } from './sampler.js';
import { decode, encode, parseSearchSpace } from './space.js';

const space = parseSearchSpace(
  {
    x: { float: [0, 1] },
    lr: { float: [0.001, 1], log: true },
    depth: { int: [2, 8] },
    policy: { choice: ['depthwise', 'lossguide'] },
  },
  'test',
);

test('decoded values stay in range, ints are integers, choices are listed values; encode inverts decode', () => {
  for (let i = 0; i < 200; i++) {
    const u = i / 200;
    const d = decode(space.depth!, u) as number;
    assert.ok(Number.isInteger(d) && d >= 2 && d <= 8);
    const lr = decode(space.lr!, u) as number;
    assert.ok(lr >= 0.001 && lr <= 1);
    assert.ok(['depthwise', 'lossguide'].includes(decode(space.policy!, u) as string));
    assert.equal(decode(space.depth!, encode(space.depth!, d)), d);
  }
  // every integer of the range is reachable, the ends included
  const seen = new Set(Array.from({ length: 1000 }, (_, i) => decode(space.depth!, i / 1000)));
  assert.deepEqual([...seen].sort(), [2, 3, 4, 5, 6, 7, 8]);
});

test('a bad space is refused naming the parameter', () => {
  assert.throws(
    () => parseSearchSpace({ eta: { float: [0, 1], log: true } }, 'tune.space'),
    /tune\.space\.eta: a log scale needs low > 0/,
  );
  assert.throws(
    () => parseSearchSpace({ d: { int: [5, 2] } }, 'tune.space'),
    /tune\.space\.d: expected \[low, high\]/,
  );
  assert.throws(() => parseSearchSpace({}, 'tune.space'), /empty/);
});

/** Run a sampler on a toy objective with one peak at x = 0.3, lr = 0.05. */
function optimise(sampler: Sampler, n: number, batch = 4): Observation[] {
  const history: Observation[] = [];
  while (history.length < n) {
    for (const params of sampler.propose(history, batch)) {
      const x = params.x as number;
      const lr = Math.log10(params.lr as number);
      history.push({ params, score: -((x - 0.3) ** 2) - 0.1 * (lr - Math.log10(0.05)) ** 2 });
    }
  }
  return history;
}

test('samplers are reproducible per seed and differ between seeds', () => {
  for (const make of [createRandomSampler, createTpeSampler]) {
    const a = optimise(make(space, 7), 24);
    const b = optimise(make(space, 7), 24);
    const c = optimise(make(space, 8), 24);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  }
});

test('TPE finds a better optimum than random search with the same budget (median of 5 seeds)', () => {
  const best = (h: Observation[]) => Math.max(...h.map((o) => o.score));
  const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[2]!;
  const tpe = median([1, 2, 3, 4, 5].map((s) => best(optimise(createTpeSampler(space, s), 60))));
  const rnd = median([1, 2, 3, 4, 5].map((s) => best(optimise(createRandomSampler(space, s), 60))));
  assert.ok(tpe > rnd, `tpe ${tpe} vs random ${rnd}`);
  assert.ok(tpe > -0.005, `tpe best ${tpe}`);
});
