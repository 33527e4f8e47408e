import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RunningTrackingServer, startTrackingServer } from '../server/start.js';
import { createRegistryClient } from './registry-client.js';
import { createTrackingClient } from './tracking-client.js';

const TOKEN = 'flow-token-7f3a';

/** Every file under dir (relative path -> bytes). */
function snapshot(dir: string, rel = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of readdirSync(join(dir, rel))) {
    const r = rel ? `${rel}/${name}` : name;
    if (statSync(join(dir, r)).isDirectory()) for (const [k, v] of snapshot(dir, r)) out.set(k, v);
    else out.set(r, readFileSync(join(dir, r)));
  }
  return out;
}

describe('full MLflow-client flow over HTTP (tracking + registry clients, real server)', () => {
  let server: RunningTrackingServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tassel-flow-'));
    server = await startTrackingServer({
      backendStoreUri: `sqlite:///${join(dir, 'db', 'mlflow.db')}`,
      artifactsDestination: `file://${join(dir, 'artifacts')}`,
      port: 0,
      app: { auth: { token: TOKEN } },
    });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('run -> logged model upload through the proxy -> version -> alias production -> resolve -> download byte-identical', async () => {
    const tracking = createTrackingClient({ trackingUri: server.url, token: TOKEN, env: {} });
    const registry = createRegistryClient({ transport: tracking.transport });

    // A run, as mlflow.start_run() does.
    const experimentId = await tracking.createExperiment({ name: 'course-completion' });
    const run = await tracking.createRun({ experiment_id: experimentId, run_name: 'train-gbdt' });
    const runId = run.info.run_id;

    // A model directory with text and binary files, one in a subdirectory.
    const modelDir = join(dir, 'local-model');
    mkdirSync(join(modelDir, 'data'), { recursive: true });
    writeFileSync(join(modelDir, 'MLmodel'), 'artifact_path: model\nflavors:\n  tassel:\n    kind: gbdt\n');
    writeFileSync(join(modelDir, 'model.json'), JSON.stringify({ trees: [1, 2, 3] }));
    writeFileSync(join(modelDir, 'data', 'weights.bin'), randomBytes(200_000));

    // MLflow 3 log_model: create the logged model, upload to its artifact location, finalize, link to the run.
    const logged = await registry.createLoggedModel({
      experiment_id: experimentId,
      name: 'model',
      source_run_id: runId,
      model_type: 'classifier',
    });
    assert.match(logged.info.artifact_uri, /^mlflow-artifacts:\//);
    const uploaded = await registry.uploadArtifacts(modelDir, logged.info.artifact_uri);
    assert.deepEqual(uploaded, ['MLmodel', 'data/weights.bin', 'model.json']);
    await registry.finalizeLoggedModel(logged.info.model_id, 'LOGGED_MODEL_READY');
    const listing = await registry.listLoggedModelArtifacts(logged.info.model_id);
    assert.equal(listing.root_uri, logged.info.artifact_uri);
    assert.deepEqual(
      listing.files.map((f) => [f.path, f.is_dir]),
      [
        ['MLmodel', false],
        ['data', true],
        ['model.json', false],
      ],
    );
    await registry.logOutputs(runId, [{ model_id: logged.info.model_id, step: 0 }]);

    // mlflow.register_model("models:/<model_id>", name)
    const name = 'course-completion';
    await registry.createRegisteredModel({ name });
    const mv = await registry.createModelVersion({
      name,
      source: `models:/${logged.info.model_id}`,
      run_id: runId,
      model_id: logged.info.model_id,
    });
    assert.equal(mv.version, '1');
    assert.equal(mv.status, 'READY', 'the files are in place, so the version is READY');
    await registry.setRegisteredModelAlias(name, 'production', mv.version, {
      reason: 'passed the quality gate',
    });

    const resolved = await registry.resolveModelUri(`models:/${name}@production`);
    assert.deepEqual(resolved, { artifactUri: logged.info.artifact_uri, name, version: '1' });

    const out = join(dir, 'downloaded');
    const got = await registry.downloadModel(`models:/${name}@production`, out);
    assert.deepEqual(got.files, ['MLmodel', 'data/weights.bin', 'model.json']);
    const want = snapshot(modelDir);
    const have = snapshot(out);
    assert.deepEqual([...have.keys()].sort(), [...want.keys()].sort());
    for (const [k, v] of want) assert.ok(v.equals(have.get(k)!), `${k} differs`);

    // The same model through the other URI forms.
    assert.equal((await registry.resolveModelUri(`models:/${name}/1`)).artifactUri, logged.info.artifact_uri);
    assert.equal((await registry.resolveModelUri(`models:/${name}/latest`)).version, '1');
    assert.equal(
      (await registry.resolveModelUri(`models:/${logged.info.model_id}`)).artifactUri,
      logged.info.artifact_uri,
    );
    const viaRun = await registry.downloadModel(`runs:/${runId}/model`, join(dir, 'via-run'));
    assert.equal(
      viaRun.modelId,
      logged.info.model_id,
      'runs:/RUN/model finds the logged model of the run (MLflow 3)',
    );
    assert.ok(snapshot(join(dir, 'via-run')).get('data/weights.bin')?.equals(want.get('data/weights.bin')!));
  });

  test('MLflow 2 flow: a version registered from runs:/ before its files exist is PENDING, then READY', async () => {
    const tracking = createTrackingClient({ trackingUri: server.url, token: TOKEN, env: {} });
    const registry = createRegistryClient({ transport: tracking.transport });
    const experimentId = await tracking.createExperiment({ name: 'mlflow2-flow' });
    const run = await tracking.createRun({ experiment_id: experimentId });
    const runId = run.info.run_id;
    await registry.createRegisteredModel({ name: 'legacy' });
    const mv = await registry.createModelVersion({
      name: 'legacy',
      source: `runs:/${runId}/model`,
      run_id: runId,
    });
    assert.equal(mv.status, 'PENDING_REGISTRATION');
    const modelDir = join(dir, 'legacy-model');
    mkdirSync(modelDir, { recursive: true });
    writeFileSync(join(modelDir, 'MLmodel'), 'flavors: {}\n');
    await tracking.logArtifacts(runId, modelDir, 'model');
    assert.equal((await registry.getModelVersion('legacy', mv.version)).status, 'READY');
    await registry.transitionModelVersionStage('legacy', mv.version, 'Production', true);
    const files = await registry.downloadModel('models:/legacy/Production', join(dir, 'legacy-out'));
    assert.deepEqual(files.files, ['MLmodel']);
    assert.equal(readFileSync(join(dir, 'legacy-out', 'MLmodel'), 'utf8'), 'flavors: {}\n');
  });
});
