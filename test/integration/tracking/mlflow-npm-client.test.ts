import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mlflowPackage from 'mlflow';
import { type RunningTrackingServer, startTrackingServer } from '../../../src/tracking/server/start.js';
import { dropPostgresSchema } from '../../../src/tracking/sql/database.js';
import { PG_URL, pgSkipReason, uniqueSchema } from '../registry/pg-helpers.js';

// The third-party npm `mlflow` client (node_modules/mlflow/lib) drives every endpoint it covers:
// experiments create/list/get/update/delete/restore, runs create/get/update/delete/restore/log-metric/
// log-parameter/set-tag/delete-tag/log-batch/search, metrics/get-history, artifacts/list; on SQLite and
// on PostgreSQL.
// index.js is `module.exports = require('./lib/mlflow').default` while its types declare an ES default export.
type MLflowClass = typeof mlflowPackage.default;
const MLflow: MLflowClass =
  (mlflowPackage as unknown as { default?: MLflowClass }).default ??
  (mlflowPackage as unknown as MLflowClass);

const pgSkip = await pgSkipReason();

/** Runs the npm-client cases against a server on `backend` (a fresh database or schema). */
function npmClientSuite(backend: 'SQLite' | 'PostgreSQL', skip?: string): void {
  describe(`npm mlflow client against a server on ${backend}`, { skip }, () => {
    let server: RunningTrackingServer;
    const dir = mkdtempSync(join(tmpdir(), 'tassel-mlflow-npm-'));
    const schema = uniqueSchema('npm_client');
    const quiet = console.log;
    before(async () => {
      server = await startTrackingServer({
        backendStoreUri:
          backend === 'SQLite' ? `sqlite:///${join(dir, 'm.db')}` : `${PG_URL}?schema=${schema}`,
        artifactsDestination: `file://${join(dir, 'a')}`,
        port: 0,
      });
      // The package logs every request body with console.log.
      console.log = () => {};
    });
    after(async () => {
      console.log = quiet;
      if (backend === 'PostgreSQL') await dropPostgresSchema(server.database, schema);
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    });
    endToEnd(() => server);
    moreCalls(() => server);
  });
}

/** The package throws Error(JSON.stringify({status, statusText, data})) wrapped once more. */
function failure(e: unknown): { status: number; data: { error_code: string; message: string } } {
  const text = String((e as Error).message).replace(/^Error: /, '');
  return JSON.parse(text);
}

