import { InputError } from '../../errors.js';

/**
 * A parsed `models:/` or `runs:/` URI, following MLflow's `_parse_model_uri`
 * (mlflow/store/artifact/utils/models.py) and `RunsArtifactRepository.parse_runs_uri`.
 * Exactly one of the `models:/` forms is set: a logged-model id, a version, a stage, an alias,
 * or none of them (`latest`).
 */
export type ParsedModelUri =
  | { scheme: 'models'; kind: 'version'; name: string; version: string; path: string }
  | { scheme: 'models'; kind: 'latest'; name: string; path: string }
  | { scheme: 'models'; kind: 'stage'; name: string; stage: string; path: string }
  | { scheme: 'models'; kind: 'alias'; name: string; alias: string; path: string }
  | { scheme: 'models'; kind: 'model_id'; modelId: string; path: string }
  | { scheme: 'runs'; kind: 'run'; runId: string; path: string };

const LATEST = 'latest';

function improperModelUri(uri: string): InputError {
  return new InputError(
    `Not a proper models:/ URI: ${uri}. Models URIs must be of the form 'models:/model_name/suffix' ` +
      `or 'models:/model_name@alias' where suffix is a model version, stage, or the string 'latest' ` +
      'and where alias is a registered model alias. Only one of suffix or alias can be defined at a time.',
  );
}

function improperRunsUri(uri: string): InputError {
  return new InputError(
    `Not a proper runs:/ URI: ${uri}. Runs URIs must be of the form 'runs:/<run_id>/run-relative/path/to/artifact'`,
  );
}

/** The scheme of a URI (`models`, `runs`, `s3`, ...), or '' for a plain path. */
export function uriScheme(uri: string): string {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri);
  // A single letter followed by ':' is a Windows drive, not a scheme.
  return m && m[1].length > 1 ? m[1].toLowerCase() : '';
}

/** The path part of a `scheme:/path` or `scheme://host/path` URI, without query or fragment. */
function uriPath(uri: string, scheme: string): string {
  let rest = uri.slice(scheme.length + 1);
  const q = rest.search(/[?#]/);
  if (q >= 0) rest = rest.slice(0, q);
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    rest = slash >= 0 ? rest.slice(slash) : '';
  }
  return rest;
}

/**
 * Splits `models:/NAME/VERSION/sub/path` or `models:/NAME@ALIAS/sub/path` into the model part and the
 * artifact sub-path, as MLflow's `ModelsArtifactRepository.split_models_uri` does.
 */
function splitModelsPath(path: string): { modelPath: string; subPath: string } {
  const trimmed = path.replace(/\/+$/, '');
  const parts = trimmed.split('/');
  // parts[0] is '' because the path starts with '/'.
  if (parts.length >= 3) {
    const cut = parts[1].includes('@') ? 2 : 3;
    return { modelPath: parts.slice(0, cut).join('/'), subPath: parts.slice(cut).join('/') };
  }
  return { modelPath: trimmed, subPath: '' };
}

/** Parses a `models:/` or `runs:/` URI; throws InputError (INVALID_PARAMETER_VALUE) with MLflow's message. */
export function parseModelUri(uri: string): ParsedModelUri {
  const scheme = uriScheme(uri);
  if (scheme === 'runs') {
    const path = uriPath(uri, scheme);
    if (!path.startsWith('/') || path.length <= 1) throw improperRunsUri(uri);
    const parts = path.slice(1).split('/');
    const runId = parts[0];
    if (runId === '') throw improperRunsUri(uri);
    return { scheme: 'runs', kind: 'run', runId, path: parts.slice(1).join('/') };
  }
  if (scheme !== 'models') throw improperModelUri(uri);
  const fullPath = uriPath(uri, scheme);
  if (!fullPath.startsWith('/') || fullPath.length <= 1) throw improperModelUri(uri);
  const { modelPath, subPath } = splitModelsPath(fullPath);
  const parts = modelPath.replace(/^\/+/, '').split('/');
  if (parts.length > 2 || parts[0].trim() === '') throw improperModelUri(uri);
  if (parts.length === 2) {
    const [name, suffix] = parts;
    if (suffix.trim() === '') throw improperModelUri(uri);
    if (name.includes('@')) throw improperModelUri(uri);
    if (/^\d+$/.test(suffix))
      return { scheme: 'models', kind: 'version', name, version: suffix, path: subPath };
    if (suffix.toLowerCase() === LATEST) return { scheme: 'models', kind: 'latest', name, path: subPath };
    return { scheme: 'models', kind: 'stage', name, stage: suffix, path: subPath };
  }
  const only = parts[0];
  if (only.includes('@')) {
    const at = only.lastIndexOf('@');
    const name = only.slice(0, at);
    const alias = only.slice(at + 1);
    if (name.trim() === '' || alias.trim() === '') throw improperModelUri(uri);
    return { scheme: 'models', kind: 'alias', name, alias, path: subPath };
  }
  return { scheme: 'models', kind: 'model_id', modelId: only, path: subPath };
}

/** Joins a base artifact URI and a relative path with exactly one '/' (MLflow's append_to_uri_path). */
export function appendToUri(base: string, path: string): string {
  if (!path) return base;
  const cleaned = path.replace(/^\/+/, '');
  if (!cleaned) return base;
  const q = base.search(/[?#]/);
  const head = q >= 0 ? base.slice(0, q) : base;
  const tail = q >= 0 ? base.slice(q) : '';
  return `${head.replace(/\/+$/, '')}/${cleaned}${tail}`;
}
