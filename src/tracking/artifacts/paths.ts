import { InputError } from '../../errors.js';

/** Percent-decodes until stable (at most 10 rounds), as MLflow's `_decode` does before checking a path. */
function fullyDecoded(path: string): string {
  let current = path;
  for (let i = 0; i < 10; i++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      return current;
    }
    if (next === current) return current;
    current = next;
  }
  return current;
}

/**
 * Validates and normalises a relative artifact path with MLflow's `validate_path_is_safe` rules, checked on
 * the percent-decoded form: no `..` segment, not absolute (`/x`, `\\x`, `C:`), no backslash, `#` or NUL.
 * A refused path is 400 INVALID_PARAMETER_VALUE with MLflow's message "Invalid path". `''`, `.` and `./`
 * mean the root. Returns the path without leading `./`, duplicate or trailing slashes.
 */
export function normalizeArtifactPath(path: string | undefined): string {
  if (path === undefined) return '';
  const decoded = fullyDecoded(path);
  for (const p of [path, decoded]) {
    if (
      p.includes('\0') ||
      p.includes('#') ||
      p.includes('\\') ||
      p.startsWith('/') ||
      /^[A-Za-z]:/.test(p) ||
      p.split('/').includes('..')
    ) {
      throw new InputError('Invalid path');
    }
  }
  return path
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

/** Joins normalised relative paths with `/`, skipping empty ones. */
export function joinArtifactPath(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}

/** Default largest single artifact: 5 GiB. */
export const DEFAULT_MAX_ARTIFACT_BYTES = 5 * 1024 ** 3;
