import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { type ErrorCode, TasselError } from '../../errors.js';
import type { ArtifactRepository } from './types.js';

/** A repository under test: `make(maxArtifactBytes)` returns a fresh, empty one. */
export interface ArtifactContractTarget {
  make(maxArtifactBytes?: number): Promise<ArtifactRepository>;
  close(): Promise<void>;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TasselError, `expected TasselError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** A stream of `size` pseudo-random bytes produced in 64 KiB chunks (never held whole). */
function generated(size: number, seed = 7): { stream: Readable; digest: Promise<string> } {
  const hash = createHash('sha256');
  let sent = 0;
  let x = seed;
  let resolve!: (d: string) => void;
  const digest = new Promise<string>((r) => (resolve = r));
  const stream = new Readable({
    read() {
      if (sent >= size) {
        resolve(hash.digest('hex'));
        this.push(null);
        return;
      }
      const n = Math.min(65536, size - sent);
      const buf = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) {
        x = (x * 1103515245 + 12345) & 0x7fffffff;
        buf[i] = x & 0xff;
      }
      hash.update(buf);
      sent += n;
      this.push(buf);
    },
  });
  return { stream, digest };
}

/** The behaviour every ArtifactRepository must have; run on the local filesystem and on S3. */
export function runArtifactRepositoryContract(
  name: string,
  makeTarget: () => Promise<ArtifactContractTarget>,
  options: { skip?: string } = {},
): void {
  describe(`ArtifactRepository contract: ${name}`, { skip: options.skip }, () => {
    let target: ArtifactContractTarget;
    before(async () => {
      target = await makeTarget();
    });
    after(async () => {
      await target?.close();
    });

    test('put, get, overwrite, list and delete', async () => {
      const repo = await target.make();
      assert.deepEqual(await repo.list(), []);
      assert.deepEqual(await repo.put('model/MLmodel', Buffer.from('flavor: x\n')), { size: 10 });
      await repo.put('model/data/weights.bin', Readable.from([Buffer.from([1, 2]), Buffer.from([3])]));
      await repo.put('metrics.json', Buffer.from('{}'));
      const got = await repo.get('model/MLmodel');
      assert.equal(got.size, 10);
      assert.equal((await readAll(got.stream)).toString(), 'flavor: x\n');
      assert.deepEqual(await repo.list(), [
        { path: 'metrics.json', is_dir: false, file_size: 2 },
        { path: 'model', is_dir: true },
      ]);
      assert.deepEqual(await repo.list('model'), [
        { path: 'model/MLmodel', is_dir: false, file_size: 10 },
        { path: 'model/data', is_dir: true },
      ]);
      assert.deepEqual(await repo.list('./model/data/'), [
        { path: 'model/data/weights.bin', is_dir: false, file_size: 3 },
      ]);
      assert.deepEqual(await repo.list('nothing/here'), []);
      await repo.put('model/MLmodel', Buffer.from('v2'));
      assert.equal((await readAll((await repo.get('model/MLmodel')).stream)).toString(), 'v2');
      await repo.delete('model/data');
      assert.deepEqual(
        (await repo.list('model')).map((f) => f.path),
        ['model/MLmodel'],
      );
      await repo.delete('metrics.json');
      await rejectsWith(repo.get('metrics.json'), 'RESOURCE_DOES_NOT_EXIST');
      await rejectsWith(repo.delete('metrics.json'), 'RESOURCE_DOES_NOT_EXIST');
      await rejectsWith(repo.get('model'), 'RESOURCE_DOES_NOT_EXIST');
    });

    test('traversal, absolute paths and NUL bytes are refused and write nothing', async () => {
      const repo = await target.make();
      for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a/\0b', 'C:\\x', '..']) {
        await rejectsWith(repo.put(bad, Buffer.from('x')), 'INVALID_PARAMETER_VALUE');
        await rejectsWith(repo.get(bad), 'INVALID_PARAMETER_VALUE');
        await rejectsWith(repo.list(bad), 'INVALID_PARAMETER_VALUE');
        await rejectsWith(repo.delete(bad), 'INVALID_PARAMETER_VALUE');
      }
      await rejectsWith(repo.put('', Buffer.from('x')), 'INVALID_PARAMETER_VALUE');
      await rejectsWith(repo.delete(''), 'INVALID_PARAMETER_VALUE');
      assert.deepEqual(await repo.list(), []);
    });

    test('uploads over the size limit fail with 413 and leave nothing; large streams round-trip intact', async () => {
      const small = await target.make(1000);
      await small.put('ok.bin', Buffer.alloc(1000));
      await rejectsWith(small.put('big.bin', generated(5000).stream), 'REQUEST_TOO_LARGE');
      await rejectsWith(small.put('ok.bin', Buffer.alloc(1001)), 'REQUEST_TOO_LARGE');
      assert.deepEqual(await small.list(), [{ path: 'ok.bin', is_dir: false, file_size: 1000 }]);

      const repo = await target.make();
      const size = 6 * 1024 * 1024 + 123; // above one multipart part on S3
      const { stream, digest } = generated(size, 42);
      assert.deepEqual(await repo.put('large/blob.bin', stream), { size });
      const back = await repo.get('large/blob.bin');
      assert.equal(back.size, size);
      const h = createHash('sha256');
      for await (const c of back.stream) h.update(c as Uint8Array);
      assert.equal(h.digest('hex'), await digest);
    });
  });
}
