import { basename, extname } from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { TasselError } from '../../errors.js';
import { normalizeArtifactPath } from '../artifacts/paths.js';
import type { ArtifactRepository } from '../artifacts/types.js';

/** Options of the artifact proxy plugin. */
export interface ArtifactProxyRoutesOptions {
  /** The `--artifacts-destination`; absent means proxying is off (501). */
  repository?: ArtifactRepository;
  /** Largest upload in bytes; larger bodies get 413 and nothing is written. */
  maxArtifactBytes: number;
}

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.txt': 'text/plain',
  '.log': 'text/plain',
  '.yaml': 'text/plain',
  '.yml': 'text/plain',
  '.csv': 'text/csv',
  '.html': 'text/html',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.svg': 'image/svg+xml',
};

/**
 * MLflow's artifact proxy (`mlflow server --serve-artifacts`): `PUT /artifacts/<path>` stores the raw body,
 * `GET /artifacts/<path>` streams a file back, `GET /artifacts?path=` lists a directory (base names, as
 * MLflow answers) and `DELETE /artifacts/<path>` removes a file or directory.
 */
export const artifactProxyRoutes: FastifyPluginAsync<ArtifactProxyRoutesOptions> = async (app, opts) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  const repo = (): ArtifactRepository => {
    if (!opts.repository) {
      throw new TasselError(
        'NOT_IMPLEMENTED',
        'Artifact proxying is disabled on this server: start it with --artifacts-destination.',
      );
    }
    return opts.repository;
  };
  const pathParam = (params: unknown) => normalizeArtifactPath((params as { '*': string })['*'] ?? '');

  app.get('/artifacts', async (req) => {
    const q = req.query as { path?: string };
    const rel = normalizeArtifactPath(typeof q.path === 'string' ? q.path : '');
    const files = (await repo().list(rel)).map((f) => ({ ...f, path: basename(f.path) }));
    return { files };
  });

  app.get('/artifacts/*', async (req, reply) => {
    const rel = pathParam(req.params);
    const { stream, size } = await repo().get(rel);
    reply.header('content-type', CONTENT_TYPES[extname(rel).toLowerCase()] ?? 'application/octet-stream');
    reply.header('content-length', String(size));
    reply.header('content-disposition', `attachment; filename="${basename(rel).replace(/"/g, '')}"`);
    return reply.send(stream);
  });

  app.put('/artifacts/*', async (req) => {
    const r = repo();
    const rel = pathParam(req.params);
    if (!rel)
      throw new TasselError('INVALID_PARAMETER_VALUE', 'Invalid path: an artifact needs a file name.');
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > opts.maxArtifactBytes) {
      throw new TasselError(
        'REQUEST_TOO_LARGE',
        `Artifact is larger than the limit of ${opts.maxArtifactBytes} bytes.`,
      );
    }
    const body = req.body as Readable | undefined;
    await r.put(rel, body ?? new Uint8Array());
    return {};
  });

  app.delete('/artifacts/*', async (req) => {
    await repo().delete(pathParam(req.params));
    return {};
  });

  // MLflow's multipart upload and presigned download: not offered here. MLflow answers 501 NOT_IMPLEMENTED
  // with these messages for repositories without them, and its client then uploads with one PUT.
  const unsupported = (message: string) => async (req: { params: unknown }) => {
    pathParam(req.params);
    throw new TasselError('NOT_IMPLEMENTED', message);
  };
  const noMultipartUpload = unsupported(
    'Multipart upload is not supported for the current artifact repository',
  );
  for (const step of ['create', 'complete', 'abort']) app.post(`/mpu/${step}/*`, noMultipartUpload);
  app.get(
    '/presigned/*',
    unsupported('Multipart download is not supported for the current artifact repository'),
  );
};
