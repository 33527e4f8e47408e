import { type RawBuilder, sql } from 'kysely';
import { InputError } from '../../errors.js';
import type { Comparator, Comparison, FilterNode } from './search-filter.js';

const NUMERIC_COMPARATORS: Comparator[] = ['=', '!=', '<', '<=', '>', '>='];
const STRING_COMPARATORS: Comparator[] = ['=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'];

/** Compiles one comparison into a parameterised condition; `undefined` means "not supported here". */
export type ComparisonCompiler = (c: Comparison) => RawBuilder<unknown>;

/**
 * Optional key-set form of a comparison: the subquery selecting the parent keys that satisfy it, or
 * `undefined` when it has none (then `compile` is used).
 */
export interface KeySetCompiler {
  /** The parent key column the subqueries select from, e.g. r.run_uuid. */
  parentCol: RawBuilder<unknown>;
  /** The subquery for `c`, or `undefined`. */
  subquery: (c: Comparison) => RawBuilder<unknown> | undefined;
}

/**
 * Compiles a filter tree into one parameterised SQL condition, each comparison through `compile`. With
 * `keySets`, the comparisons of an AND that have a key-set subquery are combined into one
 * `parent IN (s1 INTERSECT s2 ...)`: the database intersects the (key, value)-indexed key sets first
 * instead of looking up every parent row that matches only the first one.
 */
export function compileFilter(
  node: FilterNode,
  compile: ComparisonCompiler,
  keySets?: KeySetCompiler,
): RawBuilder<unknown> {
  if (node.kind === 'cmp') return compile(node);
  const parts: RawBuilder<unknown>[] = [];
  const subqueries: RawBuilder<unknown>[] = [];
  for (const child of node.children) {
    const sub = keySets && node.kind === 'and' && child.kind === 'cmp' ? keySets.subquery(child) : undefined;
    if (sub) subqueries.push(sub);
    else parts.push(compileFilter(child, compile, keySets));
  }
  if (keySets && subqueries.length)
    parts.unshift(sql`${keySets.parentCol} IN (${sql.join(subqueries, sql` INTERSECT `)})`);
  return sql`(${sql.join(parts, node.kind === 'and' ? sql` AND ` : sql` OR `)})`;
}

function checkComparator(c: Comparison, allowed: Comparator[]): void {
  if (c.comparator === 'IS NULL' || c.comparator === 'IS NOT NULL') return;
  if (!allowed.includes(c.comparator)) {
    throw new InputError(
      `Invalid comparator '${c.comparator}' not one of '[${allowed.map((a) => `'${a}'`).join(', ')}]'`,
    );
  }
}

/** `<col> <op> <number>` for metrics and numeric attributes. */
export function numericCondition(col: RawBuilder<unknown>, c: Comparison, what: string): RawBuilder<unknown> {
  checkComparator(c, NUMERIC_COMPARATORS);
  if (typeof c.value !== 'number') {
    throw new InputError(`Expected numeric value type for ${what}. Found ${JSON.stringify(c.value)}`);
  }
  return sql`${col} ${sql.raw(c.comparator)} ${c.value}`;
}

/** `<col> <op> <string>` for params, tags and string attributes (LIKE is case-sensitive, ILIKE is not). */
export function stringCondition(col: RawBuilder<unknown>, c: Comparison, what: string): RawBuilder<unknown> {
  checkComparator(c, STRING_COMPARATORS);
  if (c.comparator === 'IN' || c.comparator === 'NOT IN') {
    const list = c.value as string[];
    return sql`${col} ${sql.raw(c.comparator)} (${sql.join(list)})`;
  }
  if (typeof c.value !== 'string') {
    throw new InputError(`Expected a quoted string value for ${what}. Found ${JSON.stringify(c.value)}`);
  }
  if (c.comparator === 'ILIKE') return sql`LOWER(${col}) LIKE LOWER(${c.value})`;
  return sql`${col} ${sql.raw(c.comparator)} ${c.value}`;
}

/**
 * A condition on a key/value child table (`latest_metrics`, `params`, `tags`, `experiment_tags`): the
 * parent is IN the set of parents having a row for the key whose value matches; `IS NULL` means the key
 * is absent (NOT IN). The IN form lets the planner drive the search from the (key, value) index instead
 * of probing every parent row.
 */
export function childCondition(
  table: string,
  fk: string,
  parentCol: RawBuilder<unknown>,
  c: Comparison,
  numeric: boolean,
  what: string,
): RawBuilder<unknown> {
  if (c.comparator === 'IS NULL') return sql`${parentCol} NOT IN (${parentsWithKey(table, fk, c.key)})`;
  return sql`${parentCol} IN (${childKeySet(table, fk, c, numeric, what)})`;
}

/** The parent keys having a child row for `key`, whatever its value. */
function parentsWithKey(table: string, fk: string, key: string): RawBuilder<unknown> {
  return sql`SELECT kv.${sql.ref(fk)} FROM ${sql.table(table)} kv WHERE kv.key = ${key}`;
}

/**
 * The subquery selecting the parent keys whose child row `key = c.key` satisfies `c` (any comparator but
 * IS NULL, which has no key-set form).
 */
export function childKeySet(
  table: string,
  fk: string,
  c: Comparison,
  numeric: boolean,
  what: string,
): RawBuilder<unknown> {
  const base = parentsWithKey(table, fk, c.key);
  if (c.comparator === 'IS NOT NULL') return base;
  return sql`${base} AND ${childValueTest(c, numeric, what)}`;
}

/** The test of a child row's `kv.value` against a comparison (numeric for metrics, string otherwise). */
function childValueTest(c: Comparison, numeric: boolean, what: string): RawBuilder<unknown> {
  return numeric ? numericCondition(sql`kv.value`, c, what) : stringCondition(sql`kv.value`, c, what);
}

/** `<col> IS [NOT] NULL` for attribute columns. */
export function nullCondition(col: RawBuilder<unknown>, c: Comparison): RawBuilder<unknown> | undefined {
  if (c.comparator === 'IS NULL') return sql`${col} IS NULL`;
  if (c.comparator === 'IS NOT NULL') return sql`${col} IS NOT NULL`;
  return undefined;
}

/**
 * A condition on a key/value child table as a correlated probe of one parent:
 * `EXISTS (SELECT 1 FROM table kv WHERE kv.fk = parent AND kv.key = ... AND <value test>)` (`NOT EXISTS` for
 * IS NULL). One primary-key seek per parent row: the right form when the parents come one by one from an
 * ordered index walk that stops after a page, where building the whole matching key set (the IN form) would
 * cost more than the page itself.
 */
export function childProbe(
  table: string,
  fk: string,
  parentCol: RawBuilder<unknown>,
  c: Comparison,
  numeric: boolean,
  what: string,
): RawBuilder<unknown> {
  const base = sql`SELECT 1 FROM ${sql.table(table)} kv WHERE kv.${sql.ref(fk)} = ${parentCol} AND kv.key = ${c.key}`;
  if (c.comparator === 'IS NULL') return sql`NOT EXISTS (${base})`;
  if (c.comparator === 'IS NOT NULL') return sql`EXISTS (${base})`;
  return sql`EXISTS (${base} AND ${childValueTest(c, numeric, what)})`;
}
