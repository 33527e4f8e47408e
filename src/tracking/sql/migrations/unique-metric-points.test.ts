import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { sql } from 'kysely';
import { createDatabase } from '../database.js';
import { migrate } from '../migrate.js';
import { trackingSchemaV1 } from './001-tracking-schema.js';
import { clusteredKeyValues } from './002-clustered-key-values.js';
import { ALL_MIGRATIONS } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'tassel-mig3-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('tracking v3 removes duplicate metric points logged before it, keeping the first, then refuses new ones', async () => {
  const database = await createDatabase(`sqlite:///${join(dir, 'm.db')}`);
  try {
    await migrate(database, [trackingSchemaV1, clusteredKeyValues]);
    const db = database.db;
    await sql`INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES ('e', 'x', 'active', 0, 0)`.execute(
      db,
    );
    const exp = (await sql<{ id: number }>`SELECT MAX(experiment_id) AS id FROM experiments`.execute(db))
      .rows[0].id;
    await sql`INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, lifecycle_stage, artifact_uri) VALUES ('r1', 'n', ${exp}, 'u', 'RUNNING', 0, 'active', 'a')`.execute(
      db,
    );
    const point = (value: number, ts: number) =>
      sql`INSERT INTO metrics (run_uuid, key, value, timestamp, step, is_nan) VALUES ('r1', 'm', ${value}, ${ts}, 0, 0)`.execute(
        db,
      );
    await point(1, 1);
    await point(1, 1);
    await point(2, 1);
    await point(1, 1);
    await migrate(database, ALL_MIGRATIONS);
    const rows = (
      await sql<{ id: number; value: number }>`SELECT id, value FROM metrics ORDER BY id`.execute(db)
    ).rows;
    assert.deepEqual(
      rows.map((r) => [r.id, r.value]),
      [
        [1, 1],
        [3, 2],
      ],
    );
    await assert.rejects(point(1, 1));
  } finally {
    await database.close();
  }
});
