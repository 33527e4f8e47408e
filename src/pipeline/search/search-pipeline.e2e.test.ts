import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeCourseCompletionCsv } from '../../data/synthetic.js';
import { parsePipelineConfig } from '../config.js';
import { runPipeline } from '../runner.js';
import { openTestTrackingServer } from '../test-server.js';
import { createClientTracking } from '../tracking-client-adapter.js';

/** A tuned candidate in the pipeline: child runs per trial, and the test rows play no part in the search. */

const dir = mkdtempSync(join(tmpdir(), 'tassel-search-e2e-'));
let server: { url: string; close(): Promise<void> } | null = null;
let skip: string | false = false;

before(async () => {
  await writeCourseCompletionCsv(join(dir, 'train.csv'), { rows: 2500, seed: 21 });
  await writeCourseCompletionCsv(join(dir, 'test-a.csv'), { rows: 800, seed: 22 });
  await writeCourseCompletionCsv(join(dir, 'test-b.csv'), { rows: 800, seed: 23 });
  const opened = await openTestTrackingServer(join(dir, 'tassel-data'));
  server = opened;
  skip = opened.skip;
});

after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('pipeline with a hyperparameter search', { timeout: 240_000 }, () => {
  const config = (testFile: string, model: string) =>
    parsePipelineConfig(
      {
        data: { path: 'train.csv', schema: 'builtin:course-completion', test_data: testFile },
        model_name: model,
        seed: 4,
        candidates: [
          {
            kind: 'gbdt',
            params: { n_estimators: 60, early_stopping_rounds: 10 },
            tune: {
              strategy: 'tpe',
              trials: 6,
              batch: 3,
              workers: 2,
              min_rounds: 5,
              ensemble_top: 3,
              space: { max_depth: { int: [2, 6] }, eta: { float: [0.03, 0.4], log: true } },
            },
          },
        ],
      },
      dir,
    );
  const runsOf = async (experimentId: string, parentId: string) => {
    const r = await fetch(`${server!.url}/api/2.0/mlflow/runs/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        experiment_ids: [experimentId],
        filter: `tags.mlflow.parentRunId = '${parentId}'`,
        max_results: 100,
      }),
    });
    const body = (await r.json()) as { runs: any[] };
    const kv = (xs: any[] | undefined) => Object.fromEntries((xs ?? []).map((x) => [x.key, x.value]));
    return body.runs
      .map((run) => ({
        name: run.info.run_name,
        tags: kv(run.data.tags),
        params: kv(run.data.params),
        metrics: kv(run.data.metrics),
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  };

  test('each trial is a child run; different test rows leave the search and the winner unchanged', async (t) => {
    if (skip) return t.skip(skip);
    const tracking = createClientTracking({ uri: server!.url, retries: 2, backoffMs: 20 });
    const a = await runPipeline({ config: config('test-a.csv', `search-a-${process.pid}`), tracking });
    const b = await runPipeline({ config: config('test-b.csv', `search-b-${process.pid}`), tracking });
    const childrenA = await runsOf(a.experimentId, a.runId);
    const childrenB = await runsOf(b.experimentId, b.runId);
    assert.equal(childrenA.length, 7, 'the trial budget: six trials, and the average of the best three');
    assert.deepEqual(
      childrenA.map((c) => c.name),
      ['gbdt#001', 'gbdt#002', 'gbdt#003', 'gbdt#004', 'gbdt#005', 'gbdt#006', 'gbdt#top3'],
    );
    const [ensembleA, ensembleB] = [childrenA, childrenB].map(
      (cs) => cs.find((c) => c.name === 'gbdt#top3')!,
    );
    const trialsA = childrenA.filter((c) => c.name !== 'gbdt#top3');
    assert.equal(ensembleA!.tags['tassel.search.state'], 'ENSEMBLE');
    // its members: the three best complete trials by validation ROC AUC, best first
    const best3 = trialsA
      .filter((c) => c.tags['tassel.search.state'] === 'COMPLETE')
      .sort((x, y) => Number(y.metrics.valid_roc_auc) - Number(x.metrics.valid_roc_auc))
      .slice(0, 3)
      .map((c) => c.name);
    assert.equal(ensembleA!.tags['tassel.search.ensemble_members'], best3.join(','));
    // chosen on the validation rows: the same members and validation scores with other test rows
    assert.equal(ensembleB!.params.ensemble_members, ensembleA!.params.ensemble_members);
    assert.equal(ensembleB!.metrics.valid_roc_auc, ensembleA!.metrics.valid_roc_auc);
    for (const c of trialsA) {
      assert.equal(c.tags['tassel.search.strategy'], 'tpe');
      assert.match(c.tags['tassel.search.state']!, /^(COMPLETE|PRUNED)$/);
      assert.ok(c.params.max_depth && c.params.eta);
    }
    // the search saw training and validation rows only: the same trials, scores and winner on either test set
    const seen = (cs: typeof childrenA) =>
      cs.map((c) => ({
        params: c.params,
        state: c.tags['tassel.search.state'],
        valid: c.metrics.valid_roc_auc ?? null,
      }));
    const strip = (xs: ReturnType<typeof seen>) =>
      xs.map((x) => ({ ...x, params: { ...x.params, feature_spec: undefined } }));
    assert.deepEqual(strip(seen(childrenB)), strip(seen(childrenA)));
    assert.equal(b.winner.name, a.winner.name);
    assert.deepEqual(b.winner.valid, a.winner.valid);
    assert.notEqual(b.test.roc_auc, a.test.roc_auc, 'the test sets do differ');
    assert.equal(
      a.trials.length,
      childrenA.filter((c) => /^(COMPLETE|ENSEMBLE)$/.test(c.tags['tassel.search.state']!)).length,
    );
  });
});
