/** Page state kept in the location hash's query (`#/path?filter=...&sort=...`), so a view can be shared. */

/** Splits a location hash into path segments and query. */
export function parseHash(hash: string): { parts: string[]; query: URLSearchParams } {
  const raw = hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

/** The current hash's query parameters. */
export function currentQuery(): URLSearchParams {
  return parseHash(location.hash).query;
}

/**
 * Merges `patch` into the current hash's query (undefined or '' removes a key) without adding a history
 * entry or firing `hashchange`, so the page keeps its state while the address stays shareable.
 */
export function setQuery(patch: Record<string, string | readonly string[] | undefined>): void {
  const hash = location.hash.replace(/^#/, '');
  const q = hash.indexOf('?');
  const path = q < 0 ? hash : hash.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
  for (const [k, v] of Object.entries(patch)) {
    query.delete(k);
    if (typeof v === 'string' && v !== '') query.set(k, v);
    else if (Array.isArray(v)) for (const item of v) query.append(k, item);
  }
  const s = query.toString();
  history.replaceState(history.state, '', `#${path}${s ? `?${s}` : ''}`);
}

/** A list parameter (the key repeated: `cols=a&cols=b`); undefined when absent, so a default can apply. */
export function readList(query: URLSearchParams, key: string): string[] | undefined {
  return query.has(key) ? query.getAll(key).filter(Boolean) : undefined;
}
