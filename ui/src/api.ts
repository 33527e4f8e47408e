/** The browser side of Tassel's public REST API (the same endpoints the mlflow client uses). */

const TOKEN_KEY = 'tassel.token';

export function getToken(): string {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function setToken(token: string): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// credentials 'omit' everywhere: the server's 401 carries `WWW-Authenticate: Basic`, which would otherwise
// open the browser's login dialog (and stall the request) instead of letting the page show the error.
function headers(json: boolean): Record<string, string> {
  const h: Record<string, string> = {};
  const token = getToken();
  if (token) h.authorization = `Bearer ${token}`;
  if (json) h['content-type'] = 'application/json';
  return h;
}

async function failure(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText || 'request failed';
  try {
    const body = (await res.json()) as { error_code?: string; message?: string };
    if (body.error_code) code = body.error_code;
    if (body.message) message = body.message;
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, code, message);
}

type Query = Record<string, string | number | undefined | string[]>;

function qs(query: Query | undefined): string {
  if (!query) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** GET `/api/2.0/<path>`. */
export async function get<T>(path: string, query?: Query): Promise<T> {
  const res = await fetch(`/api/2.0/${path}${qs(query)}`, { headers: headers(false), credentials: 'omit' });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** Tokens the server refused a write for (403): pages hide their edit controls for them. */
const readOnlyTokens = new Set<string>();

/** True once the server has refused a write with the current token (a read-only token). */
export function isReadOnly(): boolean {
  return readOnlyTokens.has(getToken());
}

/** Sends JSON with `method` to `/api/2.0/<path>`; a 403 marks the current token read-only. */
export async function send<T>(method: 'POST' | 'PATCH' | 'DELETE', path: string, body: unknown): Promise<T> {
  const res = await fetch(`/api/2.0/${path}`, {
    method,
    headers: headers(true),
    credentials: 'omit',
    body: JSON.stringify(body),
  });
  if (!res.ok) {
    if (res.status === 403) readOnlyTokens.add(getToken());
    throw await failure(res);
  }
  const text = await res.text();
  return (text ? JSON.parse(text) : {}) as T;
}

/** POST JSON to `/api/2.0/<path>`. */
export function post<T>(path: string, body: unknown): Promise<T> {
  return send<T>('POST', path, body);
}

/** The proxy URL of an artifact under a run's or version's `mlflow-artifacts:` root; undefined for other roots. */
export function artifactUrl(rootUri: string, path: string): string | undefined {
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/?(.*)$/.exec(rootUri);
  if (!m) return undefined;
  const base = m[1]!.replace(/\/+$/, '');
  const full = [base, path].filter(Boolean).join('/');
  return `/api/2.0/mlflow-artifacts/artifacts/${full.split('/').map(encodeURIComponent).join('/')}`;
}

/** Fetches an artifact's bytes through the `mlflow-artifacts` proxy. */
export async function artifactBlob(rootUri: string, path: string): Promise<Blob> {
  const url = artifactUrl(rootUri, path);
  if (!url) throw new ApiError(0, 'UNSUPPORTED', `artifacts at ${rootUri} cannot be read from the browser`);
  const res = await fetch(url, { headers: headers(false), credentials: 'omit' });
  if (!res.ok) throw await failure(res);
  return await res.blob();
}

/** Reads a JSON artifact; undefined when it does not exist (404). */
export async function artifactJson<T>(rootUri: string, path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await (await artifactBlob(rootUri, path)).text()) as T;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return undefined;
    throw e;
  }
}

/** Saves an artifact to the user's disk: the exact bytes the server sends (the token travels in a header). */
export async function downloadArtifact(rootUri: string, path: string): Promise<void> {
  const blob = await artifactBlob(rootUri, path);
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = path.split('/').pop() || 'artifact';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export interface KeyValue {
  key: string;
  value: string;
}
export interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
  run_id?: string;
}
export interface RunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  status: string;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage?: string;
  user_id?: string;
}
export interface Run {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: KeyValue[]; tags?: KeyValue[] };
  inputs?: {
    dataset_inputs?: Array<{
      tags?: KeyValue[];
      dataset: { name: string; digest: string; source_type?: string; source?: string; schema?: string; profile?: string };
    }>;
  };
}
export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
  creation_time?: number;
  last_update_time?: number;
  tags?: KeyValue[];
}
export interface FileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}
export interface RegisteredModel {
  name: string;
  description?: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  aliases?: Array<{ alias: string; version: string }>;
  latest_versions?: ModelVersion[];
  tags?: KeyValue[];
}
export interface ModelVersion {
  name: string;
  version: string;
  run_id?: string;
  source?: string;
  status?: string;
  current_stage?: string;
  creation_timestamp?: number;
  description?: string;
  aliases?: string[];
  tags?: KeyValue[];
}
export interface AliasHistoryRow {
  id: number;
  name: string;
  alias: string;
  action: string;
  from_version?: string | null;
  to_version?: string | null;
  principal?: string;
  timestamp: number;
  reason?: string | null;
}

/** A tag list as a map. */
export function tagMap(tags: KeyValue[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) out[t.key] = t.value;
  return out;
}

/** Quotes a key for the search grammar when it is not a plain identifier. */
export function searchKey(kind: 'metrics' | 'params' | 'tags', key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.]*$/.test(key) ? `${kind}.${key}` : `${kind}.\`${key}\``;
}

export function formatTime(ms: number | undefined): string {
  if (!ms) return '';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

/** A duration in ms as `1.2 s`, `3m 05s` or `2h 10m`. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** A search-grammar string literal. */
export function quote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function formatValue(v: number | string | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  return v;
}
