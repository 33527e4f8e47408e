import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeCourseCompletionCsv } from '../data/synthetic.js';
import { InputError, TasselError } from '../errors.js';
import { parsePipelineConfig } from './config.js';
import { createModelOps } from './model-ops.js';
import { runPipeline } from './runner.js';
import { openTestTrackingServer } from './test-server.js';
import { createClientTracking } from './tracking-client-adapter.js';

/**
 * End to end on 3,000 generated rows against a real tracking server: the embedded Tassel server, or the
 * server at TASSEL_PIPELINE_TEST_URI when set (e.g. a real MLflow server).
 */

const dir = mkdtempSync(join(tmpdir(), 'tassel-pipeline-e2e-'));
let server: { url: string; close(): Promise<void> } | null = null;
let skip: string | false = false;

const files = (root: string) => {
  const out: Record<string, Buffer> = {};
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(root, p)] = readFileSync(p);
    }
  };
  walk(root);
  return out;
};

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

before(async () => {
  await writeCourseCompletionCsv(join(dir, 'students.csv'), { rows: 3000, seed: 11 });
  const opened = await openTestTrackingServer(join(dir, 'tassel-data'));
  server = opened;
  skip = opened.skip;
});

after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const STRONG = [
  'Progress_Percentage',
  'Video_Completion_Rate',
  'Quiz_Score_Avg',
  'Assignments_Missed',
  'Assignments_Submitted',
];
const smallGbdt = {
  kind: 'gbdt',
  params: { n_estimators: 40, eta: 0.2, early_stopping_rounds: 8, max_bin: 64 },
  search: { max_depth: [3, 4] },
};

