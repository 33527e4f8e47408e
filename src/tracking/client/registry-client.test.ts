import { runRegistryStoreContract } from '../registry/contract.js';
import { startRegistryTestServer } from '../registry/testing.js';
import { createRegistryClient } from './registry-client.js';

runRegistryStoreContract('REST client against a server on SQLite', async () => {
  const server = await startRegistryTestServer({ auth: { token: 'secret-token' } });
  const experimentId = await server.trackingStore.createExperiment({ name: 'registry-contract' });
  const store = createRegistryClient({
    trackingUri: server.url,
    username: 'ana',
    password: 'secret-token',
    env: {},
    maxRetries: 0,
  });
  return { store, experimentId, expectedPrincipal: 'ana', close: () => server.close() };
});
