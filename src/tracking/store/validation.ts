import { posix } from 'node:path';
import { InputError } from '../../errors.js';
import type { KeyValue, Metric } from './types.js';

/** MLflow's limits (mlflow/utils/validation.py). */
export const LIMITS = {
  maxMetricsPerBatch: 1000,
  maxParamsTagsPerBatch: 100,
  maxEntitiesPerBatch: 1000,
  maxEntityKeyLength: 250,
  maxParamValueLength: 6000,
  maxTagValueLength: 8000,
  maxExperimentTagValueLength: 5000,
  maxExperimentNameLength: 500,
  maxRunNameLength: 250,
  maxDatasetsPerCall: 1000,
} as const;

const VALID_NAME = /^[/\w.\- :]*$/;
const BAD_CHARACTERS =
  'Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).';

function badPath(name: string): string {
  return (
    'Names may be treated as files in certain cases, and must not resolve to other names when treated as such. ' +
    `This name would resolve to '${posix.normalize(name)}'`
  );
}

/** Validates a metric, param or tag name the way MLflow does. */
export function validateName(kind: 'metric' | 'param' | 'tag', name: string): void {
  if (typeof name !== 'string' || name === '') {
    throw new InputError(`Invalid ${kind} name: '${name}'. ${BAD_CHARACTERS}`);
  }
  if (!VALID_NAME.test(name)) throw new InputError(`Invalid ${kind} name: '${name}'. ${BAD_CHARACTERS}`);
  const norm = posix.normalize(name);
  if (norm !== name || norm === '.' || norm.startsWith('..') || norm.startsWith('/') || name.endsWith('/')) {
    throw new InputError(`Invalid ${kind} name: '${name}'. ${badPath(name)}`);
  }
  validateLength(`${kind[0].toUpperCase()}${kind.slice(1)} name`, LIMITS.maxEntityKeyLength, name);
}

/** MLflow's "had length N, which exceeded length limit of M" check. */
export function validateLength(entity: string, limit: number, value: string | undefined): void {
  if (value !== undefined && value.length > limit) {
    throw new InputError(
      `${entity} '${value.slice(0, 250)}' had length ${value.length}, which exceeded length limit of ${limit}`,
    );
  }
}

function batchLimit(entity: string, limit: number, length: number): void {
  if (length > limit) {
    throw new InputError(
      `A batch logging request can contain at most ${limit} ${entity}. Got ${length} ${entity}. ` +
        `Please split up ${entity} across multiple requests and try again.`,
    );
  }
}

/** log-batch limits, key and value checks, and duplicate param keys, before touching the database. */
export function validateBatch(metrics: Metric[], params: KeyValue[], tags: KeyValue[]): void {
  batchLimit('metrics', LIMITS.maxMetricsPerBatch, metrics.length);
  batchLimit('params', LIMITS.maxParamsTagsPerBatch, params.length);
  batchLimit('tags', LIMITS.maxParamsTagsPerBatch, tags.length);
  const total = metrics.length + params.length + tags.length;
  if (total > LIMITS.maxEntitiesPerBatch) {
    throw new InputError(
      `A batch logging request can contain at most ${LIMITS.maxEntitiesPerBatch} metrics, params, and tags in total. ` +
        `Got ${total} in total. Please split up metrics, params, and tags across multiple requests and try again.`,
    );
  }
  const checkedKeys = new Set<string>();
  for (const m of metrics) {
    // A batch repeats a few keys many times (one per step): check each name once.
    if (!checkedKeys.has(m.key)) {
      validateName('metric', m.key);
      checkedKeys.add(m.key);
    }
    if (typeof m.value !== 'number') {
      throw new InputError(
        `Got invalid value ${String(m.value)} for metric '${m.key}' (timestamp=${m.timestamp}). Please specify value as a valid double (64-bit floating point)`,
      );
    }
    if (!Number.isSafeInteger(m.timestamp)) {
      throw new InputError(
        `Got invalid timestamp ${m.timestamp} for metric '${m.key}' (value=${m.value}). Timestamp must be a nonnegative long (64-bit integer) `,
      );
    }
    if (!Number.isSafeInteger(m.step)) {
      throw new InputError(
        `Got invalid step ${m.step} for metric '${m.key}' (value=${m.value}). Step must be a valid long (64-bit integer).`,
      );
    }
  }
  const seen = new Map<string, string>();
  const dupes = new Set<string>();
  for (const p of params) {
    validateName('param', p.key);
    validateLength('Param value', LIMITS.maxParamValueLength, p.value);
    const prev = seen.get(p.key);
    if (prev !== undefined && prev !== p.value) dupes.add(p.key);
    seen.set(p.key, p.value);
  }
  if (dupes.size) {
    throw new InputError(
      `Duplicate parameter keys have been submitted: [${[...dupes].map((k) => `'${k}'`).join(', ')}]. Please ensure the request contains only one param value per param key.`,
    );
  }
  for (const t of tags) {
    validateName('tag', t.key);
    validateLength('Tag value', LIMITS.maxTagValueLength, t.value);
  }
}

/** Experiment names: non-empty strings of at most 500 characters. */
export function validateExperimentName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new InputError(`Invalid experiment name: '${String(name ?? '')}'`);
  }
  validateLength('Experiment name', LIMITS.maxExperimentNameLength, name);
}
