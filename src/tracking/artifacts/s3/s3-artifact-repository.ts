import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { InputError, TasselError } from '../../../errors.js';
import { ByteLimit } from '../limit.js';
import { DEFAULT_MAX_ARTIFACT_BYTES, joinArtifactPath, normalizeArtifactPath } from '../paths.js';
import type { ArtifactRepository, ArtifactRepositoryOptions, FileInfo } from '../types.js';

/** Options of {@link createS3ArtifactRepository}. */
export interface S3ArtifactRepositoryOptions extends ArtifactRepositoryOptions {
  /** `s3://bucket/optional/prefix`. */
  uri: string;
  /** A ready client; otherwise one is built from the fields below and the AWS environment. */
  client?: S3Client;
  /** Endpoint for S3-compatible servers; default MLFLOW_S3_ENDPOINT_URL or AWS_ENDPOINT_URL. */
  endpoint?: string;
  /** Path-style addressing (MinIO, s3rver); default true when an endpoint is set. */
  forcePathStyle?: boolean;
  region?: string;
  credentials?: S3ClientConfig['credentials'];
  /** Multipart part size in bytes (default 8 MiB); uploads larger than one part go multipart. */
  partSize?: number;
  /** Per-request timeout in ms (default 60,000). */
  requestTimeoutMs?: number;
  env?: Record<string, string | undefined>;
}

/** Splits `s3://bucket/prefix` into bucket and prefix (no trailing slash). */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const m = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new InputError(`Invalid S3 URI '${uri}': expected s3://bucket/prefix`);
  return { bucket: m[1], prefix: m[2].replace(/\/+$/, '') };
}

function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err?.name === 'NoSuchKey' || err?.name === 'NotFound' || err?.$metadata?.httpStatusCode === 404;
}

/**
 * Artifacts in an S3 bucket under a prefix. Uploads stream through `@aws-sdk/lib-storage` (multipart above
 * one part; an object appears only when complete); downloads stream the object body.
 */
export function createS3ArtifactRepository(options: S3ArtifactRepositoryOptions): ArtifactRepository {
  const { bucket, prefix } = parseS3Uri(options.uri);
  const env = options.env ?? process.env;
  const endpoint = options.endpoint ?? env.MLFLOW_S3_ENDPOINT_URL ?? env.AWS_ENDPOINT_URL;
  const client =
    options.client ??
    new S3Client({
      region: options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
      ...(endpoint ? { endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? Boolean(endpoint),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { requestTimeout: options.requestTimeoutMs ?? 60_000 },
    });
  const max = options.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
  const key = (rel: string) => joinArtifactPath(prefix, rel);
  const relOf = (k: string) => (prefix ? k.slice(prefix.length + 1) : k);

  async function listPage(pfx: string, token: string | undefined, delimiter: boolean) {
    return (await client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: pfx,
        ContinuationToken: token,
        ...(delimiter ? { Delimiter: '/' } : {}),
      }),
    )) as ListObjectsV2CommandOutput;
  }

  return {
    rootUri: `s3://${bucket}${prefix ? `/${prefix}` : ''}`,
    async put(path, body) {
      const rel = normalizeArtifactPath(path);
      if (!rel) throw new InputError('Invalid path: an artifact needs a file name.');
      const limit = new ByteLimit(max);
      const source = body instanceof Readable ? body : Readable.from([Buffer.from(body)]);
      source.on('error', (e) => limit.destroy(e));
      source.pipe(limit);
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: key(rel), Body: limit },
        partSize: Math.max(5 * 1024 * 1024, options.partSize ?? 8 * 1024 * 1024),
        queueSize: 2,
        leavePartsOnError: false,
      });
      let failure: unknown;
      limit.on('error', (e) => {
        failure = e;
        void upload.abort().catch(() => {});
      });
      try {
        await upload.done();
      } catch (e) {
        throw failure ?? e;
      }
      if (failure) throw failure;
      return { size: limit.bytes };
    },
    async get(path) {
      const rel = normalizeArtifactPath(path);
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key(rel) }));
        return { stream: out.Body as Readable, size: Number(out.ContentLength ?? 0) };
      } catch (e) {
        if (isNotFound(e))
          throw new TasselError('RESOURCE_DOES_NOT_EXIST', `Artifact '${rel}' does not exist.`);
        throw e;
      }
    },
    async list(path) {
      const rel = normalizeArtifactPath(path);
      const pfx = rel || prefix ? `${key(rel)}/` : '';
      const out: FileInfo[] = [];
      let token: string | undefined;
      do {
        const page = await listPage(pfx, token, true);
        for (const cp of page.CommonPrefixes ?? []) {
          if (cp.Prefix) out.push({ path: relOf(cp.Prefix.replace(/\/$/, '')), is_dir: true });
        }
        for (const obj of page.Contents ?? []) {
          if (!obj.Key || obj.Key === pfx) continue;
          out.push({ path: relOf(obj.Key), is_dir: false, file_size: Number(obj.Size ?? 0) });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },
    async delete(path) {
      const rel = normalizeArtifactPath(path);
      if (!rel) throw new InputError('Invalid path: refusing to delete the artifact root.');
      let found = false;
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key(rel) }));
        found = true;
        await client.send(
          new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: key(rel) }] } }),
        );
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      let token: string | undefined;
      do {
        const page = await listPage(`${key(rel)}/`, token, false);
        const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
        if (keys.length) {
          found = true;
          await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      if (!found) throw new TasselError('RESOURCE_DOES_NOT_EXIST', `Artifact '${rel}' does not exist.`);
    },
  };
}
