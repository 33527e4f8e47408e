import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newRequestId, requestIdFrom, requestIdOf, writeNewestRequestId } from './request-id.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('request ids', () => {
  test('fresh ids are distinct version 4 UUIDs, across several batches', () => {
    const ids = Array.from({ length: 1000 }, () => newRequestId());
    for (const id of ids) assert.match(id, UUID_V4);
    assert.equal(new Set(ids).size, ids.length);
  });

  test('the random bits look uniform: each hex digit of the random positions about equally often', () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 4000; i++) {
      const hex = newRequestId().replace(/-/g, '');
      for (let j = 0; j < 32; j++) if (j !== 12 && j !== 16) counts[Number.parseInt(hex[j]!, 16)]!++;
    }
    // 4000 * 30 digits / 16 = 7500 each; a bias of a bit would be far off
    for (const c of counts) assert.ok(c > 7000 && c < 8000, `digit count ${c}`);
  });

  test('the newest id is written as its JSON string; any other id is left to the caller', () => {
    const b = Buffer.alloc(64, 0x7a);
    for (let i = 0; i < 300; i++) {
      const older = newRequestId();
      const id = newRequestId();
      assert.equal(writeNewestRequestId(id, b, 3), 3 + 38);
      assert.equal(b.toString('latin1', 3, 41), JSON.stringify(id));
      assert.equal(b[2], 0x7a);
      b.fill(0x7a);
      // an equal string made apart is the same text: written the same
      assert.equal(writeNewestRequestId(`${id.slice(0, 5)}${id.slice(5)}`, b, 0), 38);
      assert.equal(b.toString('latin1', 0, 38), JSON.stringify(id));
      b.fill(0x7a);
      for (const other of [older, 'trace-42', '', id.toUpperCase()]) {
        assert.equal(writeNewestRequestId(other, b, 0), -1);
        assert.ok(b.every((x) => x === 0x7a));
      }
    }
  });

  test("a caller's usable id is kept, anything else replaced by a fresh UUID", () => {
    assert.equal(requestIdFrom('trace-42'), 'trace-42');
    assert.equal(requestIdOf({ 'x-request-id': 'a"b\\c' }), 'a"b\\c');
    assert.match(requestIdFrom(undefined), UUID_V4);
    assert.match(requestIdFrom('has space'), UUID_V4);
    assert.match(requestIdFrom(['a', 'b']), UUID_V4);
    assert.match(requestIdFrom('x'.repeat(201)), UUID_V4);
  });
});
