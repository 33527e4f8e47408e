import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAsciiBody, parseJsonBody } from './body-parser.js';

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

test('isAsciiBody: only a body whose Content-Length equals its chars and that holds no U+FFFD is ASCII', () => {
  const ascii = '{"records": [{"a": 1, "r": "East"}]}';
  const decoded = (bytes: Buffer) => [bytes.toString('utf8'), String(bytes.length)] as const;
  assert.equal(isAsciiBody(...decoded(Buffer.from(ascii))), true);
  assert.equal(isAsciiBody(...decoded(Buffer.from('{"r": "Île"}'))), false); // 2 bytes, 1 char
  assert.equal(isAsciiBody(...decoded(Buffer.from('{"r": "🚀"}'))), false); // 4 bytes, 2 chars
  // an invalid byte decodes to one U+FFFD: as many chars as bytes
  const invalid = Buffer.concat([Buffer.from('{"r": "'), Buffer.from([0xff]), Buffer.from('"}')]);
  assert.equal(invalid.toString().length, invalid.length);
  assert.equal(isAsciiBody(...decoded(invalid)), false);
  assert.equal(isAsciiBody(ascii, undefined), false); // chunked: no length to compare
  assert.equal(isAsciiBody(ascii, String(ascii.length + 1)), false);
});
