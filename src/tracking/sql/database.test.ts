import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { sql } from 'kysely';
import { TasselError } from '../../errors.js';
import { createDatabase, redactUri, sqlitePathOf } from './database.js';
import { appliedMigrations, migrate, type Migration } from './migrate.js';
import { trackingSchemaV1 } from './migrations/001-tracking-schema.js';
import { ALL_MIGRATIONS } from './migrations/index.js';
import { inTransaction } from './transaction.js';

const dir = mkdtempSync(join(tmpdir(), 'tassel-sql-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('createDatabase', () => {
  test('parses SQLite URIs', () => {
    assert.equal(sqlitePathOf('sqlite:////abs/x.db'), '/abs/x.db');
    assert.equal(sqlitePathOf('sqlite:///:memory:'), ':memory:');
    assert.match(sqlitePathOf('sqlite:///rel/x.db'), /\/rel\/x\.db$/);
    assert.throws(() => sqlitePathOf('sqlite://'), TasselError);
  });

  test('rejects unknown schemes listing the known ones, and redacts passwords', async () => {
    await assert.rejects(createDatabase('mysql://u:secret@h/db'), (e: TasselError) => {
      assert.equal(e.code, 'INVALID_PARAMETER_VALUE');
      assert.match(e.message, /sqlite, postgresql/);
      assert.doesNotMatch(e.message, /secret/);
      return true;
    });
    assert.equal(redactUri('postgresql://u:pw@h:5432/db'), 'postgresql://u:***@h:5432/db');
  });

  test('opens SQLite in WAL mode, migrates once, and normalises unique violations', async () => {
    const database = await createDatabase(`sqlite:///${join(dir, 'a.db')}`);
    try {
      const mode = await sql<{ journal_mode: string }>`PRAGMA journal_mode`.execute(database.db);
      assert.equal(mode.rows[0].journal_mode, 'wal');
      const first = await migrate(database, ALL_MIGRATIONS);
      assert.ok(first.applied.length >= 1);
      const second = await migrate(database, ALL_MIGRATIONS);
      assert.equal(second.applied.length, 0);
      assert.deepEqual(
        (await appliedMigrations(database)).filter((m) => m.module === 'tracking').map((m) => m.version),
        [1, 2, 3, 4, 5],
      );
      const insert = (trx: typeof database.db) =>
        trx
          .insertInto('experiments')
          .values({
            name: 'x',
            artifact_location: 'a',
            lifecycle_stage: 'active',
            creation_time: 1,
            last_update_time: 1,
          })
          .execute();
      await inTransaction(database.db, insert);
      await assert.rejects(
        inTransaction(database.db, insert, { alreadyExists: 'Experiment x exists' }),
        (e: TasselError) => {
          assert.equal(e.code, 'RESOURCE_ALREADY_EXISTS');
          assert.equal(e.message, 'Experiment x exists');
          return true;
        },
      );
      // A failed transaction leaves nothing behind.
      await assert.rejects(
        inTransaction(database.db, async (trx) => {
          await trx
            .insertInto('experiments')
            .values({ name: 'y', creation_time: 1, last_update_time: 1 })
            .execute();
          throw new TasselError('INVALID_PARAMETER_VALUE', 'boom');
        }),
      );
      const names = await database.db.selectFrom('experiments').select('name').execute();
      assert.deepEqual(
        names.map((r) => r.name),
        ['x'],
      );
    } finally {
      await database.close();
    }
  });

  test('tracking v2 keeps the rows of a v1 database and clusters params, tags and latest_metrics', async () => {
    const database = await createDatabase(`sqlite:///${join(dir, 'v1.db')}`);
    try {
      await migrate(database, [trackingSchemaV1]);
      await sql`INSERT INTO experiments (experiment_id, name, creation_time, last_update_time) VALUES (7, 'e', 1, 1)`.execute(
        database.db,
      );
      for (const run of ['r1', 'r2']) {
        await sql`INSERT INTO runs (run_uuid, experiment_id, status, start_time) VALUES (${run}, 7, 'RUNNING', 1)`.execute(
          database.db,
        );
        await sql`INSERT INTO params (run_uuid, key, value) VALUES (${run}, 'lr', ${`${run}-0.1`}), (${run}, 'a', 'x')`.execute(
          database.db,
        );
        await sql`INSERT INTO tags (run_uuid, key, value) VALUES (${run}, 't', NULL)`.execute(database.db);
        await sql`INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan)
          VALUES (${run}, 'acc', 0.123456789012345678, 1700000000000, 9, 0)`.execute(database.db);
      }
      const dump = async () => ({
        params: (await sql`SELECT * FROM params ORDER BY run_uuid, key`.execute(database.db)).rows,
        tags: (await sql`SELECT * FROM tags ORDER BY run_uuid, key`.execute(database.db)).rows,
        latest: (await sql`SELECT * FROM latest_metrics ORDER BY run_uuid, key`.execute(database.db)).rows,
      });
      const before = await dump();
      assert.equal(before.params.length, 4);
      const result = await migrate(database, ALL_MIGRATIONS);
      assert.ok(result.applied.some((m) => m.module === 'tracking' && m.version === 2));
      assert.deepEqual(await dump(), before);
      const ddl = await sql<{ name: string; sql: string }>`SELECT name, sql FROM sqlite_master
        WHERE type = 'table' AND name IN ('params', 'tags', 'latest_metrics') ORDER BY name`.execute(
        database.db,
      );
      assert.deepEqual(
        ddl.rows.map((r) => [r.name, /WITHOUT ROWID/.test(r.sql)]),
        [
          ['latest_metrics', true],
          ['params', true],
          ['tags', true],
        ],
      );
      // The (key, value) index now covers run_uuid: a filter reads the index alone.
      const plan = await sql<{ detail: string }>`EXPLAIN QUERY PLAN
        SELECT run_uuid FROM latest_metrics WHERE key = 'acc' AND value > 0.1`.execute(database.db);
      assert.match(plan.rows.map((r) => r.detail).join(' '), /COVERING INDEX latest_metrics_key_value/);
      // Foreign keys still hold: a param of an unknown run is refused, and deleting a run cascades.
      await assert.rejects(
        sql`INSERT INTO params (run_uuid, key, value) VALUES ('nope', 'k', 'v')`.execute(database.db),
      );
      await sql`DELETE FROM runs WHERE run_uuid = 'r1'`.execute(database.db);
      const left = await dump();
      assert.deepEqual([left.params.length, left.tags.length, left.latest.length], [2, 1, 1]);
    } finally {
      await database.close();
    }
  });

  test('refuses migration lists out of order within a module', async () => {
    const database = await createDatabase('sqlite:///:memory:');
    const m = (version: number): Migration => ({
      module: 'z',
      version,
      name: `v${version}`,
      up: async () => {},
    });
    await assert.rejects(migrate(database, [m(2), m(1)]), /increasing order/);
    await database.close();
  });
});
