import { basename } from 'node:path';
import { TasselError } from '../../errors.js';
import { joinArtifactPath, normalizeArtifactPath } from '../artifacts/paths.js';
import { createArtifactRepository } from '../artifacts/registry.js';
import type { ArtifactRepository, FileInfo } from '../artifacts/types.js';

/**
 * The path inside the proxied destination that an `mlflow-artifacts:` URI names, or undefined for other
 * URIs. Accepts `mlflow-artifacts:/0/x`, `mlflow-artifacts:///0/x` and `mlflow-artifacts://host:port/0/x`.
 */
export function mlflowArtifactsPath(uri: string): string | undefined {
  if (!uri.startsWith('mlflow-artifacts:')) return undefined;
  let rest = uri.slice('mlflow-artifacts:'.length);
  if (rest.startsWith('//')) rest = rest.slice(2).replace(/^[^/]*/, '');
  return normalizeArtifactPath(rest.replace(/^\/+/, ''));
}

/** An artifact URI as a repository and the base path inside it. */
export interface ArtifactLocation {
  repo: ArtifactRepository;
  base: string;
}

/**
 * Where an artifact URI lives: `mlflow-artifacts:` URIs inside the proxied destination (NOT_IMPLEMENTED
 * without one), other URIs in a repository of their own scheme.
 */
export function artifactLocationOf(
  artifactUri: string,
  proxied: ArtifactRepository | undefined,
): ArtifactLocation {
  const inProxy = mlflowArtifactsPath(artifactUri);
  if (inProxy === undefined) return { repo: createArtifactRepository(artifactUri), base: '' };
  if (!proxied) {
    throw new TasselError(
      'NOT_IMPLEMENTED',
      'This server has no --artifacts-destination to resolve mlflow-artifacts URIs.',
    );
  }
  return { repo: proxied, base: inProxy };
}

/**
 * MLflow's artifacts/list for a run: the direct children of `path` under the run's artifact URI, with
 * paths relative to that URI. `mlflow-artifacts:` URIs resolve through the proxy's destination.
 */
export async function listRunArtifacts(
  artifactUri: string,
  path: string | undefined,
  proxied: ArtifactRepository | undefined,
): Promise<{ root_uri: string; files: FileInfo[] }> {
  const rel = normalizeArtifactPath(path);
  const { repo, base } = artifactLocationOf(artifactUri, proxied);
  const entries = await repo.list(joinArtifactPath(base, rel));
  const files = entries.map((f) => ({ ...f, path: joinArtifactPath(rel, basename(f.path)) }));
  return { root_uri: artifactUri, files };
}
