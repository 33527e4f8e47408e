import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { registryMigrations } from '../registry/migrations.js';
import { registryRoutes } from '../registry/routes.js';
import { createSqlRegistryStore } from '../registry/sql-store.js';
import { installErrorHandling } from '../server/errors-plugin.js';
import { createDatabase } from '../sql/database.js';
import { migrate } from '../sql/migrate.js';
import { runRegistryStoreContract } from '../registry/contract.js';
import { startRegistryTestServer } from '../registry/testing.js';
import { createRegistryClient } from './registry-client.js';

runRegistryStoreContract('REST client against a server on SQLite', async () => {
  const server = await startRegistryTestServer({ auth: { token: 'secret-token' } });
  const experimentId = await server.trackingStore.createExperiment({ name: 'registry-contract' });
  const { info } = await server.trackingStore.createRun({ experiment_id: experimentId });
  const store = createRegistryClient({
    trackingUri: server.url,
    username: 'ana',
    password: 'secret-token',
    env: {},
    maxRetries: 0,
  });
  return { store, experimentId, runId: info.run_id, expectedPrincipal: 'ana', close: () => server.close() };
});

describe('watchAlias against a server without an event stream (as real MLflow)', () => {
  test('falls back to polling and still reports the move', async () => {
    const database = await createDatabase('sqlite:///:memory:');
    await migrate(database, registryMigrations);
    const store = createSqlRegistryStore({ db: database.db, dialect: database.dialect });
    const app = Fastify();
    installErrorHandling(app);
    await app.register(registryRoutes, { prefix: '/api/2.0/mlflow', store });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      await store.createRegisteredModel({ name: 'poll-m' });
      await store.createModelVersion({ name: 'poll-m', source: 's3://b/1' });
      await store.createModelVersion({ name: 'poll-m', source: 's3://b/2' });
      const client = createRegistryClient({ trackingUri: url, env: {}, maxRetries: 0 });
      const seen: Array<[string | undefined, string | undefined, string]> = [];
      let notify: () => void = () => {};
      const watcher = client.watchAlias(
        'poll-m',
        'production',
        (c) => {
          seen.push([c.version, c.previousVersion, c.via]);
          notify();
        },
        { pollIntervalMs: 50 },
      );
      await watcher.ready;
      assert.equal(watcher.mode, 'poll');
      assert.equal(watcher.current, undefined, 'no alias yet');
      const changed = new Promise<void>((r) => (notify = r));
      await store.setRegisteredModelAlias('poll-m', 'production', '2');
      await changed;
      watcher.close();
      assert.deepEqual(seen, [['2', undefined, 'poll']]);
    } finally {
      await app.close();
      await database.close();
    }
  });
});
