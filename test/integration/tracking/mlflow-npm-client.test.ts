import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mlflowPackage from 'mlflow';
import { type RunningTrackingServer, startTrackingServer } from '../../../src/tracking/server/start.js';

// The third-party npm `mlflow` client (node_modules/mlflow/lib) drives every endpoint it covers:
// experiments create/list/get/update/delete/restore, runs create/get/update/delete/restore/log-metric/
// log-parameter/set-tag/delete-tag/log-batch/search, metrics/get-history, artifacts/list.
// index.js is `module.exports = require('./lib/mlflow').default` while its types declare an ES default export.
type MLflowClass = typeof mlflowPackage.default;
const MLflow: MLflowClass =
  (mlflowPackage as unknown as { default?: MLflowClass }).default ??
  (mlflowPackage as unknown as MLflowClass);

let server: RunningTrackingServer;
const dir = mkdtempSync(join(tmpdir(), 'tassel-mlflow-npm-'));
const quiet = console.log;

before(async () => {
  server = await startTrackingServer({
    backendStoreUri: `sqlite:///${join(dir, 'm.db')}`,
    artifactsDestination: `file://${join(dir, 'a')}`,
    port: 0,
  });
  // The package logs every request body with console.log.
  console.log = () => {};
});
after(async () => {
  console.log = quiet;
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The package throws Error(JSON.stringify({status, statusText, data})) wrapped once more. */
function failure(e: unknown): { status: number; data: { error_code: string; message: string } } {
  const text = String((e as Error).message).replace(/^Error: /, '');
  return JSON.parse(text);
}

test('the npm mlflow client works end to end against the server', async () => {
  const client = new MLflow({ endpoint: server.url });
  const { Experiments, Runs, Metrics, Artifacts } = client;

  const { experiment_id } = await Experiments.create({ name: 'npm-client', artifact_location: '' });
  assert.match(experiment_id, /^\d+$/);
  const listed = await Experiments.list();
  assert.deepEqual(listed.experiments.map((e: { name: string }) => e.name).sort(), ['Default', 'npm-client']);
  const { experiment } = await Experiments.get({ experiment_id });
  assert.equal(experiment.name, 'npm-client');
  assert.equal(experiment.artifact_location, `mlflow-artifacts:/${experiment_id}`);
  await Experiments.update({ experiment_id, new_name: 'npm-client-2' });
  assert.equal((await Experiments.get({ experiment_id })).experiment.name, 'npm-client-2');

  const { run } = await Runs.create({
    experiment_id,
    user_id: 'npm',
    start_time: 1_700_000_000_000,
    tags: [{ key: 'via', value: 'npm' }],
  });
  const runId: string = run.info.run_id;
  await Runs.logMetric({ run_id: runId, key: 'auc', value: 0.7, timestamp: 1_700_000_000_001, step: 0 });
  await Runs.logMetric({ run_id: runId, key: 'auc', value: 0.8, timestamp: 1_700_000_000_002, step: 1 });
  await Runs.logParameter({ run_id: runId, key: 'lr', value: '0.1' });
  await Runs.setTag({ run_id: runId, key: 'stage', value: 'dev' });
  await Runs.logBatch({
    run_id: runId,
    metrics: [{ key: 'loss', value: 0.3, timestamp: 1_700_000_000_003, step: 1 }],
    params: [{ key: 'depth', value: '4' }],
    tags: [{ key: 'owner', value: 'ml' }],
  });
  await Runs.deleteTag({ run_id: runId, key: 'stage' });
  await Runs.update({ run_id: runId, status: 'FINISHED' as never, end_time: 1_700_000_000_100 });

  const got = (await Runs.get({ run_id: runId })).run;
  assert.equal(got.info.status, 'FINISHED');
  assert.equal(got.info.end_time, 1_700_000_000_100);
  assert.equal(got.info.user_id, 'npm');
  const metrics = Object.fromEntries(
    got.data.metrics.map((m: { key: string; value: number }) => [m.key, m.value]),
  );
  assert.deepEqual(metrics, { auc: 0.8, loss: 0.3 });
  const params = Object.fromEntries(
    got.data.params.map((p: { key: string; value: string }) => [p.key, p.value]),
  );
  assert.deepEqual(params, { depth: '4', lr: '0.1' });
  const tags = Object.fromEntries(got.data.tags.map((t: { key: string; value: string }) => [t.key, t.value]));
  assert.equal(tags.via, 'npm');
  assert.equal(tags.owner, 'ml');
  assert.equal(tags.stage, undefined);

  const history = await Metrics.getHistory({ run_id: runId, metric_key: 'auc' });
  assert.deepEqual(
    history.metrics.map((m: { value: number; step: number }) => [m.step, m.value]),
    [
      [0, 0.7],
      [1, 0.8],
    ],
  );
  const found = await Runs.search({
    experiment_ids: [experiment_id],
    filter: 'metrics.auc > 0.75',
    order_by: ['metrics.auc DESC'],
  });
  assert.deepEqual(
    found.runs.map((r: { info: { run_id: string } }) => r.info.run_id),
    [runId],
  );
  const none = await Runs.search({ experiment_ids: [experiment_id], filter: "params.lr = '0.2'" });
  assert.deepEqual(none.runs, []);
  const arts = await Artifacts.list({ run_id: runId, path: '' });
  assert.equal(arts.root_uri, got.info.artifact_uri);
  assert.deepEqual(arts.files, []);

  await Runs.delete({ run_id: runId });
  assert.equal((await Runs.get({ run_id: runId })).run.info.lifecycle_stage, 'deleted');
  await Runs.restore({ run_id: runId });
  assert.equal((await Runs.get({ run_id: runId })).run.info.lifecycle_stage, 'active');
  await Experiments.delete({ experiment_id });
  assert.equal((await Experiments.get({ experiment_id })).experiment.lifecycle_stage, 'deleted');
  await Experiments.restore({ experiment_id });

  // Errors reach the package as MLflow bodies with MLflow's statuses.
  await assert.rejects(Runs.get({ run_id: 'f'.repeat(32) }), (e) => {
    const f = failure(e);
    assert.equal(f.status, 404);
    assert.equal(f.data.error_code, 'RESOURCE_DOES_NOT_EXIST');
    return true;
  });
  await assert.rejects(Runs.logParameter({ run_id: runId, key: 'lr', value: '0.5' }), (e) => {
    const f = failure(e);
    assert.equal(f.status, 400);
    assert.equal(f.data.error_code, 'INVALID_PARAMETER_VALUE');
    return true;
  });
  // The package builds this URL without a slash ('/experimentsset-experiment-tag'): a JSON 404.
  await assert.rejects(Experiments.setExperimentTag({ experiment_id, key: 'k', value: 'v' }), (e) => {
    const f = failure(e);
    assert.equal(f.status, 404);
    assert.equal(f.data.error_code, 'ENDPOINT_NOT_FOUND');
    return true;
  });
});
