import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createSqlRegistryStore } from '../../../src/tracking/registry/sql-store.js';
import { checkConcurrentLogBatch } from '../../../src/tracking/server/concurrency-check.js';
import { startTrackingServer } from '../../../src/tracking/server/start.js';
import { createDatabase, dropPostgresSchema } from '../../../src/tracking/sql/database.js';
import { runTrackingStoreContract } from '../../../src/tracking/store/contract.js';
import { createSqlTrackingStore } from '../../../src/tracking/store/sql-tracking-store.js';
import { pgSkipReason } from '../registry/pg-helpers.js';

const PG_URI = process.env.TASSEL_TEST_PG_URI ?? 'postgresql://postgres@127.0.0.1:5432/test';

const skip = await pgSkipReason(PG_URI);
if (skip) console.log(`# skipping PostgreSQL tracking tests: ${skip}`);
const schemaName = (what: string) => `tassel_${what}_${process.pid}_${Date.now().toString(36)}`;

runTrackingStoreContract(
  'PostgreSQL',
  async () => {
    const schema = schemaName('contract');
    const database = await createDatabase(PG_URI, { schema });
    const store = await createSqlTrackingStore({ database, defaultArtifactRoot: 's3://bucket/prefix' });
    const registry = createSqlRegistryStore({
      db: database.db,
      dialect: database.dialect,
      getExperiment: (id) => store.getExperiment(id),
    });
    const peerDatabase = await createDatabase(PG_URI, { schema });
    const peer = await createSqlTrackingStore({
      database: peerDatabase,
      defaultArtifactRoot: 's3://bucket/prefix',
      migrate: false,
    });
    return {
      store,
      registry,
      peer,
      close: async () => {
        await peerDatabase.close();
        await dropPostgresSchema(database, schema);
        await database.close();
      },
    };
  },
  { skip },
);

test('16 clients x 200 log-batch calls at once lose nothing on PostgreSQL', { skip }, async () => {
  const schema = schemaName('conc');
  const dir = mkdtempSync(join(tmpdir(), 'tassel-pgconc-'));
  const server = await startTrackingServer({
    backendStoreUri: `${PG_URI}?schema=${schema}`,
    artifactsDestination: `file://${dir}`,
    port: 0,
  });
  try {
    const r = await checkConcurrentLogBatch(server.url);
    assert.equal(r.calls, 3200);
    console.log(
      `# PostgreSQL: ${r.calls} log-batch calls (${r.metrics} metrics) in ${r.seconds.toFixed(2)} s`,
    );
  } finally {
    await dropPostgresSchema(server.database, schema);
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migrations are versioned and idempotent on PostgreSQL; two starters at once do not collide', {
  skip,
}, async () => {
  const schema = schemaName('mig');
  const a = await createDatabase(PG_URI, { schema });
  const b = await createDatabase(PG_URI, { schema });
  try {
    const { migrate } = await import('../../../src/tracking/sql/migrate.js');
    const { ALL_MIGRATIONS } = await import('../../../src/tracking/sql/migrations/index.js');
    const [ra, rb] = await Promise.all([migrate(a, ALL_MIGRATIONS), migrate(b, ALL_MIGRATIONS)]);
    assert.equal(ra.applied.length + rb.applied.length, ALL_MIGRATIONS.length);
    assert.equal((await migrate(a, ALL_MIGRATIONS)).applied.length, 0);
  } finally {
    await dropPostgresSchema(a, schema);
    await a.close();
    await b.close();
  }
});

test('tracking v4: PostgreSQL estimates a (key, value) filter on params from the pairs, not as if key and value were independent', {
  skip,
}, async () => {
  const schema = schemaName('stats');
  const database = await createDatabase(PG_URI, { schema });
  try {
    await createSqlTrackingStore({ database, defaultArtifactRoot: 's3://b' });
    const pool = database.pgPool!;
    await pool.query(
      "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES ('e', 'a', 'active', 0, 0)",
    );
    await pool.query(
      `INSERT INTO runs (run_uuid, experiment_id, status, start_time, lifecycle_stage)
       SELECT 'r' || g, (SELECT max(experiment_id) FROM experiments), 'FINISHED', g, 'active' FROM generate_series(1, 5000) g`,
    );
    // Ten params per run; p0 is 'a' for a quarter of the runs, the others take one of seven values.
    await pool.query(
      `INSERT INTO params (run_uuid, key, value)
       SELECT 'r' || g, 'p' || k, CASE WHEN k = 0 THEN (CASE WHEN g % 4 = 0 THEN 'a' ELSE 'b' END) ELSE 'v' || ((g + k) % 7) END
       FROM generate_series(1, 5000) g, generate_series(0, 9) k`,
    );
    await pool.query('ANALYZE params');
    const plan = await pool.query(
      "EXPLAIN (FORMAT JSON) SELECT run_uuid FROM params WHERE key = 'p0' AND value = 'a'",
    );
    const estimated = plan.rows[0]['QUERY PLAN'][0].Plan['Plan Rows'] as number;
    // 1,250 rows match; independence would estimate 5,000 x 0.1 (key) x 1,250 / 50,000 (value) = ~125.
    assert.ok(estimated > 800 && estimated < 1800, `estimated ${estimated} rows of 1,250`);
  } finally {
    await dropPostgresSchema(database, schema);
    await database.close();
  }
});
