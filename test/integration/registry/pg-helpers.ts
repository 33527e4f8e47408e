import pg from 'pg';
import { registryMigrations } from '../../../src/tracking/registry/migrations.js';
import {
  createDatabase,
  dropPostgresSchema,
  type TrackingDatabase,
} from '../../../src/tracking/sql/database.js';
import { migrate } from '../../../src/tracking/sql/migrate.js';

export const PG_URL = process.env.TASSEL_TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

/** Undefined when PostgreSQL answers at `url`, otherwise the reason to skip (tests and bench:tracking). */
export async function pgSkipReason(url = PG_URL): Promise<string | undefined> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return undefined;
  } catch (e) {
    return `PostgreSQL unreachable at ${url}: ${(e as Error).message}`;
  } finally {
    await c.end().catch(() => {});
  }
}

/** A unique schema name for this test run. */
export function uniqueSchema(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Opens the database in a fresh schema with the registry tables; `drop` removes the schema. */
export async function openFreshSchema(
  schema: string,
): Promise<{ database: TrackingDatabase; drop: () => Promise<void> }> {
  const database = await createDatabase(PG_URL, { schema });
  await migrate(database, registryMigrations);
  return {
    database,
    drop: async () => {
      await dropPostgresSchema(database, schema);
      await database.close();
    },
  };
}
