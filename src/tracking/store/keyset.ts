import { createHash } from 'node:crypto';
import { type RawBuilder, sql } from 'kysely';
import { InputError } from '../../errors.js';

/** A sort key: a column alias in the query, its direction, and whether it may be NULL (NULLs sort last). */
export interface SortKey {
  alias: string;
  ascending: boolean;
  nullable: boolean;
}

type Scalar = string | number | null;

/** Opaque page token: the sort-key values of the last row returned, bound to the query it came from. */
export function encodePageToken(values: Scalar[], queryHash: string): string {
  return Buffer.from(JSON.stringify({ v: values, q: queryHash })).toString('base64url');
}

/** Decodes a page token; INVALID_PARAMETER_VALUE if it is malformed or belongs to another query. */
export function decodePageToken(token: string, queryHash: string, arity: number): Scalar[] {
  let parsed: { v?: unknown; q?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw new InputError(`Invalid page token, could not base64-decode: '${token.slice(0, 100)}'`);
  }
  if (
    !parsed ||
    parsed.q !== queryHash ||
    !Array.isArray(parsed.v) ||
    parsed.v.length !== arity ||
    !parsed.v.every((x) => x === null || typeof x === 'string' || typeof x === 'number')
  ) {
    throw new InputError('Invalid page token: it does not belong to this query.');
  }
  return parsed.v as Scalar[];
}

/** A short digest of what defines a result order, so a token cannot be replayed on another query. */
export function queryHash(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);
}

/** ORDER BY for the keys, NULLs last in both directions. */
export function orderBySql(keys: SortKey[]): RawBuilder<unknown> {
  const parts = keys.map((k) => {
    const col = sql.ref(k.alias);
    const dir = sql.raw(k.ascending ? 'ASC' : 'DESC');
    return k.nullable ? sql`(CASE WHEN ${col} IS NULL THEN 1 ELSE 0 END), ${col} ${dir}` : sql`${col} ${dir}`;
  });
  return sql.join(parts);
}

/**
 * The condition "strictly after the row whose sort values are `after`" in the order of `keys`: rows
 * inserted meanwhile land before or after the cursor, never shifting the pages still to come.
 */
export function afterCursorSql(keys: SortKey[], after: Scalar[]): RawBuilder<unknown> {
  const disjuncts: RawBuilder<unknown>[] = [];
  for (let i = 0; i < keys.length; i++) {
    const conj: RawBuilder<unknown>[] = [];
    for (let j = 0; j < i; j++) {
      const col = sql.ref(keys[j].alias);
      conj.push(after[j] === null ? sql`${col} IS NULL` : sql`${col} = ${after[j]}`);
    }
    const k = keys[i];
    const col = sql.ref(k.alias);
    const v = after[i];
    if (v === null) continue; // NULLs sort last: nothing is strictly after a NULL on this key
    const cmp = sql.raw(k.ascending ? '>' : '<');
    conj.push(k.nullable ? sql`(${col} ${cmp} ${v} OR ${col} IS NULL)` : sql`${col} ${cmp} ${v}`);
    disjuncts.push(sql`(${sql.join(conj, sql` AND `)})`);
  }
  return disjuncts.length ? sql`(${sql.join(disjuncts, sql` OR `)})` : sql`1 = 0`;
}
