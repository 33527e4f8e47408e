import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createRegistryClient } from '../../../src/tracking/client/registry-client.js';
import { waitForEvent } from '../../../src/tracking/events/testing.js';
import { channelForSchema, listenerApplicationName } from '../../../src/tracking/events/pg-transport.js';
import { startRegistryTestServer, type TestServer } from '../../../src/tracking/registry/testing.js';
import { dropPostgresSchema } from '../../../src/tracking/sql/database.js';
import { PG_URL, pgSkipReason, uniqueSchema } from './pg-helpers.js';

const skip = await pgSkipReason();

describe('two server replicas on one PostgreSQL database', { skip }, () => {
  const schema = uniqueSchema('reg_replicas');
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    const uri = `${PG_URL}?schema=${schema}`;
    a = await startRegistryTestServer({ databaseUri: uri });
    b = await startRegistryTestServer({ databaseUri: uri });
  });
  after(async () => {
    await b?.close();
    if (a) {
      await a.app.close();
      await dropPostgresSchema(a.database, schema);
      await a.database.close();
    }
  });

  test('an SSE subscriber on replica A sees an alias move made through replica B within 1 s', async () => {
    const viaB = createRegistryClient({ trackingUri: b.url, env: {}, maxRetries: 0 });
    await viaB.createRegisteredModel({ name: 'rep-m' });
    await viaB.createModelVersion({ name: 'rep-m', source: 's3://b/1' });
    await viaB.createModelVersion({ name: 'rep-m', source: 's3://b/2' });
    await viaB.setRegisteredModelAlias('rep-m', 'production', '1');
    const { event, elapsedMs } = await waitForEvent(
      `${a.url}/api/2.0/tassel/events?name=rep-m&alias=production`,
      (e) => e.type === 'alias_moved',
      { onOpen: () => viaB.setRegisteredModelAlias('rep-m', 'production', '2') },
    );
    assert.equal(event.version, '2');
    assert.equal(event.previous_version, '1');
    assert.ok(elapsedMs < 1000, `event took ${elapsedMs} ms`);
  });

  test('concurrent moves through both replicas: one holder, two audit rows, both replicas agree', async () => {
    const viaA = createRegistryClient({ trackingUri: a.url, env: {}, maxRetries: 0 });
    const viaB = createRegistryClient({ trackingUri: b.url, env: {}, maxRetries: 0 });
    await viaA.createRegisteredModel({ name: 'race-rep' });
    const created = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 ? viaA : viaB).createModelVersion({ name: 'race-rep', source: `s3://b/${i}` }),
      ),
    );
    assert.deepEqual(
      created.map((v) => Number(v.version)).sort((x, y) => x - y),
      [1, 2, 3, 4, 5, 6],
    );
    await viaA.setRegisteredModelAlias('race-rep', 'champion', '1');
    await Promise.all([
      viaA.setRegisteredModelAlias('race-rep', 'champion', '2'),
      viaB.setRegisteredModelAlias('race-rep', 'champion', '3'),
    ]);
    const holderA = (await viaA.getModelVersionByAlias('race-rep', 'champion')).version;
    const holderB = (await viaB.getModelVersionByAlias('race-rep', 'champion')).version;
    assert.equal(holderA, holderB);
    const moves = (await viaB.getAliasHistory({ name: 'race-rep', alias: 'champion' })).items.filter(
      (e) => e.action === 'alias_moved',
    );
    assert.equal(moves.length, 2);
    assert.equal(moves[0].to_version, holderA);
  });

  test('events keep flowing after the LISTEN connection is killed (reconnect)', async () => {
    const channel = channelForSchema(schema);
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const r = await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
        [listenerApplicationName(channel)],
      );
      assert.ok(
        r.rowCount && r.rowCount >= 2,
        `expected both replicas' LISTEN connections, got ${r.rowCount}`,
      );
    } finally {
      await admin.end();
    }
    const viaB = createRegistryClient({ trackingUri: b.url, env: {}, maxRetries: 0 });
    await viaB.createRegisteredModel({ name: 'reconnect-m' });
    await viaB.createModelVersion({ name: 'reconnect-m', source: 's3://b/1' });
    // Keep moving the alias until replica A reports it; reconnection takes a few hundred ms.
    let version = 0;
    let stop = false;
    const mover = (async () => {
      while (!stop) {
        version = version === 1 ? 0 : 1;
        if (version === 1) await viaB.setRegisteredModelAlias('reconnect-m', 'production', '1');
        else await viaB.deleteRegisteredModelAlias('reconnect-m', 'production');
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    try {
      const { event } = await waitForEvent(
        `${a.url}/api/2.0/tassel/events?name=reconnect-m`,
        (e) => e.type === 'alias_set',
        {
          timeoutMs: 8000,
        },
      );
      assert.equal(event.alias, 'production');
    } finally {
      stop = true;
      await mover;
    }
  });
});
