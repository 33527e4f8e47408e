import { InputError } from '../../errors.js';

/**
 * Validates and normalises a relative artifact path: `/`-separated, no `..` segment, not absolute, no NUL
 * byte, no drive letter or backslash escape. `''`, `.` and `./` mean the root. Returns the path without
 * leading `./`, duplicate or trailing slashes.
 */
export function normalizeArtifactPath(path: string | undefined): string {
  if (path === undefined) return '';
  if (path.includes('\0')) throw new InputError('Invalid path: it contains a NUL byte.');
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path)) {
    throw new InputError(`Invalid path '${path}': absolute paths are not allowed.`);
  }
  const parts = path.split(/[/\\]+/).filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new InputError(`Invalid path '${path}': '..' is not allowed.`);
  return parts.join('/');
}

/** Joins normalised relative paths with `/`, skipping empty ones. */
export function joinArtifactPath(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}

/** Default largest single artifact: 5 GiB. */
export const DEFAULT_MAX_ARTIFACT_BYTES = 5 * 1024 ** 3;
