import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ParityServer,
  detailTests,
  endpointTests,
  graphqlTests,
  loggedModelTests,
  metricIdempotencyTests,
  parityHarness,
  requestValidationTests,
  samplingTests,
  searchSemanticsTests,
  sourceRuleTests,
} from '../../../src/tracking/server/mlflow-parity.js';
import { handlerAuditTests } from '../../../src/tracking/server/mlflow-parity-handlers.js';
import {
  loggedModelSearchTests,
  runModelIoTests,
} from '../../../src/tracking/server/mlflow-parity-models.js';
import { startTrackingServer } from '../../../src/tracking/server/start.js';
import { dropPostgresSchema } from '../../../src/tracking/sql/database.js';
import { pgSkipReason } from '../registry/pg-helpers.js';

const PG_URI = process.env.TASSEL_TEST_PG_URI ?? 'postgresql://postgres@127.0.0.1:5432/test';

const skip = await pgSkipReason(PG_URI);
if (skip) console.log(`# skipping PostgreSQL MLflow parity tests: ${skip}`);

/** MLflow's REST behaviour on PostgreSQL: a fresh schema per suite, dropped afterwards. */
async function openPostgres(): Promise<ParityServer> {
  const schema = `tassel_parity_${process.pid}_${Date.now().toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), 'tassel-parity-pg-'));
  const artifactsDir = join(dir, 'artifacts');
  const server = await startTrackingServer({
    backendStoreUri: `${PG_URI}?schema=${schema}`,
    artifactsDestination: `file://${artifactsDir}`,
    port: 0,
  });
  return {
    server,
    artifactsDir,
    close: async () => {
      await dropPostgresSchema(server.database, schema);
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

parityHarness('MLflow request validation on PostgreSQL', openPostgres, { skip }, requestValidationTests);
parityHarness('MLflow details on PostgreSQL', openPostgres, { skip }, detailTests);
parityHarness('MLflow model-version source rules on PostgreSQL', openPostgres, { skip }, sourceRuleTests);
parityHarness('MLflow endpoints beyond the core API on PostgreSQL', openPostgres, { skip }, endpointTests);
parityHarness('MLflow GraphQL on PostgreSQL', openPostgres, { skip }, graphqlTests);
parityHarness('MLflow search semantics on PostgreSQL', openPostgres, { skip }, searchSemanticsTests);
parityHarness('MLflow metric idempotency on PostgreSQL', openPostgres, { skip }, metricIdempotencyTests);
parityHarness('MLflow bulk-interval sampling on PostgreSQL', openPostgres, { skip }, samplingTests);
parityHarness('MLflow logged models linked to runs on PostgreSQL', openPostgres, { skip }, loggedModelTests);
parityHarness('MLflow run model inputs and outputs on PostgreSQL', openPostgres, { skip }, runModelIoTests);
parityHarness('MLflow logged-model search on PostgreSQL', openPostgres, { skip }, loggedModelSearchTests);
parityHarness('MLflow handlers compared one by one on PostgreSQL', openPostgres, { skip }, handlerAuditTests);
