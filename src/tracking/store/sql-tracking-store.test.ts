import { createSqlRegistryStore } from '../registry/sql-store.js';
import { createDatabase } from '../sql/database.js';
import { runTrackingStoreContract } from './contract.js';
import { createSqlTrackingStore } from './sql-tracking-store.js';

runTrackingStoreContract('SQLite (in memory)', async () => {
  const database = await createDatabase('sqlite:///:memory:');
  const store = await createSqlTrackingStore({ database, defaultArtifactRoot: 'mlflow-artifacts:/' });
  const registry = createSqlRegistryStore({
    db: database.db,
    dialect: database.dialect,
    getExperiment: (id) => store.getExperiment(id),
  });
  const peer = await createSqlTrackingStore({
    database,
    defaultArtifactRoot: 'mlflow-artifacts:/',
    migrate: false,
  });
  return { store, registry, peer, close: () => database.close() };
});
