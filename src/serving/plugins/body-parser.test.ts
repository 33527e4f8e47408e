import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseJsonBody } from './body-parser.js';

const refused = (text: string) =>
  assert.throws(() => parseJsonBody(text), /prototype poisoning/, `${text} should be refused`);

test('parseJsonBody: poisoning keys are refused however they are spelled (plain, \\u-escaped, nested, in a batch)', () => {
  refused('{"__proto__": {"x": 1}}');
  refused('{"\\u005f_proto__": {"x": 1}}');
  refused('{"__pr\\u006Fto__": {"x": 1}}');
  refused('{"constructor": {"prototype": {"x": 1}}}');
  refused('{"constructo\\u0072": {"prototype": {"x": 1}}}');
  refused('{"records": [{"a": 1}, {"b": {"__proto__": {"x": 1}}}]}');
  refused('[{"a": 1}, {"\\u0063onstructor": {"prototype": 1}}]');
});

test('parseJsonBody: ordinary bodies parse, including the words and escapes as values and a constructor without prototype', () => {
  assert.deepEqual(parseJsonBody('{"records": [{"a": 1}, {"b": "x"}]}'), { records: [{ a: 1 }, { b: 'x' }] });
  assert.deepEqual(parseJsonBody('{"note": "__proto__ constructor", "r": "\\u00cele"}'), {
    note: '__proto__ constructor',
    r: 'Île',
  });
  assert.deepEqual(parseJsonBody('{"constructor": "Bob"}'), { constructor: 'Bob' });
  assert.throws(() => parseJsonBody('  '), /empty/);
  assert.throws(() => parseJsonBody('{"a": '), /not valid JSON/);
});
