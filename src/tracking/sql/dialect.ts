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
   * SQLite builds MLflow's run JSON in SQL (json_object), and walks a (key, value) index with INDEXED BY
   * for searches ordered by a metric, param or tag. PostgreSQL loads rows and plans its own index use.
   */
  readonly jsonRunsAndIndexedBy: boolean;
  /** PostgreSQL publishes changes with NOTIFY inside the writing transaction (delivered on commit). */
  readonly notifyInTransaction: boolean;
  /** Column types for hand-written DDL. */
  readonly ddl: DdlTypes;
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
  jsonRunsAndIndexedBy: true,
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
  jsonRunsAndIndexedBy: false,
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
