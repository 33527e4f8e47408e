import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { runArtifactRepositoryContract } from '../../../src/tracking/artifacts/contract.js';
import { createS3ArtifactRepository } from '../../../src/tracking/artifacts/s3/s3-artifact-repository.js';

// The same contract as the local repository, against a real S3-protocol server on loopback.
runArtifactRepositoryContract('S3 (s3rver on loopback)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tassel-s3rver-'));
  const s3rver = new S3rver({ port: 0, address: '127.0.0.1', directory: dir, silent: true });
  const { port } = (await s3rver.run()) as unknown as { port: number };
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  await client.send(new CreateBucketCommand({ Bucket: 'tassel-artifacts' }));
  let n = 0;
  return {
    make: async (maxArtifactBytes) =>
      createS3ArtifactRepository({
        uri: `s3://tassel-artifacts/run-${n++}/artifacts`,
        client,
        maxArtifactBytes,
        partSize: 5 * 1024 * 1024,
      }),
    close: async () => {
      client.destroy();
      await s3rver.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
