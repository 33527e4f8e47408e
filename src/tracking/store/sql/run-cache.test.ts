import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRunCache } from './run-cache.js';

test('a text is served only under the revision it was kept at', () => {
  const cache = createRunCache({ maxChars: 100 });
  cache.set('a', '3', '{"a":3}');
  assert.equal(cache.get('a', '3'), '{"a":3}');
  assert.equal(cache.get('a', '4'), undefined);
  assert.equal(cache.get('a', '2'), undefined);
  assert.equal(cache.get('b', '3'), undefined);
  cache.set('a', '4', '{"a":4}');
  assert.equal(cache.get('a', '3'), undefined);
  assert.equal(cache.get('a', '4'), '{"a":4}');
  assert.equal(cache.size, 7);
});

test('an older revision finishing late does not replace a newer one', () => {
  const cache = createRunCache({ maxChars: 100 });
  cache.set('a', '10', 'new');
  cache.set('a', '9', 'old');
  assert.equal(cache.get('a', '10'), 'new');
  assert.equal(cache.get('a', '9'), undefined);
  assert.equal(cache.size, 3);
});

test('holds at most maxChars, dropping the least recently used first', () => {
  const cache = createRunCache({ maxChars: 10 });
  cache.set('a', '1', 'aaaa');
  cache.set('b', '1', 'bbbb');
  assert.equal(cache.get('a', '1'), 'aaaa'); // a is now the most recently used
  cache.set('c', '1', 'cccc');
  assert.equal(cache.get('b', '1'), undefined);
  assert.equal(cache.get('a', '1'), 'aaaa');
  assert.equal(cache.get('c', '1'), 'cccc');
  assert.equal(cache.size, 8);
  cache.set('big', '1', 'x'.repeat(11));
  assert.equal(cache.get('big', '1'), undefined, 'a text over the bound is not kept');
  assert.equal(cache.size, 8);
});
