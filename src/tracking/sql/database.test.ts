import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { sql } from 'kysely';
import { TasselError } from '../../errors.js';
import { createDatabase, redactUri, sqlitePathOf } from './database.js';
import { appliedMigrations, migrate, type Migration } from './migrate.js';
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
        [1],
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
