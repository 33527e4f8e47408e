import { InputError } from '../../errors.js';
import { isLocalSource } from './source-rules.js';
import { ALL_STAGES, type KeyValue } from './store.js';

/** MLflow's limits (mlflow/utils/validation.py). */
export const MAX_REGISTRY_TAG_KEY_LENGTH = 250;
export const MAX_REGISTRY_TAG_VALUE_LENGTH = 5000;
export const MAX_ALIAS_LENGTH = 255;
export const MAX_MODEL_NAME_LENGTH = 256;

export const missingValue = (path: string) => `Missing value for required parameter '${path}'.`;

export function validateModelName(name: unknown, path = 'name'): asserts name is string {
  if (typeof name !== 'string' || name === '') throw new InputError(missingValue(path));
  if (name.length > MAX_MODEL_NAME_LENGTH) {
    throw new InputError(`'${path}' exceeds the maximum length of ${MAX_MODEL_NAME_LENGTH} characters`);
  }
}

/** Versions travel as strings; MLflow requires them to be integers. Returns the number. */
export function validateVersion(version: unknown): number {
  const s = typeof version === 'number' ? String(version) : version;
  if (typeof s !== 'string' || s === '') throw new InputError(missingValue('version'));
  if (!/^\s*[-+]?\d+\s*$/.test(s))
    throw new InputError(`Parameter 'version' must be an integer, got '${s}'.`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new InputError(`Parameter 'version' must be an integer, got '${s}'.`);
  return n;
}

export function validateAlias(alias: unknown): asserts alias is string {
  if (typeof alias !== 'string' || alias === '') {
    throw new InputError('Registered model alias name cannot be empty.');
  }
  if (!/^[\w-]*$/.test(alias)) {
    throw new InputError(
      `Invalid alias name: '${alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-).`,
    );
  }
  if (alias.length > MAX_ALIAS_LENGTH) {
    throw new InputError(
      `'Registered model alias name' exceeds the maximum length of ${MAX_ALIAS_LENGTH} characters`,
    );
  }
  if (alias.toLowerCase() === 'latest')
    throw new InputError("'latest' alias name (case insensitive) is reserved.");
  if (/^[vV]\d+$/.test(alias)) throw new InputError(`Version alias name '${alias}' is reserved.`);
}

function pathNotUnique(name: string): boolean {
  // posixpath.normpath equivalence: no empty, '.', or '..' segments, no leading or trailing slash.
  if (name.startsWith('/') || (name.endsWith('/') && name.length > 1)) return true;
  const parts = name.split('/');
  return parts.some((p, i) => p === '..' || p === '.' || (p === '' && i > 0)) || name === '.';
}

export function validateTagKey(key: unknown, path = 'key'): asserts key is string {
  if (typeof key !== 'string' || key === '') throw new InputError(missingValue(path));
  if (!/^[/\w.\- :]*$/.test(key)) {
    throw new InputError(
      `Invalid value ${JSON.stringify(key)} for parameter '${path}' supplied: Names may only contain alphanumerics, ` +
        'underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).',
    );
  }
  if (pathNotUnique(key)) {
    throw new InputError(
      `Invalid value ${JSON.stringify(key)} for parameter '${path}' supplied: Names may be treated as files in ` +
        'certain cases, and must not resolve to other names when treated as such.',
    );
  }
  if (key.length > MAX_REGISTRY_TAG_KEY_LENGTH) {
    throw new InputError(`'key' exceeds the maximum length of ${MAX_REGISTRY_TAG_KEY_LENGTH} characters`);
  }
}

export function validateTag(tag: KeyValue | undefined): KeyValue {
  validateTagKey(tag?.key);
  const value = tag?.value ?? '';
  if (typeof value !== 'string')
    throw new InputError(`Invalid value for parameter 'value': expected a string.`);
  if (value.length > MAX_REGISTRY_TAG_VALUE_LENGTH) {
    throw new InputError(`'value' exceeds the maximum length of ${MAX_REGISTRY_TAG_VALUE_LENGTH} characters`);
  }
  return { key: tag!.key, value };
}

/** Deduplicates tags by key, last one winning (as MLflow's dict conversion does). */
export function validateTags(tags: KeyValue[] | undefined): KeyValue[] {
  const byKey = new Map<string, KeyValue>();
  for (const t of tags ?? []) {
    const v = validateTag(t);
    byKey.set(v.key, v);
  }
  return [...byKey.values()];
}

/** The canonical spelling of a stage (case-insensitive), or INVALID_PARAMETER_VALUE. */
export function canonicalStage(stage: unknown): string {
  if (typeof stage === 'string') {
    const found = ALL_STAGES.find((s) => s.toLowerCase() === stage.toLowerCase());
    if (found) return found;
  }
  throw new InputError(
    `Invalid Model Version stage: ${String(stage)}. Value must be one of ${ALL_STAGES.join(', ')}.`,
  );
}

/**
 * MLflow's `_validate_non_local_source_contains_relative_paths`: a source must not climb out of its
 * location with `..` (also percent-encoded) or contain NUL.
 */
export function validateSource(source: unknown): asserts source is string {
  if (typeof source !== 'string' || source === '') throw new InputError(missingValue('source'));
  // Local paths are checked against the run's artifact directory (checkModelVersionSource), where `..` that
  // stays inside is fine, as in MLflow.
  if (isLocalSource(source)) return;
  let decoded = source;
  for (let i = 0; i < 5; i++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded.replace(/\+/g, ' '));
    } catch {
      break;
    }
    if (next === decoded) break;
    decoded = next;
  }
  if (decoded.includes('\0') || decoded.split(/[/\\]/).some((p) => p === '..')) {
    throw new InputError(
      `Invalid model version source: '${source}'. If supplying a source as an http, https, local file path, ftp, ` +
        'objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references ' +
        'present. Please provide an absolute path.',
    );
  }
}

/** Clamps and checks `max_results` against a server cap (INVALID_PARAMETER_VALUE above it, as MLflow). */
export function validateMaxResults(value: unknown, dflt: number, cap: number): number {
  if (value === undefined || value === null || value === '') return dflt;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new InputError(
      `Invalid value for max_results. It must be a positive integer, but got ${String(value)}`,
    );
  }
  if (n > cap) {
    throw new InputError(
      `Invalid value for request parameter max_results. It must be at most ${cap}, but got value ${n}`,
    );
  }
  return n;
}
