import { isAbsolute, resolve } from 'node:path';
import { InputError } from '../../errors.js';

/** A URI MLflow treats as local: no scheme (a path) or `file:` without a host other than localhost. */
export function isLocalUri(uri: string): boolean {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) return true;
  if (scheme !== 'file') return false;
  const host = /^file:\/\/([^/]*)/i.exec(uri)?.[1] ?? '';
  return host === '' || host === 'localhost';
}

/** The filesystem path of a local URI (`file:///a/b`, `file:a/b`, `/a/b`, `a/b`), percent-decoded. */
export function localUriToPath(uri: string): string {
  if (!/^file:/i.test(uri)) return uri;
  const rest = uri.slice('file:'.length).replace(/^\/\/(localhost)?(?=\/|$)/i, '');
  const path = rest.split(/[?#]/)[0];
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * MLflow's `resolve_uri_if_local`: a relative local path or `file:` URI becomes absolute against the
 * server's working directory (a path stays a path, a `file:` URI stays a `file:` URI); others are unchanged.
 */
export function resolveUriIfLocal(uri: string, cwd = process.cwd()): string {
  if (!isLocalUri(uri)) return uri;
  const path = localUriToPath(uri);
  if (isAbsolute(path)) return uri;
  const absolute = resolve(cwd, path);
  if (!/^file:/i.test(uri)) return absolute;
  const tail = /[?#].*$/.exec(uri.slice('file:'.length))?.[0] ?? '';
  return `file://${absolute}${tail}`;
}

/**
 * MLflow's checks on a new experiment's `artifact_location` (`_validate_artifact_root_uri`): no fragment or
 * `;params`, no `..` in the query, not a `runs:/` URI, at most 2048 characters. Returns it resolved as
 * {@link resolveUriIfLocal} does.
 */
export function checkedArtifactLocation(location: string): string {
  let decodedQuery = '';
  const q = location.indexOf('?');
  if (q >= 0) {
    decodedQuery = location.slice(q + 1).split('#')[0];
    try {
      decodedQuery = decodeURIComponent(decodedQuery);
    } catch {
      // keep the raw query
    }
  }
  const pathPart = location.split(/[?#]/)[0];
  if (location.includes('#') || /;[^/]*$/.test(pathPart.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, ''))) {
    throw new InputError("'artifact_location' URL can't include fragments or params.");
  }
  if (decodedQuery.includes('..')) throw new InputError('Invalid query string');
  if (location.startsWith('runs:')) {
    throw new InputError(`Artifact location cannot be a runs:/ URI. Given: '${location}'`);
  }
  if (location.length > 2048) {
    throw new InputError(
      `Invalid artifact path length. The length of the artifact path cannot be greater than 2048 characters. ` +
        `To configure this limit, please set the MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH environment variable.`,
    );
  }
  return resolveUriIfLocal(location);
}
