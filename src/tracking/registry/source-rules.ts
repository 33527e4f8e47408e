import { realpathSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import { InputError } from '../../errors.js';

/** MLflow's tag marking a registered model or version as a prompt. */
export const IS_PROMPT_TAG_KEY = 'mlflow.prompt.is_prompt';

/** Where the rules look up a run's or a logged model's artifact location. */
export interface SourceLookups {
  runArtifactUri(runId: string): Promise<string>;
  modelArtifactLocation(modelId: string): Promise<string>;
}

export interface NewVersionSource {
  source: string;
  run_id?: string;
  model_id?: string;
  tags?: Array<{ key: string }>;
}

interface ParsedUri {
  scheme: string;
  hostname: string;
  path: string;
}

/** `urllib.parse.urlparse` enough for these rules: scheme, host name (lower-cased, no port) and path. */
function parseUri(uri: string): ParsedUri {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(uri);
  if (!m) return { scheme: '', hostname: '', path: uri.split(/[?#]/)[0] };
  let rest = m[2].split(/[?#]/)[0];
  let hostname = '';
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    const netloc = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    rest = slash < 0 ? '' : rest.slice(slash);
    hostname = netloc
      .replace(/^.*@/, '')
      .replace(/:\d*$/, '')
      .replace(/^\[|\]$/g, '')
      .toLowerCase();
  }
  return { scheme: m[1].toLowerCase(), hostname, path: rest };
}

/**
 * MLflow's `is_local_uri` for a model-version source: a path, or a `file:` URI on this machine. A `file:`
 * URI naming another host is refused (MLflow raises there; 400 here).
 */
export function isLocalSource(uri: string): boolean {
  const p = parseUri(uri);
  if (p.scheme === '') return true;
  const remote =
    p.hostname !== '' &&
    p.hostname !== '.' &&
    !p.hostname.startsWith('localhost') &&
    !p.hostname.startsWith('127.0.0.1');
  if (p.scheme === 'file') {
    if (remote) {
      throw new InputError(
        `${uri} is not a valid remote uri. For remote access on windows, please consider using a different ` +
          'scheme such as SMB (e.g. smb://<hostname>/<path>).',
      );
    }
    return true;
  }
  return false;
}

/** An absolute, normalised path with symlinks resolved where the path exists (`Path.resolve()`). */
function resolvedPath(localUri: string): string {
  let path = parseUri(localUri).scheme === 'file' ? parseUri(localUri).path : localUri;
  try {
    path = decodeURIComponent(path);
  } catch {
    // keep it as given
  }
  const absolute = resolve(path);
  try {
    return realpathSync(absolute);
  } catch {
    return absolute;
  }
}

/** Whether `dir` is `path` or one of its parents. */
function contains(dir: string, path: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/**
 * MLflow's `_validate_non_local_source_contains_relative_paths`: after percent-decoding (`+` as space), the
 * source's path must hold no `..` or NUL and already be absolute and normalised.
 */
export function checkNonLocalSource(source: string): void {
  const refuse = () =>
    new InputError(
      `Invalid model version source: '${source}'. If supplying a source as an http, https, local file path, ftp, ` +
        'objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references ' +
        'present. Please provide an absolute path.',
    );
  let decoded = source;
  for (let i = 0; i < 100; i++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded.replace(/\+/g, ' '));
    } catch {
      break;
    }
    if (next === decoded) break;
    decoded = next;
  }
  const sourcePath = parseUri(decoded).path.replace(/\/+$/, '').replace(/\/+/g, '/');
  if (sourcePath.includes('\0') || decoded.split('/').includes('..')) throw refuse();
  if (posix.resolve('/', sourcePath) !== sourcePath) throw refuse();
}

async function checkLocalSource(
  source: string,
  owner: { id?: string; kind: 'run_id' | 'model_id' },
  artifactLocation: (id: string) => Promise<string>,
): Promise<void> {
  if (!isLocalSource(source)) {
    checkNonLocalSource(source);
    return;
  }
  let shown = source;
  if (owner.id) {
    const location = await artifactLocation(owner.id);
    const path = resolvedPath(source);
    shown = path;
    if (isLocalSource(location) && contains(resolvedPath(location), path)) return;
  }
  throw new InputError(
    `Invalid model version source: '${shown}'. To use a local path as a model version source, the ` +
      `${owner.kind} request parameter has to be specified and the local path has to be contained within the ` +
      `artifact directory of the run specified by the ${owner.kind}.`,
  );
}

/**
 * The checks MLflow's create-model-version handler runs on `source` before the registry sees it: the
 * optional MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX; prompts may not point at local files; a
 * local path or `file:` source needs a `run_id` (or `model_id`) and must lie inside that run's (model's)
 * local artifact directory after resolving `..` and symlinks; any other source must be an absolute,
 * normalised location without `..`.
 */
export async function checkModelVersionSource(args: NewVersionSource, lookups: SourceLookups): Promise<void> {
  const { source } = args;
  const regex = process.env.MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX;
  if (source && regex && !new RegExp(regex).test(source)) {
    throw new InputError(`Invalid model version source: '${source}'.`);
  }
  if ((args.tags ?? []).some((t) => t.key === IS_PROMPT_TAG_KEY)) {
    const parsed = parseUri(source);
    if (parsed.scheme === 'file' || (parsed.scheme === '' && source.startsWith('/'))) {
      throw new InputError(
        `Invalid prompt source: '${source}'. Local source paths are not allowed for prompts.`,
      );
    }
    if (parsed.scheme) checkNonLocalSource(source);
    return;
  }
  if (args.model_id) {
    await checkLocalSource(source, { id: args.model_id, kind: 'model_id' }, lookups.modelArtifactLocation);
  } else {
    await checkLocalSource(source, { id: args.run_id, kind: 'run_id' }, lookups.runArtifactUri);
  }
}
