import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { InputError } from '../../errors.js';

/** The SQL dialects the tracking and registry stores run on. */
export type SqlDialectName = 'sqlite' | 'postgresql';

/**
 * Kysely over a schema that is the union of every module's tables. Stores narrow it to their own
 * table interfaces (`db as unknown as Kysely<MyTables>`); the shared handle stays untyped so
 * modules can add tables without editing a shared interface.
 */
// biome-ignore lint/suspicious/noExplicitAny: the shared handle spans every module's tables
export type AnyKysely = Kysely<any>;

/** An open database: the Kysely instance, its dialect and how to close it. */
export interface TrackingDatabase {
  readonly db: AnyKysely;
  readonly dialect: SqlDialectName;
  /** The URI it was opened from, with any password removed (safe to log). */
  readonly displayUri: string;
  /** The PostgreSQL schema in use (`public` unless `?schema=` was given); undefined on SQLite. */
  readonly schema?: string;
  /**
   * SQLite: the better-sqlite3 connection under Kysely, for hot reads run synchronously on cached
   * prepared statements. Only read through it while `inTransaction` is false: Kysely shares this one
   * connection, and a transaction left open across an await would otherwise show its uncommitted rows.
   */
  readonly sqlite?: Database.Database;
  /**
   * PostgreSQL: the pool under Kysely, for hot reads run as named prepared statements (parsed and planned
   * once per connection instead of on every call; Kysely sends every query unnamed).
   */
  readonly pgPool?: pg.Pool;
  close(): Promise<void>;
}

/** Options for {@link createDatabase}; every timeout is in milliseconds. */
export interface CreateDatabaseOptions {
  /** SQLite: how long a writer waits for the lock before SQLITE_BUSY (default 10,000). */
  busyTimeoutMs?: number;
  /** PostgreSQL: pool size (default 10). */
  poolSize?: number;
  /** PostgreSQL: connect timeout (default 10,000). */
  connectionTimeoutMs?: number;
  /** PostgreSQL: idle connection timeout (default 30,000). */
  idleTimeoutMs?: number;
  /** PostgreSQL: server-side statement_timeout (default 30,000; 0 disables). */
  statementTimeoutMs?: number;
  /** PostgreSQL: schema to use (created if missing); overrides `?schema=` in the URI. */
  schema?: string;
}

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Opens a backend store URI the way `mlflow server --backend-store-uri` takes it:
 * `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, `sqlite:///:memory:`, or
 * `postgresql://user:pass@host:port/db[?schema=name]` (also `postgres://`, `postgresql+psycopg2://`).
 * SQLite runs in WAL mode with a busy timeout and foreign keys on.
 */
export async function createDatabase(
  uri: string,
  options: CreateDatabaseOptions = {},
): Promise<TrackingDatabase> {
  const scheme = uri.slice(0, Math.max(0, uri.indexOf(':'))).toLowerCase();
  if (scheme === 'sqlite') return openSqlite(uri, options);
  if (scheme === 'postgresql' || scheme === 'postgres' || scheme.startsWith('postgresql+')) {
    return openPostgres(uri, options);
  }
  throw new InputError(
    `Unsupported backend store URI '${redactUri(uri)}'. Known schemes: sqlite, postgresql (postgres, postgresql+psycopg2).`,
  );
}

/** Parses `sqlite:///x` (relative), `sqlite:////x` (absolute) and `sqlite:///:memory:` into a file path. */
export function sqlitePathOf(uri: string): string {
  const m = /^sqlite:\/\/\/(.*)$/i.exec(uri);
  if (!m || m[1] === '')
    throw new InputError(`Invalid SQLite URI '${uri}': expected sqlite:///path/to/file.db`);
  const rest = m[1].split('?')[0];
  if (rest === ':memory:') return ':memory:';
  return rest.startsWith('/') ? rest : resolve(rest);
}

function openSqlite(uri: string, options: CreateDatabaseOptions): TrackingDatabase {
  const path = sqlitePathOf(uri);
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const raw = new Database(path, { timeout: options.busyTimeoutMs ?? 10_000 });
  if (path !== ':memory:') raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('foreign_keys = ON');
  raw.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 10_000)}`);
  // MLflow's LIKE is case-sensitive on every backend; SQLite's is not unless told so.
  raw.pragma('case_sensitive_like = ON');
  raw.pragma('cache_size = -65536');
  // Temporary b-trees (ORDER BY inside an aggregate, INTERSECT, sorts) in memory: as files, a statement
  // needing two of them opened temp files on every run (runs/get went from ~45 to ~110 us).
  raw.pragma('temp_store = MEMORY');
  const db = new Kysely<unknown>({
    dialect: new SqliteDialect({ database: cachingStatements(raw) }),
  }) as AnyKysely;
  return {
    db,
    dialect: 'sqlite',
    displayUri: uri,
    sqlite: raw,
    close: async () => {
      await db.destroy();
    },
  };
}

/**
 * Wraps better-sqlite3 so Kysely reuses prepared statements: Kysely prepares every query anew, and
 * compiling the same SQL again costs more than running it on the hot routes. Statements are only ever
 * run to completion (never iterated concurrently), so sharing one per SQL text is safe.
 */
function cachingStatements(raw: Database.Database, max = 1000): SqliteDatabaseLike {
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => raw.close(),
    prepare(text: string) {
      let stmt = cache.get(text);
      if (stmt) {
        cache.delete(text);
      } else {
        stmt = raw.prepare(text);
        if (cache.size >= max) cache.delete(cache.keys().next().value as string);
      }
      cache.set(text, stmt);
      return stmt;
    },
  };
}

type SqliteDatabaseLike = ConstructorParameters<typeof SqliteDialect>[0]['database'] & object;

async function openPostgres(uri: string, options: CreateDatabaseOptions): Promise<TrackingDatabase> {
  const url = new URL(uri.replace(/^[a-z0-9+]+:/i, 'postgresql:'));
  const schema = options.schema ?? url.searchParams.get('schema') ?? 'public';
  url.searchParams.delete('schema');
  if (!SCHEMA_NAME.test(schema)) throw new InputError(`Invalid PostgreSQL schema name '${schema}'`);
  const statementTimeout = options.statementTimeoutMs ?? 30_000;
  const pool = new pg.Pool({
    connectionString: url.toString(),
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
    ...(schema !== 'public' ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client losing its connection must not crash the process through an unhandled 'error' event.
  pool.on('error', () => {});
  if (schema !== 'public') {
    try {
      await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    } catch (e) {
      // Two openers racing on the same new schema: the loser sees a duplicate; the schema exists.
      const code = (e as { code?: string }).code;
      if (code !== '23505' && code !== '42P06') {
        await pool.end();
        throw e;
      }
    }
  }
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) }) as AnyKysely;
  return {
    db,
    dialect: 'postgresql',
    displayUri: redactUri(uri),
    schema,
    pgPool: pool,
    close: () => db.destroy(),
  };
}

/** Drops a PostgreSQL schema and everything in it (tests use this to clean up their unique schema). */
export async function dropPostgresSchema(database: TrackingDatabase, schema: string): Promise<void> {
  if (!SCHEMA_NAME.test(schema)) throw new InputError(`Invalid PostgreSQL schema name '${schema}'`);
  await sql.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).execute(database.db);
}

/** Removes the password from a URI so it can be logged or shown in an error. */
export function redactUri(uri: string): string {
  return uri.replace(/(\/\/[^:/@]+:)[^@/]*@/, '$1***@');
}
