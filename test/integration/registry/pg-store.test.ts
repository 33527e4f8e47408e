import { TasselError } from '../../../src/errors.js';
import { runRegistryStoreContract } from '../../../src/tracking/registry/contract.js';
import { createSqlRegistryStore } from '../../../src/tracking/registry/sql-store.js';
import { openFreshSchema, pgSkipReason, uniqueSchema } from './pg-helpers.js';
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
