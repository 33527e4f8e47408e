import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  detailTests,
  endpointTests,
  graphqlTests,
  loggedModelTests,
  metricIdempotencyTests,
  type ParityServer,
  parityHarness,
  requestValidationTests,
  samplingTests,
  searchSemanticsTests,
  sourceRuleTests,
} from './mlflow-parity.js';
import { handlerAuditTests } from './mlflow-parity-handlers.js';
import { loggedModelSearchTests, runModelIoTests } from './mlflow-parity-models.js';
import { startTrackingServer } from './start.js';

/** MLflow's REST behaviour (test_rest_tracking.py, test_model_registry.py) on SQLite. */
async function openSqlite(): Promise<ParityServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tassel-parity-'));
  const artifactsDir = join(dir, 'artifacts');
  const server = await startTrackingServer({
    backendStoreUri: `sqlite:///${join(dir, 'parity.db')}`,
    artifactsDestination: `file://${artifactsDir}`,
    port: 0,
  });
  return {
    server,
    artifactsDir,
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

parityHarness('MLflow request validation on SQLite', openSqlite, {}, requestValidationTests);
parityHarness('MLflow details on SQLite', openSqlite, {}, detailTests);
parityHarness('MLflow model-version source rules on SQLite', openSqlite, {}, sourceRuleTests);
parityHarness('MLflow endpoints beyond the core API on SQLite', openSqlite, {}, endpointTests);
parityHarness('MLflow GraphQL on SQLite', openSqlite, {}, graphqlTests);
parityHarness('MLflow search semantics on SQLite', openSqlite, {}, searchSemanticsTests);
parityHarness('MLflow metric idempotency on SQLite', openSqlite, {}, metricIdempotencyTests);
parityHarness('MLflow bulk-interval sampling on SQLite', openSqlite, {}, samplingTests);
parityHarness('MLflow logged models linked to runs on SQLite', openSqlite, {}, loggedModelTests);
parityHarness('MLflow run model inputs and outputs on SQLite', openSqlite, {}, runModelIoTests);
parityHarness('MLflow logged-model search on SQLite', openSqlite, {}, loggedModelSearchTests);
parityHarness('MLflow handlers compared one by one on SQLite', openSqlite, {}, handlerAuditTests);
