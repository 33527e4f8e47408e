import { TasselError } from '../../../src/errors.js';
import { runRegistryStoreContract } from '../../../src/tracking/registry/contract.js';
import { createSqlRegistryStore } from '../../../src/tracking/registry/sql-store.js';
import { createRegistryClient } from '../../../src/tracking/client/registry-client.js';
import { startRegistryTestServer } from '../../../src/tracking/registry/testing.js';
import { dropPostgresSchema } from '../../../src/tracking/sql/database.js';
import { openFreshSchema, PG_URL, pgSkipReason, uniqueSchema } from './pg-helpers.js';
import { test } from 'node:test';

const skip = await pgSkipReason();
if (skip) {
  test('registry store contract: PostgreSQL', { skip }, () => {});
} else {
  runRegistryStoreContract('PostgreSQL (fresh schema)', async () => {
    const { database, drop } = await openFreshSchema(uniqueSchema('reg_contract'));
    const store = createSqlRegistryStore({
      db: database.db,
      dialect: database.dialect,
      getExperiment: async (id) => {
        if (id !== '1')
          throw new TasselError('RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${id} exists`);
        return { artifact_location: 'mlflow-artifacts:/1', lifecycle_stage: 'active' };
      },
    });
    return { store, experimentId: '1', close: drop };
  });
}

if (!skip) {
  runRegistryStoreContract('REST client against a server on PostgreSQL', async () => {
    const schema = uniqueSchema('reg_rest');
    const server = await startRegistryTestServer({
      databaseUri: `${PG_URL}?schema=${schema}`,
      ownDatabase: false,
    });
    const experimentId = await server.trackingStore.createExperiment({ name: 'registry-contract-pg' });
    const { info } = await server.trackingStore.createRun({ experiment_id: experimentId });
    const store = createRegistryClient({ trackingUri: server.url, env: {}, maxRetries: 0 });
    return {
      store,
      experimentId,
      runId: info.run_id,
      close: async () => {
        await server.close();
        await dropPostgresSchema(server.database, schema);
        await server.database.close();
      },
    };
  });
}
