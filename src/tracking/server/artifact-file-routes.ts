import { basename, extname } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import { InputError, TasselError } from '../../errors.js';
import { joinArtifactPath, normalizeArtifactPath } from '../artifacts/paths.js';
import type { ArtifactRepository } from '../artifacts/types.js';
import type { RegistryStore } from '../registry/store.js';
import type { TrackingStore } from '../store/types.js';
import { type ArtifactLocation, artifactLocationOf } from './run-artifacts.js';

/** Options of {@link artifactFileRoutes}. */
export interface ArtifactFileRoutesOptions {
  trackingStore: TrackingStore;
  /** For `model-versions/get-artifact` and logged-model files; without it those answer 404 ENDPOINT_NOT_FOUND. */
  registryStore?: RegistryStore;
  /** The proxied destination behind `mlflow-artifacts:` URIs. */
  artifactRepository?: ArtifactRepository;
  /** Largest upload-artifact body (MLflow: 10 MB). */
  maxUploadBytes?: number;
  /**
   * `root`: the downloads MLflow serves outside its API (`/get-artifact`, `/model-versions/get-artifact`);
   * `api`: the ones under the API prefixes (`upload-artifact`, `logged-models/:id/artifacts/files`).
   */
  scope: 'root' | 'api';
}

/** MLflow's TEXT_EXTENSIONS: served as text/plain (MLmodel and MLproject files have no extension). */
const TEXT_EXTENSIONS = new Set(
  'txt log err cfg conf cnf cf ini properties prop hocon toml yaml yml xml json js py py3 csv tsv md rst MLmodel mlproject'.split(
    ' ',
  ),
);
const MIME_TYPES: Record<string, string> = {
  html: 'text/html',
  htm: 'text/html',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  svg: 'image/svg+xml',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  pkl: 'application/octet-stream',
  parquet: 'application/octet-stream',
};

/** MLflow's `_guess_mime_type`: text for its text extensions, the usual type by extension, else binary. */
export function guessMimeType(path: string): string {
  const name = basename(path);
  const ext = extname(name).replace('.', '') || name;
  if (TEXT_EXTENSIONS.has(ext)) return 'text/plain';
  return MIME_TYPES[ext.toLowerCase()] ?? 'application/octet-stream';
}

/** Streams one artifact as an attachment, with MLflow's headers (never rendered inline: XSS). */
async function sendArtifact(reply: FastifyReply, location: ArtifactLocation, rel: string): Promise<unknown> {
  if (!rel) throw new InputError('Invalid path');
  const { stream, size } = await location.repo.get(joinArtifactPath(location.base, rel));
  const type = guessMimeType(rel);
  reply.header('content-type', type);
  reply.header('content-length', String(size));
  reply.header('content-disposition', `attachment; filename=${basename(rel).replace(/[";\r\n]/g, '_')}`);
  reply.header('x-content-type-options', 'nosniff');
  return reply.send(stream);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * The artifact endpoints MLflow's web UI and clients call outside the JSON API: `GET /get-artifact`
 * (`run_id` or `run_uuid`, `path`), `GET /model-versions/get-artifact` (`name`, `version`, `path`),
 * `POST upload-artifact` (`run_uuid`, `path`, the file as the body, at most 10 MB) and
 * `GET logged-models/:model_id/artifacts/files` (`artifact_file_path`). Paths follow MLflow's
 * validate_path_is_safe ("Invalid path").
 */
export const artifactFileRoutes: FastifyPluginAsync<ArtifactFileRoutesOptions> = async (app, opts) => {
  const maxUpload = opts.maxUploadBytes ?? 10 * 1024 * 1024;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxUpload }, (_req, body, done) =>
    done(null, body),
  );
  const querySchema = (fields: string[]) => ({
    querystring: {
      type: 'object',
      properties: Object.fromEntries(fields.map((f) => [f, { type: 'string' }])),
    },
  });

  if (opts.scope === 'api') {
    apiRoutes(app, opts, maxUpload, querySchema);
    return;
  }
  app.get('/get-artifact', { schema: querySchema(['run_id', 'run_uuid', 'path']) }, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const runId = str(q.run_id) ?? str(q.run_uuid);
    if (!runId) throw new InputError("Missing value for required parameter 'run_id'.");
    const rel = normalizeArtifactPath(q.path ?? '');
    const run = await opts.trackingStore.getRun(runId);
    return sendArtifact(reply, artifactLocationOf(run.info.artifact_uri, opts.artifactRepository), rel);
  });

  app.get(
    '/model-versions/get-artifact',
    { schema: querySchema(['name', 'version', 'path']) },
    async (req, reply) => {
      const registry = opts.registryStore;
      if (!registry) throw new TasselError('ENDPOINT_NOT_FOUND', 'The model registry is not enabled.');
      const q = req.query as Record<string, string | undefined>;
      const rel = normalizeArtifactPath(q.path ?? '');
      const uri = await registry.getModelVersionDownloadUri(q.name ?? '', q.version ?? '');
      return sendArtifact(reply, artifactLocationOf(uri, opts.artifactRepository), rel);
    },
  );
};

type QuerySchema = (fields: string[]) => object;

function apiRoutes(
  app: FastifyInstance,
  opts: ArtifactFileRoutesOptions,
  maxUpload: number,
  querySchema: QuerySchema,
): void {
  app.get(
    '/logged-models/:model_id/artifacts/files',
    {
      schema: {
        ...querySchema(['artifact_file_path']),
        params: { type: 'object', properties: { model_id: { type: 'string' } } },
      },
    },
    async (req, reply) => {
      const registry = opts.registryStore;
      if (!registry) throw new TasselError('ENDPOINT_NOT_FOUND', 'The model registry is not enabled.');
      const q = req.query as Record<string, string | undefined>;
      if (!str(q.artifact_file_path)) {
        throw new TasselError(
          'BAD_REQUEST',
          'Request must include the "artifact_file_path" query parameter.',
        );
      }
      const rel = normalizeArtifactPath(q.artifact_file_path);
      const model = await registry.getLoggedModel((req.params as { model_id: string }).model_id);
      return sendArtifact(reply, artifactLocationOf(model.info.artifact_uri, opts.artifactRepository), rel);
    },
  );

  app.post(
    '/upload-artifact',
    {
      schema: querySchema(['run_uuid', 'path']),
      // MLflow refuses a declared length over the limit with 400 before reading the body
      onRequest: async (req) => {
        const declared = Number(req.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxUpload) {
          throw new InputError(
            `Artifact size is too large. Max size is ${Math.round(maxUpload / 1024 / 1024)}MB.`,
          );
        }
      },
    },
    async (req) => {
      const q = req.query as Record<string, string | undefined>;
      const runId = str(q.run_uuid);
      if (!runId) throw new InputError('Request must specify run_uuid.');
      if (!str(q.path)) throw new InputError('Request must specify path.');
      const rel = normalizeArtifactPath(q.path);
      if (!rel) throw new InputError('Invalid path');
      const data = req.body as Buffer | undefined;
      if (!data || data.length === 0) throw new InputError('Request must specify data.');
      const run = await opts.trackingStore.getRun(runId);
      const location = artifactLocationOf(run.info.artifact_uri, opts.artifactRepository);
      await location.repo.put(joinArtifactPath(location.base, rel), data);
      return {};
    },
  );
}
