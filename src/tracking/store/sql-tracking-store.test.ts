import { createDatabase } from '../sql/database.js';
import { runTrackingStoreContract } from './contract.js';
import { createSqlTrackingStore } from './sql-tracking-store.js';

runTrackingStoreContract('SQLite (in memory)', async () => {
  const database = await createDatabase('sqlite:///:memory:');
  const store = await createSqlTrackingStore({ database, defaultArtifactRoot: 'mlflow-artifacts:/' });
  return { store, close: () => database.close() };
});
