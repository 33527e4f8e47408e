import { InputError } from '../../errors.js';
import { createLocalArtifactRepository } from './local/local-artifact-repository.js';
import { type S3ArtifactRepositoryOptions, createS3ArtifactRepository } from './s3/s3-artifact-repository.js';
import type { ArtifactRepository, ArtifactRepositoryOptions } from './types.js';

/** Options passed to every repository factory; `s3` extras are used only for `s3://` URIs. */
export interface CreateArtifactRepositoryOptions extends ArtifactRepositoryOptions {
  s3?: Omit<S3ArtifactRepositoryOptions, 'uri'>;
}

type Factory = (uri: string, options: CreateArtifactRepositoryOptions) => ArtifactRepository;

/** URI scheme -> repository factory. A plain path (no scheme) is a local directory. */
export const ARTIFACT_REPOSITORY_SCHEMES: Readonly<Record<string, Factory>> = {
  file: (uri, o) => createLocalArtifactRepository({ uri, maxArtifactBytes: o.maxArtifactBytes }),
  s3: (uri, o) => createS3ArtifactRepository({ ...(o.s3 ?? {}), uri, maxArtifactBytes: o.maxArtifactBytes }),
  s3a: (uri, o) => createS3ArtifactRepository({ ...(o.s3 ?? {}), uri, maxArtifactBytes: o.maxArtifactBytes }),
};

/**
 * Picks the artifact repository for a URI by its scheme (`file:`, `s3:`; a plain path is local). An
 * unknown scheme is a 400 listing the known ones.
 */
export function createArtifactRepository(
  uri: string,
  options: CreateArtifactRepositoryOptions = {},
): ArtifactRepository {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri);
  if (!m || /^[a-zA-Z]$/.test(m[1])) return ARTIFACT_REPOSITORY_SCHEMES.file(uri, options);
  const factory = ARTIFACT_REPOSITORY_SCHEMES[m[1].toLowerCase()];
  if (!factory) {
    throw new InputError(
      `Could not find an artifact repository for URI '${uri}'. Known schemes: ${Object.keys(ARTIFACT_REPOSITORY_SCHEMES).join(', ')} (and plain paths).`,
    );
  }
  return factory(uri, options);
}
