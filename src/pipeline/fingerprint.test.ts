import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  FINGERPRINT_TAG,
  collectCodeVersion,
  computeFingerprint,
  fileSha256,
  unchangedProduction,
} from './fingerprint.js';

const dir = mkdtempSync(join(tmpdir(), 'tassel-fingerprint-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('fileSha256 is the sha256 of the bytes (what the CSV reader reports)', async () => {
  const p = join(dir, 'a.csv');
  writeFileSync(p, 'x,y\n1,2\n');
  assert.equal(await fileSha256(p), createHash('sha256').update('x,y\n1,2\n').digest('hex'));
});

test('the digest changes with the data, the config and the code, and only with them', () => {
  const code = collectCodeVersion();
  const base = { dataSha256: ['d1'], config: { seed: 42, candidates: [{ kind: 'gbdt' }] }, code };
  const a = computeFingerprint(base);
  // key order does not matter: configs are compared canonically
  assert.equal(
    computeFingerprint({ ...base, config: { candidates: [{ kind: 'gbdt' }], seed: 42 } }).digest,
    a.digest,
  );
  assert.notEqual(computeFingerprint({ ...base, dataSha256: ['d2'] }).digest, a.digest);
  assert.notEqual(computeFingerprint({ ...base, config: { ...base.config, seed: 43 } }).digest, a.digest);
  assert.notEqual(
    computeFingerprint({ ...base, code: { ...code, git_commit: 'another commit' } }).digest,
    a.digest,
  );
  assert.notEqual(
    computeFingerprint({ ...base, code: { ...code, tassel_version: '9.9.9' } }).digest,
    a.digest,
  );
});

test("the code version covers the user's modules by content", () => {
  const m = join(dir, 'my-model.ts');
  writeFileSync(m, 'export default 1;\n');
  const one = collectCodeVersion([m]);
  writeFileSync(m, 'export default 2;\n');
  const two = collectCodeVersion([m]);
  assert.notEqual(one.modules['my-model.ts'], two.modules['my-model.ts']);
  assert.match(one.tassel_version, /^\d+\.\d+\.\d+/);
});

test('unchangedProduction matches the production version carrying the same digest only', () => {
  const fp = computeFingerprint({ dataSha256: ['d'], config: {}, code: collectCodeVersion() });
  assert.equal(unchangedProduction(fp, null), null);
  assert.equal(unchangedProduction(fp, { version: '3', tags: {} }), null);
  assert.equal(unchangedProduction(fp, { version: '3', tags: { [FINGERPRINT_TAG]: 'other' } }), null);
  assert.deepEqual(unchangedProduction(fp, { version: '3', tags: { [FINGERPRINT_TAG]: fp.digest } }), {
    version: '3',
  });
});
