import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TasselError } from '../../errors.js';
import { createEventBus, type RegistryEvent } from '../events/bus.js';
import { createDatabase } from '../sql/database.js';
import { migrate } from '../sql/migrate.js';
import { runRegistryStoreContract } from './contract.js';
import { registryMigrations } from './migrations.js';
import { createSqlRegistryStore } from './sql-store.js';

const experiments = async (id: string) => {
  if (id !== '1') throw new TasselError('RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${id} exists`);
  return { artifact_location: 'mlflow-artifacts:/1', lifecycle_stage: 'active' };
};

runRegistryStoreContract('SQLite (file, WAL)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tassel-registry-'));
  const database = await createDatabase(`sqlite:///${join(dir, 'registry.db')}`);
  await migrate(database, registryMigrations);
  const store = createSqlRegistryStore({
    db: database.db,
    dialect: database.dialect,
    getExperiment: experiments,
  });
  return {
    store,
    experimentId: '1',
    close: async () => {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

test('changes are published after commit, with principal and previous version', async () => {
  const database = await createDatabase('sqlite:///:memory:');
  await migrate(database, registryMigrations);
  const bus = await createEventBus();
  const seen: RegistryEvent[] = [];
  bus.subscribe((e) => seen.push(e));
  const store = createSqlRegistryStore({ db: database.db, dialect: database.dialect, events: bus });
  await store.createRegisteredModel({ name: 'm' }, { principal: 'ana' });
  await store.createModelVersion({ name: 'm', source: 's3://b/1' }, { principal: 'ana' });
  await store.createModelVersion({ name: 'm', source: 's3://b/2' });
  await store.setRegisteredModelAlias('m', 'prod', '1', { principal: 'ana' });
  await store.setRegisteredModelAlias('m', 'prod', '2', { principal: 'bo' });
  await assert.rejects(store.setRegisteredModelAlias('m', 'prod', '7'));
  await store.deleteRegisteredModelAlias('m', 'prod');
  await store.transitionModelVersionStage('m', '2', 'Staging', false);
  assert.deepEqual(
    seen.map((e) => [e.type, e.alias, e.version, e.previous_version, e.principal]),
    [
      ['registered_model_created', undefined, undefined, undefined, 'ana'],
      ['model_version_created', undefined, '1', undefined, 'ana'],
      ['model_version_created', undefined, '2', undefined, 'anonymous'],
      ['alias_set', 'prod', '1', undefined, 'ana'],
      ['alias_moved', 'prod', '2', '1', 'bo'],
      ['alias_deleted', 'prod', undefined, '2', 'anonymous'],
      ['stage_transitioned', undefined, '2', undefined, 'anonymous'],
    ],
  );
  assert.equal(seen.at(-1)?.stage, 'Staging');
  assert.equal(seen.at(-1)?.previous_stage, 'None');
  assert.deepEqual(
    seen.map((e) => e.id),
    [1, 2, 3, 4, 5, 6, 7],
  );
  await database.close();
});

test('a version whose files are missing stays PENDING_REGISTRATION until they appear, then READY; FAILED after the timeout', async () => {
  const database = await createDatabase('sqlite:///:memory:');
  await migrate(database, registryMigrations);
  const present = new Set<string>();
  let clock = 1_000_000;
  const store = createSqlRegistryStore({
    db: database.db,
    dialect: database.dialect,
    probeArtifacts: async (uri) => (present.has(uri) ? 'present' : 'missing'),
    pendingTimeoutMs: 60_000,
    now: () => clock,
  });
  await store.createRegisteredModel({ name: 'p' });
  const v1 = await store.createModelVersion({ name: 'p', source: 'mlflow-artifacts:/1/a/artifacts/model' });
  assert.equal(v1.status, 'PENDING_REGISTRATION');
  assert.match(v1.status_message ?? '', /Waiting for the model files/);
  present.add('mlflow-artifacts:/1/a/artifacts/model');
  const again = await store.getModelVersion('p', '1');
  assert.equal(again.status, 'READY');
  assert.equal(again.status_message, undefined);
  // Sources on schemes the server cannot look into are READY at once (as MLflow).
  assert.equal((await store.createModelVersion({ name: 'p', source: 's3://elsewhere/x' })).status, 'READY');
  const v3 = await store.createModelVersion({ name: 'p', source: 'mlflow-artifacts:/1/never' });
  assert.equal(v3.status, 'PENDING_REGISTRATION');
  clock += 61_000;
  const failed = await store.getModelVersion('p', '3');
  assert.equal(failed.status, 'FAILED_REGISTRATION');
  assert.match(failed.status_message ?? '', /did not appear/);
  await database.close();
});