/** The happy path through every call the package has, then its errors. */
function endToEnd(serverOf: () => RunningTrackingServer): void {
  test('the npm mlflow client works end to end against the server', async () => {
    const server = serverOf();
    const client = new MLflow({ endpoint: server.url });
    const { Experiments, Runs, Metrics, Artifacts } = client;

    const { experiment_id } = await Experiments.create({ name: 'npm-client', artifact_location: '' });
    assert.match(experiment_id, /^\d+$/);
    const listed = await Experiments.list();
    assert.deepEqual(listed.experiments.map((e: { name: string }) => e.name).sort(), [
      'Default',
      'npm-client',
    ]);
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
    const tags = Object.fromEntries(
      got.data.tags.map((t: { key: string; value: string }) => [t.key, t.value]),
    );
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
}

/** Asserts the package's call fails with MLflow's status, error code and (part of) its message. */
async function failsWith(call: Promise<unknown>, status: number, code: string, text = ''): Promise<void> {
  await assert.rejects(call, (e) => {
    const f = failure(e);
    assert.equal(f.status, status, JSON.stringify(f));
    assert.equal(f.data.error_code, code);
    assert.ok(f.data.message.includes(text), `"${f.data.message}" should contain "${text}"`);
    return true;
  });
}

/** The arguments the happy path leaves out: view types, paging, artifact paths, and each call's errors. */
function moreCalls(serverOf: () => RunningTrackingServer): void {
  test('experiments: list by view type; create, get and update errors', async () => {
    const { Experiments } = new MLflow({ endpoint: serverOf().url });
    const { experiment_id } = await Experiments.create({ name: 'npm-views', artifact_location: '' });
    const gone = await Experiments.create({ name: 'npm-views-gone', artifact_location: '' });
    await Experiments.delete({ experiment_id: gone.experiment_id });
    const names = async (view_type?: string) =>
      (await Experiments.list({ view_type } as never)).experiments.map((e: { name: string }) => e.name);
    assert.ok((await names()).includes('npm-views'));
    assert.ok(!(await names()).includes('npm-views-gone'));
    assert.deepEqual(await names('DELETED_ONLY'), ['npm-views-gone']);
    assert.ok((await names('ALL')).includes('npm-views-gone'));
    await failsWith(
      Experiments.create({ name: 'npm-views', artifact_location: '' }),
      400,
      'RESOURCE_ALREADY_EXISTS',
      'Experiment(name=npm-views) already exists',
    );
    await failsWith(Experiments.get({ experiment_id: '987654' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    await failsWith(
      Experiments.update({ experiment_id, new_name: 'npm-views-gone' }),
      400,
      'RESOURCE_ALREADY_EXISTS',
    );
    await failsWith(Experiments.delete({ experiment_id: '987654' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  });

  test('runs: search pages with max_results and page_token, run_view_type, default start_time', async () => {
    const { Experiments, Runs } = new MLflow({ endpoint: serverOf().url });
    const { experiment_id } = await Experiments.create({ name: 'npm-paging', artifact_location: '' });
    const before = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { run } = await Runs.create({ experiment_id, tags: [] } as never);
      ids.push(run.info.run_id);
      await Runs.logMetric({ run_id: run.info.run_id, key: 'i', value: i, timestamp: 1, step: 0 });
      if (i === 0) assert.ok(run.info.start_time >= before, 'the server sets start_time when absent');
    }
    await Runs.delete({ run_id: ids[4] });
    const seen: string[] = [];
    let page_token: string | undefined;
    let pages = 0;
    do {
      const page = await Runs.search({
        experiment_ids: [experiment_id],
        max_results: 2,
        order_by: ['metrics.i ASC'],
        page_token,
      } as never);
      seen.push(...page.runs.map((r: { info: { run_id: string } }) => r.info.run_id));
      page_token = page.next_page_token;
      pages++;
    } while (page_token);
    assert.deepEqual(seen, ids.slice(0, 4), 'active runs, in metric order, across pages');
    assert.ok(pages >= 2);
    const deleted = await Runs.search({
      experiment_ids: [experiment_id],
      run_view_type: 'DELETED_ONLY',
    } as never);
    assert.deepEqual(
      deleted.runs.map((r: { info: { run_id: string } }) => r.info.run_id),
      [ids[4]],
    );
    const all = await Runs.search({ experiment_ids: [experiment_id], run_view_type: 'ALL' } as never);
    assert.equal(all.runs.length, 5);
    await failsWith(
      Runs.search({ experiment_ids: [experiment_id], filter: 'metrics.i >' } as never),
      400,
      'INVALID_PARAMETER_VALUE',
    );
    await failsWith(
      Runs.search({ experiment_ids: [experiment_id], max_results: 50001 } as never),
      400,
      'INVALID_PARAMETER_VALUE',
      'max_results',
    );
  });

  test('runs: logging errors reach the package as MLflow sends them', async () => {
    const { Experiments, Runs, Metrics } = new MLflow({ endpoint: serverOf().url });
    const { experiment_id } = await Experiments.create({ name: 'npm-errors', artifact_location: '' });
    const { run } = await Runs.create({ experiment_id, start_time: 1, tags: [] } as never);
    const run_id: string = run.info.run_id;
    // JSON.stringify turns NaN into null: MLflow reads a missing value
    await failsWith(
      Runs.logMetric({ run_id, key: 'x', value: Number.NaN, timestamp: 1, step: 0 }),
      400,
      'INVALID_PARAMETER_VALUE',
      "Missing value for required parameter 'value'",
    );
    await failsWith(
      Runs.logBatch({ run_id, metrics: [{ key: 'x', value: 1, step: 0 }], params: [], tags: [] } as never),
      400,
      'INVALID_PARAMETER_VALUE',
      "'metrics[0].timestamp'",
    );
    await failsWith(Runs.deleteTag({ run_id, key: 'none' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    await failsWith(
      Runs.update({ run_id: 'f'.repeat(32), status: 'KILLED' as never, end_time: 2 }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
    );
    await Runs.update({ run_id, status: 'KILLED' as never, end_time: 2 });
    assert.equal((await Runs.get({ run_id })).run.info.status, 'KILLED');
    await Runs.delete({ run_id });
    await failsWith(
      Runs.setTag({ run_id, key: 'k', value: 'v' }),
      400,
      'INVALID_PARAMETER_VALUE',
      "must be in the 'active' state",
    );
    const none = await Metrics.getHistory({ run_id, metric_key: 'never-logged' });
    assert.deepEqual(none.metrics ?? [], []);
    await failsWith(
      Metrics.getHistory({ run_id: 'f'.repeat(32), metric_key: 'x' }),
      404,
      'RESOURCE_DOES_NOT_EXIST',
    );
  });

  test('artifacts: list the root and a directory of files uploaded through the server', async () => {
    const server = serverOf();
    const { Experiments, Runs, Artifacts } = new MLflow({ endpoint: server.url });
    const { experiment_id } = await Experiments.create({ name: 'npm-artifacts', artifact_location: '' });
    const { run } = await Runs.create({ experiment_id, start_time: 1, tags: [] } as never);
    const run_id: string = run.info.run_id;
    for (const [path, body] of [
      ['model/MLmodel', 'flavors: {}\n'],
      ['model/weights.bin', 'abcdef'],
      ['notes.txt', 'hi'],
    ]) {
      const r = await fetch(
        `${server.url}/ajax-api/2.0/mlflow/upload-artifact?run_uuid=${run_id}&path=${encodeURIComponent(path)}`,
        { method: 'POST', body },
      );
      assert.equal(r.status, 200, await r.text());
    }
    const root = await Artifacts.list({ run_id, path: '' });
    assert.equal(root.root_uri, run.info.artifact_uri);
    assert.deepEqual(root.files, [
      { path: 'model', is_dir: true },
      { path: 'notes.txt', is_dir: false, file_size: 2 },
    ]);
    const model = await Artifacts.list({ run_id, path: 'model' });
    assert.deepEqual(model.files, [
      { path: 'model/MLmodel', is_dir: false, file_size: 12 },
      { path: 'model/weights.bin', is_dir: false, file_size: 6 },
    ]);
    await failsWith(Artifacts.list({ run_id, path: '../x' }), 400, 'INVALID_PARAMETER_VALUE', 'Invalid path');
  });
}

npmClientSuite('SQLite');
if (pgSkip) console.log(`# skipping the npm client on PostgreSQL: ${pgSkip}`);
npmClientSuite('PostgreSQL', pgSkip);
