import { sql } from 'kysely';
import { TasselError } from '../../errors.js';
import type { AnyKysely, SqlDialectName, TrackingDatabase } from './database.js';
import { type DdlTypes, sqlDialect } from './dialect.js';

/**
 * One schema change. `module` groups a module's migrations (e.g. 'tracking', 'registry'); `version` is
 * increasing within a module. A migration runs once, in its own transaction, and is recorded in
 * `tassel_schema_migrations`.
 */
export interface Migration {
  module: string;
  version: number;
  name: string;
  up(db: AnyKysely, dialect: SqlDialectName): Promise<void>;
}

/** What {@link migrate} did. */
export interface MigrationResult {
  applied: Array<{ module: string; version: number; name: string }>;
  alreadyApplied: number;
}

const LOCK_KEY = 727_011_504;

/** Column types that differ between the two dialects, for hand-written DDL (see `sql/dialect.ts`). */
export function ddlTypes(dialect: SqlDialectName): DdlTypes {
  return sqlDialect(dialect).ddl;
}

/** Runs each statement of a `;`-separated DDL script (no semicolons inside statements). */
export async function runScript(db: AnyKysely, script: string): Promise<void> {
  for (const stmt of script.split(';')) {
    if (stmt.trim()) await sql.raw(stmt).execute(db);
  }
}

/**
 * Applies every migration of `migrations` (in list order) not yet recorded. On PostgreSQL an advisory
 * lock serialises concurrent starters; on SQLite the write lock does. Checks that the list is ordered
 * by version within each module.
 */
export async function migrate(
  database: TrackingDatabase,
  migrations: readonly Migration[],
): Promise<MigrationResult> {
  const last = new Map<string, number>();
  for (const m of migrations) {
    if ((last.get(m.module) ?? 0) >= m.version) {
      throw new TasselError(
        'INTERNAL_ERROR',
        `Migrations of module '${m.module}' are not in increasing order`,
      );
    }
    last.set(m.module, m.version);
  }
  const { db, dialect } = database;
  const t = ddlTypes(dialect);
  const result: MigrationResult = { applied: [], alreadyApplied: 0 };
  const run = async (conn: AnyKysely) => {
    await sql
      .raw(
        `CREATE TABLE IF NOT EXISTS tassel_schema_migrations (module ${t.text} NOT NULL, version INTEGER NOT NULL, ` +
          `name ${t.text} NOT NULL, applied_at ${t.bigint} NOT NULL, PRIMARY KEY (module, version))`,
      )
      .execute(conn);
    for (const m of migrations) {
      await conn.transaction().execute(async (trx) => {
        const done = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM tassel_schema_migrations
          WHERE module = ${m.module} AND version = ${m.version}`.execute(trx);
        if (Number(done.rows[0]?.n ?? 0) > 0) {
          result.alreadyApplied++;
          return;
        }
        await m.up(trx as unknown as AnyKysely, dialect);
        await sql`INSERT INTO tassel_schema_migrations (module, version, name, applied_at)
          VALUES (${m.module}, ${m.version}, ${m.name}, ${Date.now()})`.execute(trx);
        result.applied.push({ module: m.module, version: m.version, name: m.name });
      });
    }
  };
  if (dialect === 'postgresql') {
    // Everything, including creating the bookkeeping table, under one advisory lock: concurrent
    // starters (several server replicas) would otherwise race on CREATE TABLE.
    await db.connection().execute(async (conn) => {
      await sql`SELECT pg_advisory_lock(${LOCK_KEY})`.execute(conn);
      try {
        await run(conn as AnyKysely);
      } finally {
        await sql`SELECT pg_advisory_unlock(${LOCK_KEY})`.execute(conn);
      }
    });
  } else {
    await run(db);
  }
  return result;
}

/** Versions recorded as applied, per module (for `tassel server db upgrade` output and tests). */
export async function appliedMigrations(
  database: TrackingDatabase,
): Promise<Array<{ module: string; version: number }>> {
  const r = await sql<{
    module: string;
    version: number;
  }>`SELECT module, version FROM tassel_schema_migrations
    ORDER BY module, version`.execute(database.db);
  return r.rows.map((row) => ({ module: row.module, version: Number(row.version) }));
}