describe('pipeline end to end', { timeout: 120_000 }, () => {
  const model = `cc-e2e-${process.pid}`;
  const cfg = (extra: Record<string, unknown>) =>
    parsePipelineConfig(
      {
        data: { path: 'students.csv', schema: 'builtin:course-completion' },
        model_name: model,
        seed: 5,
        ...extra,
      },
      dir,
    );
  const rest = () => createClientTracking({ uri: server!.url, retries: 2, backoffMs: 20 });
  const get = async (path: string) => {
    const r = await fetch(`${server!.url}${path}`);
    assert.equal(r.status, 200, `${path}: ${r.status}`);
    return (await r.json()) as Record<string, any>;
  };
  const runOf = async (id: string) => (await get(`/api/2.0/mlflow/runs/get?run_id=${id}`)).run;
  const tagsOf = (run: any): Record<string, string> =>
    Object.fromEntries((run.data.tags ?? []).map((t: any) => [t.key, t.value]));

  test('train, log, register, gate, promote, reject, promote, rollback, reproduce, fail cleanly', async (t) => {
    if (skip) return t.skip(skip);
    const tracking = rest();

    // 1. A deliberately handicapped first model: logistic without the strongest features. First model -> production.
    const first = await runPipeline({
      config: cfg({
        data: { path: 'students.csv', schema: 'builtin:course-completion', ignore: STRONG },
        candidates: [{ kind: 'logistic' }],
      }),
      tracking,
    });
    assert.equal(first.version, '1');
    assert.equal(first.gate.decision, 'promote');
    assert.equal(first.productionVersion, '1');
    const parent = await runOf(first.runId);
    assert.equal(parent.info.status, 'FINISHED');
    const params = Object.fromEntries((parent.data.params ?? []).map((p: any) => [p.key, p.value]));
    assert.equal(params.seed, '5');
    assert.equal(params.winner, 'logistic');
    const ptags = tagsOf(parent);
    assert.match(ptags['tassel.data.sha256']!, /^[0-9a-f]{64}$/);
    assert.equal(ptags['tassel.data.rows'], '3000');
    assert.equal(ptags['tassel.gate.decision'], 'promote');
    assert.ok(ptags['tassel.node_version']);
    const pmetrics = Object.fromEntries((parent.data.metrics ?? []).map((m: any) => [m.key, m.value]));
    assert.ok(Math.abs(pmetrics.test_roc_auc - first.test.roc_auc) < 1e-9);
    const child = await runOf(first.trials[0]!.runId);
    assert.equal(tagsOf(child)['mlflow.parentRunId'], first.runId);
    assert.ok((child.data.params ?? []).some((p: any) => p.key === 'feature_spec'));
    // The registered version's files are the bundle, with the reports beside it in the run.
    const proxyRoot = String(parent.info.artifact_uri).replace(/^mlflow-artifacts:\/*/, '');
    const listing = await get(`/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(proxyRoot)}`);
    const names = (listing.files as Array<{ path: string }>).map((f) => f.path.split('/').pop());
    for (const n of [
      'model',
      'metrics.json',
      'roc.svg',
      'pr.svg',
      'calibration.svg',
      'feature_importance.json',
      'confusion_matrix.json',
      'reference_profile.json',
    ])
      assert.ok(names.includes(n), `artifact ${n} missing: ${names.join(', ')}`);
    // the winner's global explanation: a metric per field and explanation/global.json (the web UI reads it)
    const shap = Object.entries(pmetrics).filter(([k]) => k.startsWith('shap_mean_abs.'));
    assert.ok(shap.length > 5, `shap metrics: ${shap.length}`);
    assert.ok(
      !shap.some(([k]) => STRONG.some((f) => k.endsWith(`.${f}`))),
      'ignored fields are not explained',
    );
    const gr = await fetch(
      `${server!.url}/api/2.0/mlflow-artifacts/artifacts/${proxyRoot}/explanation/global.json`,
    );
    assert.equal(gr.status, 200);
    const global = (await gr.json()) as { model_kind: string; base_value: number; features: any[] };
    assert.deepEqual(Object.keys(global), ['model_kind', 'base_value', 'features']);
    assert.equal(global.model_kind, 'logistic');
    assert.equal(global.features.length, shap.length);
    for (let k = 1; k < global.features.length; k++)
      assert.ok(global.features[k - 1].mean_abs >= global.features[k].mean_abs);
    const top = global.features[0];
    assert.ok(Math.abs(pmetrics[`shap_mean_abs.${top.field}`] - top.mean_abs) < 1e-6);
    const ex = await get(
      `/api/2.0/mlflow-artifacts/artifacts?path=${encodeURIComponent(`${proxyRoot}/explanation`)}`,
    );
    assert.deepEqual((ex.files as Array<{ path: string }>).map((f) => f.path.split('/').pop()).sort(), [
      'global.json',
      'shap_bar.svg',
      'shap_beeswarm.svg',
    ]);
    const dl = mkdtempSync(join(dir, 'dl-'));
    await tracking.downloadVersion(model, '1', dl);
    assert.ok(readFileSync(join(dl, 'MLmodel'), 'utf8').includes('tassel'));

    // 2. A weaker run (the prior alone) is registered but not promoted, and says why.
    const weak = await runPipeline({ config: cfg({ candidates: [{ kind: 'dummy' }] }), tracking });
    assert.equal(weak.version, '2');
    assert.equal(weak.gate.decision, 'reject');
    assert.equal(weak.productionVersion, '1');
    assert.ok(
      weak.gate.reasons.some((r) => /^FAIL: test roc_auc 0\.5000 >= floor/.test(r)),
      weak.gate.reasons.join('\n'),
    );
    assert.ok(weak.gate.reasons.some((r) => /^FAIL: .*vs production v1/.test(r)));
    const v2 = await tracking.getVersion(model, '2');
    assert.equal(v2.tags['tassel.gate.decision'], 'reject');
    assert.match(v2.tags['tassel.gate.reasons']!, /FAIL/);
    assert.equal((await tracking.getVersionByAlias(model, 'challenger'))?.version, '2');

    // 3. A better run (all features, logistic + a small GBDT search) beats production and is promoted.
    const wd1 = join(dir, 'work-1');
    const better = await runPipeline({
      config: cfg({ candidates: [{ kind: 'logistic' }, smallGbdt] }),
      tracking,
      workDir: wd1,
    });
    assert.equal(better.version, '3');
    assert.equal(better.gate.decision, 'promote', better.gate.reasons.join('\n'));
    assert.equal(better.productionVersion, '3');
    assert.ok(better.test.roc_auc > first.test.roc_auc);
    const gbdtTrial = better.trials.find((x) => x.kind === 'gbdt')!;
    const hist = await get(
      `/api/2.0/mlflow/metrics/get-history?run_id=${gbdtTrial.runId}&metric_key=valid_log_loss`,
    );
    const points = hist.metrics as Array<{ step: number; value: number }>;
    assert.ok(points.length > 3, 'per-round validation log loss is logged as step metrics');
    // one name for one metric (issue 15): the rounds and, as the latest step, the kept model's value
    const last = points.reduce((a, b) => (b.step > a.step ? b : a));
    assert.equal(last.value, gbdtTrial.valid.log_loss);
    const other = await get(
      `/api/2.0/mlflow/metrics/get-history?run_id=${gbdtTrial.runId}&metric_key=valid_logloss`,
    );
    assert.equal(((other.metrics as unknown[] | undefined) ?? []).length, 0, 'no second spelling');

    // 4. Rollback moves production back to the version that held it before (v1, from the audit trail).
    const rb = await createModelOps(tracking).rollback(model);
    assert.deepEqual(rb, { from: '3', to: '1' });
    assert.equal((await tracking.getVersionByAlias(model, 'production'))?.version, '1');

    // 5. Same data, config and seed: same metrics and byte-identical bundle (not promoted: --no-promote).
    const wd2 = join(dir, 'work-2');
    const again = await runPipeline({
      config: cfg({ candidates: [{ kind: 'logistic' }, smallGbdt] }),
      tracking,
      workDir: wd2,
      promote: false,
    });
    assert.equal(again.gate.decision, 'hold');
    assert.deepEqual(again.test, better.test);
    assert.deepEqual(files(join(wd2, 'artifacts', 'model')), files(join(wd1, 'artifacts', 'model')));
    assert.equal((await tracking.getVersionByAlias(model, 'production'))?.version, '1');

    // 6. Missing data: a clear InputError, the parent run FAILED, nothing registered.
    const before = (await tracking.listVersions(model)).length;
    await assert.rejects(
      runPipeline({
        config: cfg({ data: { path: 'nope.csv', schema: 'builtin:course-completion' } }),
        tracking,
      }),
      (e: unknown) => e instanceof InputError && /nope\.csv: file not found/.test(e.message),
    );
    assert.equal((await tracking.listVersions(model)).length, before);
    const failed = await fetch(`${server!.url}/api/2.0/mlflow/runs/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ experiment_ids: [first.experimentId], filter: "attributes.status = 'FAILED'" }),
    }).then((r) => r.json() as Promise<{ runs?: any[] }>);
    assert.equal(failed.runs?.length, 1);
    assert.match(tagsOf(failed.runs![0])['tassel.error']!, /nope\.csv: file not found/);

    // 7. An unreachable tracking server fails the run cleanly: clear error, nothing registered anywhere.
    const dead = createClientTracking({
      uri: `http://127.0.0.1:${await closedPort()}`,
      retries: 2,
      backoffMs: 10,
    });
    await assert.rejects(
      runPipeline({ config: cfg({ candidates: [{ kind: 'dummy' }] }), tracking: dead }),
      (e: unknown) =>
        e instanceof TasselError &&
        e.code === 'TEMPORARILY_UNAVAILABLE' &&
        /127\.0\.0\.1.*nothing was logged or registered/.test(e.message),
    );
    assert.equal((await tracking.listVersions(model)).length, before);
  });
});
