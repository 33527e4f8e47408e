import { type RawBuilder, type SqlBool, sql } from 'kysely';
import type { SqlDialectName } from './database.js';

/**
 * Everything the stores do differently on SQLite and PostgreSQL, in one place (as drizzle-orm keeps a
 * dialect apart from its drivers): placeholders, booleans, case-insensitive LIKE, DDL column types, and
 * the dialect-specific strategies the stores choose between. Store code asks this object; it never
 * compares dialect names itself.
 */
export interface SqlDialect {
  readonly name: SqlDialectName;
  /** The placeholder of the n-th (1-based) bound parameter in hand-written SQL: `?` or `$n`. */
  placeholder(n: number): string;
  /** A boolean as a column stores it: SQLite has no boolean type (0 / 1). */
  bool(b: boolean): boolean | number;
  /** `ref ILIKE value`; SQLite (case-sensitive LIKE here) compares lower-cased both sides. */
  ilike(ref: RawBuilder<unknown> | unknown, value: unknown): RawBuilder<SqlBool>;
  /**
   * The hint after a table in FROM that makes the planner walk `index`: SQLite's `INDEXED BY` (its planner
   * does not pick the (key, value) index walk of a search ordered by a metric, param or tag by itself);
   * nothing on PostgreSQL, whose planner chooses it from statistics (see migration tracking v4).
   */
  indexedBy(index: string): string;
  /** SQL that builds JSON text in the database (both dialects build MLflow's run JSON this way). */
  readonly json: JsonSql;
  /** PostgreSQL publishes changes with NOTIFY inside the writing transaction (delivered on commit). */
  readonly notifyInTransaction: boolean;
  /** Column types for hand-written DDL. */
  readonly ddl: DdlTypes;
}

/** The dialect's JSON functions, as SQL text fragments. */
export interface JsonSql {
  /** The function building an object from key, value pairs. */
  object: string;
  /**
   * The JSON array of `expr` over the aggregated rows, `[]` when there are none. `clustered`: the rows
   * already come in `orderBy` order (a clustered primary key), so SQLite skips the sort.
   */
  array(expr: string, orderBy: string, clustered?: boolean): string;
  /** `object` (an object expression) with the members of `optional` (another) whose values are NULL left out. */
  merge(object: string, optional: string): string;
  /** A metric's wire value from m.value and m.is_nan: a number, or "NaN" / "Infinity" / "-Infinity". */
  metricValue: string;
  /** The text of a JSON expression (the driver would otherwise parse PostgreSQL's json into objects). */
  text(expr: string): string;
}

/** Column types that differ between the two dialects, for hand-written DDL. */
export interface DdlTypes {
  /** Auto-incrementing integer primary key column definition. */
  serialPk: string;
  bigint: string;
  double: string;
  text: string;
  bool: string;
  /** The literal `false` of a `bool` column. */
  false: string;
}

const SQLITE: SqlDialect = {
  name: 'sqlite',
  placeholder: () => '?',
  bool: (b) => (b ? 1 : 0),
  ilike: (ref, value) => sql<SqlBool>`LOWER(${ref}) LIKE LOWER(${value})`,
  indexedBy: (index) => `INDEXED BY ${index}`,
  json: {
    object: 'json_object',
    array: (expr, orderBy, clustered) =>
      `json_group_array(${expr}${clustered ? '' : ` ORDER BY ${orderBy}`})`,
    merge: (object, optional) => `json_patch(${object}, ${optional})`,
    metricValue:
      "CASE WHEN m.is_nan THEN 'NaN' WHEN m.value > 1.7976931348623157e308 THEN 'Infinity' " +
      "WHEN m.value < -1.7976931348623157e308 THEN '-Infinity' ELSE m.value END",
    text: (expr) => expr,
  },
  notifyInTransaction: false,
  ddl: {
    serialPk: 'INTEGER PRIMARY KEY AUTOINCREMENT',
    bigint: 'INTEGER',
    double: 'REAL',
    text: 'TEXT',
    bool: 'INTEGER',
    false: '0',
  },
};

const POSTGRESQL: SqlDialect = {
  name: 'postgresql',
  placeholder: (n) => `$${n}`,
  bool: (b) => b,
  ilike: (ref, value) => sql<SqlBool>`${ref} ILIKE ${value}`,
  indexedBy: () => '',
  json: {
    object: 'json_build_object',
    array: (expr, orderBy) => `COALESCE(json_agg(${expr} ORDER BY ${orderBy}), '[]'::json)`,
    merge: (object, optional) => `(${object}::jsonb || json_strip_nulls(${optional})::jsonb)::json`,
    metricValue:
      "CASE WHEN m.is_nan THEN to_json('NaN'::text) WHEN m.value = 'Infinity'::float8 THEN to_json('Infinity'::text) " +
      "WHEN m.value = '-Infinity'::float8 THEN to_json('-Infinity'::text) ELSE to_json(m.value) END",
    text: (expr) => `(${expr})::text`,
  },
  notifyInTransaction: true,
  ddl: {
    serialPk: 'BIGSERIAL PRIMARY KEY',
    bigint: 'BIGINT',
    double: 'DOUBLE PRECISION',
    text: 'TEXT',
    bool: 'BOOLEAN',
    false: 'false',
  },
};

/** The dialect object of a dialect name. */
export function sqlDialect(name: SqlDialectName): SqlDialect {
  return name === 'sqlite' ? SQLITE : POSTGRESQL;
}
