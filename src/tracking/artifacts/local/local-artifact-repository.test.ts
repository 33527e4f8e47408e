import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TasselError } from '../../../errors.js';
import { runArtifactRepositoryContract } from '../contract.js';
import { createArtifactRepository } from '../registry.js';
import { createLocalArtifactRepository, localPathOf } from './local-artifact-repository.js';

runArtifactRepositoryContract('local filesystem', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tassel-art-'));
  let n = 0;
  return {
    make: async (maxArtifactBytes) =>
      createLocalArtifactRepository({ uri: `file://${join(root, String(n++))}`, maxArtifactBytes }),
    close: async () => {
      // No temp files may be left behind by failed or finished uploads.
      const leftovers = readdirSync(root, { recursive: true }).filter((p) =>
        String(p).includes('.tassel-upload-'),
      );
      assert.deepEqual(leftovers, []);
      rmSync(root, { recursive: true, force: true });
    },
  };
});

test('file URIs and plain paths resolve; unknown schemes list the known ones', () => {
  assert.equal(localPathOf('file:///data/art'), '/data/art');
  assert.equal(localPathOf('file:///./rel/art'), join(process.cwd(), 'rel/art'));
  assert.equal(localPathOf('/abs/x'), '/abs/x');
  assert.match(createArtifactRepository('s3://bucket/prefix').rootUri, /^s3:\/\/bucket\/prefix$/);
  assert.throws(
    () => createArtifactRepository('gs://bucket/x'),
    (e: TasselError) => e.code === 'INVALID_PARAMETER_VALUE' && /Known schemes: file, s3/.test(e.message),
  );
});
