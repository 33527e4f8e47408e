import { type RawBuilder, sql } from 'kysely';
import type { AnyKysely } from '../../sql/database.js';
import { withDbErrors } from '../../sql/transaction.js';
import { afterCursorSql, decodePageToken, encodePageToken, orderBySql, type SortKey } from '../keyset.js';

/** A sort column of a keyset-paged query, and whether its page-token value is a number. */
export type PageKey = SortKey & { numeric: boolean };

/** Rows of `inner` strictly after the cursor `after` in the order of `keys`, at most `limit`. */
export async function keysetRows<R>(
  db: AnyKysely,
  inner: RawBuilder<unknown>,
  keys: SortKey[],
  after: Array<string | number | null> | undefined,
  limit: number,
  extraWhere?: RawBuilder<unknown>,
): Promise<R[]> {
  const conds = [...(after ? [afterCursorSql(keys, after)] : []), ...(extraWhere ? [extraWhere] : [])];
  const where = conds.length ? sql`WHERE ${sql.join(conds, sql` AND `)}` : sql``;
  const q = sql<R>`SELECT * FROM (${inner}) q ${where} ORDER BY ${orderBySql(keys)} LIMIT ${limit}`;
  return (await withDbErrors(() => q.execute(db))).rows;
}

/** The next-page token for `last`, the last row of a full page. */
export function tokenOf(last: Record<string, unknown>, keys: PageKey[], hash: string): string {
  return encodePageToken(
    keys.map((k) => {
      const v = last[k.alias] as string | number | null;
      if (v === null || v === undefined) return null;
      return k.numeric ? Number(v) : String(v);
    }),
    hash,
  );
}

/** Cuts `rows` (read with one row to spare) to `max` and names the next page's token when there is one. */
export function pageOf<R extends Record<string, unknown>>(
  rows: R[],
  max: number,
  keys: PageKey[],
  hash: string,
): { rows: R[]; next?: string } {
  if (rows.length <= max) return { rows };
  rows.length = max;
  return { rows, next: tokenOf(rows[rows.length - 1], keys, hash) };
}

/** Runs a keyset-paged query: `inner` selects rows plus sort columns sk0..skN; returns rows and next token. */
export async function keysetPage<R extends Record<string, unknown>>(
  db: AnyKysely,
  inner: RawBuilder<unknown>,
  keys: PageKey[],
  hash: string,
  maxResults: number,
  pageToken: string | undefined,
): Promise<{ rows: R[]; next?: string }> {
  const after = pageToken ? decodePageToken(pageToken, hash, keys.length) : undefined;
  return pageOf(await keysetRows<R>(db, inner, keys, after, maxResults + 1), maxResults, keys, hash);
}
