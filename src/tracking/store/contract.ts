import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ErrorCode, TasselError } from '../../errors.js';
import type { RegistryStore } from '../registry/store.js';
import type { Run, TrackingStore } from './types.js';

/** What a contract run needs: a store and how to dispose of it. */
export interface ContractStore {
  store: TrackingStore;
  /**
   * The registry beside the store (logged models and `runs/outputs`), to check that runs carry their
   * model outputs; the outputs test is skipped without it.
   */
  registry?: Pick<RegistryStore, 'createLoggedModel' | 'logOutputs'>;
  /**
   * A second store over the same database (another server replica): whatever one writes, the other's
   * next read must show, whatever either has cached.
   */
  peer?: TrackingStore;
  close(): Promise<void>;
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TasselError, `expected a TasselError, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    if (message) assert.match(e.message, message);
    return true;
  });
}

const tagsOf = (run: Run) => Object.fromEntries(run.data.tags.map((t) => [t.key, t.value]));
const paramsOf = (run: Run) => Object.fromEntries(run.data.params.map((t) => [t.key, t.value]));
const metricsOf = (run: Run) => Object.fromEntries(run.data.metrics.map((m) => [m.key, m]));

/**
 * The behaviour every TrackingStore must have, run against SQLite, PostgreSQL and the REST client
 * (drizzle-style shared suite). `makeStore` is called once per suite; tests use unique names so they
 * can share it.
 */
export function runTrackingStoreContract(
  name: string,
  makeStore: () => Promise<ContractStore>,
  options: { skip?: string } = {},
): void {
  describe(`TrackingStore contract: ${name}`, { skip: options.skip }, () => {
    let ctx: ContractStore;
    let store: TrackingStore;
    const unique = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const uname = (n: string) => `${n}-${unique}`;
    before(async () => {
      ctx = await makeStore();
      store = ctx.store;
    });
    after(async () => {
      await ctx?.close();
    });

    test('the Default experiment exists with id 0', async () => {
      const exp = await store.getExperiment('0');
      assert.equal(exp.name, 'Default');
      assert.equal(exp.lifecycle_stage, 'active');
      assert.match(exp.artifact_location, /0$/);
    });

    test('experiments: create, get, get-by-name, duplicates, rename, tags, delete and restore', async () => {
      const name = uname('exp');
      const id = await store.createExperiment({ name, tags: [{ key: 'team', value: 'ml' }] });
      assert.match(id, /^\d+$/);
      const exp = await store.getExperiment(id);
      assert.equal(exp.name, name);
      assert.equal(exp.experiment_id, id);
      assert.ok(exp.artifact_location.endsWith(`/${id}`), exp.artifact_location);
      assert.deepEqual(exp.tags, [{ key: 'team', value: 'ml' }]);
      assert.equal(typeof exp.creation_time, 'number');
      assert.deepEqual(await store.getExperimentByName(name), exp);
      await rejectsWith(store.createExperiment({ name }), 'RESOURCE_ALREADY_EXISTS', /already exists/);
      await rejectsWith(store.createExperiment({ name: '' }), 'INVALID_PARAMETER_VALUE');
      await rejectsWith(
        store.getExperiment('987654321'),
        'RESOURCE_DOES_NOT_EXIST',
        /No Experiment with id=987654321 exists/,
      );
      await rejectsWith(store.getExperiment('not-a-number'), 'RESOURCE_DOES_NOT_EXIST');
      await rejectsWith(
        store.getExperimentByName(uname('nope')),
        'RESOURCE_DOES_NOT_EXIST',
        /Could not find experiment/,
      );

      const renamed = uname('exp-renamed');
      await store.renameExperiment(id, renamed);
      assert.equal((await store.getExperiment(id)).name, renamed);
      await store.setExperimentTag(id, 'team', 'data');
      await store.setExperimentTag(id, 'note', 'x');
      assert.deepEqual((await store.getExperiment(id)).tags, [
        { key: 'note', value: 'x' },
        { key: 'team', value: 'data' },
      ]);
      await store.deleteExperimentTag(id, 'note');
      await rejectsWith(store.deleteExperimentTag(id, 'note'), 'RESOURCE_DOES_NOT_EXIST');

      const run = await store.createRun({ experiment_id: id, run_name: 'r' });
      await store.deleteExperiment(id);
      assert.equal((await store.getExperiment(id)).lifecycle_stage, 'deleted');
      assert.equal((await store.getRun(run.info.run_id)).info.lifecycle_stage, 'deleted');
      await rejectsWith(
        store.createRun({ experiment_id: id }),
        'INVALID_PARAMETER_VALUE',
        /must be in the 'active' state/,
      );
      await rejectsWith(store.renameExperiment(id, uname('other')), 'INVALID_PARAMETER_VALUE');
      await store.restoreExperiment(id);
      assert.equal((await store.getExperiment(id)).lifecycle_stage, 'active');
      assert.equal((await store.getRun(run.info.run_id)).info.lifecycle_stage, 'active');
    });

    test('experiments/search: filter, order_by, view type and page tokens', async () => {
      const prefix = uname('search');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++)
        ids.push(
          await store.createExperiment({ name: `${prefix}-${i}`, tags: [{ key: 'i', value: String(i) }] }),
        );
      await store.deleteExperiment(ids[4]);
      const filter = `name LIKE '${prefix}-%'`;
      const all = await store.searchExperiments({ filter, order_by: ['name ASC'] });
      assert.deepEqual(
        all.experiments.map((e) => e.name),
        [0, 1, 2, 3].map((i) => `${prefix}-${i}`),
      );
      const deleted = await store.searchExperiments({ filter, view_type: 'DELETED_ONLY' });
      assert.deepEqual(
        deleted.experiments.map((e) => e.experiment_id),
        [ids[4]],
      );
      assert.equal((await store.searchExperiments({ filter, view_type: 'ALL' })).experiments.length, 5);
      const tagged = await store.searchExperiments({ filter: `${filter} AND tags.i = '2'` });
      assert.deepEqual(
        tagged.experiments.map((e) => e.experiment_id),
        [ids[2]],
      );
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await store.searchExperiments({
          filter,
          order_by: ['name DESC'],
          max_results: 3,
          page_token: token,
        });
        seen.push(...page.experiments.map((e) => e.name));
        token = page.next_page_token;
        pages++;
      } while (token);
      assert.equal(pages, 2);
      assert.deepEqual(
        seen,
        [3, 2, 1, 0].map((i) => `${prefix}-${i}`),
      );
      await rejectsWith(store.searchExperiments({ filter: 'name ~ 1' }), 'INVALID_PARAMETER_VALUE');
      await rejectsWith(store.searchExperiments({ page_token: 'garbage!' }), 'INVALID_PARAMETER_VALUE');
    });

    test('runs: create, get, update, delete, restore, unknown ids', async () => {
      const expId = await store.createExperiment({ name: uname('runs') });
      const before = Date.now();
      const run = await store.createRun({
        experiment_id: expId,
        user_id: 'ada',
        start_time: 1_700_000_000_000,
        tags: [{ key: 'source', value: 'test' }],
        run_name: 'first-run',
      });
      const { info } = run;
      assert.match(info.run_id, /^[0-9a-f]{32}$/);
      assert.equal(info.run_uuid, info.run_id);
      assert.equal(info.run_name, 'first-run');
      assert.equal(info.experiment_id, expId);
      assert.equal(info.user_id, 'ada');
      assert.equal(info.status, 'RUNNING');
      assert.equal(info.start_time, 1_700_000_000_000);
      assert.equal(info.end_time, undefined);
      assert.equal(info.lifecycle_stage, 'active');
      assert.ok(info.artifact_uri.endsWith(`/${expId}/${info.run_id}/artifacts`), info.artifact_uri);
      assert.deepEqual(tagsOf(run), { source: 'test', 'mlflow.runName': 'first-run' });
      assert.deepEqual(await store.getRun(info.run_id), run);

      const unnamed = await store.createRun({ experiment_id: expId });
      assert.match(unnamed.info.run_name, /^[a-z]+-[a-z]+-\d+$/);
      assert.ok(unnamed.info.start_time >= before);

      const updated = await store.updateRun({
        run_id: info.run_id,
        status: 'FINISHED',
        end_time: 1_700_000_001_000,
        run_name: 'renamed',
      });
      assert.equal(updated.status, 'FINISHED');
      assert.equal(updated.end_time, 1_700_000_001_000);
      assert.equal(updated.run_name, 'renamed');
      assert.equal(tagsOf(await store.getRun(info.run_id))['mlflow.runName'], 'renamed');

      await store.deleteRun(info.run_id);
      assert.equal((await store.getRun(info.run_id)).info.lifecycle_stage, 'deleted');
      await rejectsWith(
        store.logBatch({ run_id: info.run_id, metrics: [{ key: 'm', value: 1, timestamp: 1, step: 0 }] }),
        'INVALID_PARAMETER_VALUE',
        /must be in the 'active' state/,
      );
      await store.restoreRun(info.run_id);
      assert.equal((await store.getRun(info.run_id)).info.lifecycle_stage, 'active');

      const missing = 'f'.repeat(32);
      await rejectsWith(
        store.getRun(missing),
        'RESOURCE_DOES_NOT_EXIST',
        new RegExp(`Run with id=${missing} not found`),
      );
      await rejectsWith(store.updateRun({ run_id: missing, status: 'FAILED' }), 'RESOURCE_DOES_NOT_EXIST');
      await rejectsWith(
        store.logBatch({ run_id: missing, params: [{ key: 'a', value: 'b' }] }),
        'RESOURCE_DOES_NOT_EXIST',
      );
      await rejectsWith(store.deleteRun(missing), 'RESOURCE_DOES_NOT_EXIST');
      await rejectsWith(store.createRun({ experiment_id: '99999999' }), 'RESOURCE_DOES_NOT_EXIST');
    });

    test('log-batch: metrics, latest values, params immutable, tags, limits, atomicity', async () => {
      const expId = await store.createExperiment({ name: uname('batch') });
      const runId = (await store.createRun({ experiment_id: expId })).info.run_id;
      await store.logBatch({
        run_id: runId,
        metrics: [
          { key: 'loss', value: 0.9, timestamp: 100, step: 0 },
          { key: 'loss', value: 0.5, timestamp: 200, step: 2 },
          { key: 'loss', value: 0.7, timestamp: 300, step: 1 },
          { key: 'acc', value: 0.8, timestamp: 100, step: 0 },
        ],
        params: [
          { key: 'lr', value: '0.1' },
          { key: 'depth', value: '3' },
        ],
        tags: [{ key: 'stage', value: 'train' }],
      });
      let run = await store.getRun(runId);
      assert.deepEqual(metricsOf(run).loss, { key: 'loss', value: 0.5, timestamp: 200, step: 2 });
      assert.deepEqual(paramsOf(run), { lr: '0.1', depth: '3' });
      assert.equal(tagsOf(run).stage, 'train');

      // Same value again is fine; a new value is refused and the whole batch is left out.
      await store.logBatch({ run_id: runId, params: [{ key: 'lr', value: '0.1' }] });
      await rejectsWith(
        store.logBatch({
          run_id: runId,
          params: [{ key: 'lr', value: '0.2' }],
          metrics: [{ key: 'loss', value: 0.1, timestamp: 400, step: 9 }],
          tags: [{ key: 'stage', value: 'changed' }],
        }),
        'INVALID_PARAMETER_VALUE',
        /Changing param values is not allowed. Param with key='lr' was already logged with value='0.1'/,
      );
      run = await store.getRun(runId);
      assert.equal(paramsOf(run).lr, '0.1');
      assert.equal(metricsOf(run).loss.step, 2);
      assert.equal(tagsOf(run).stage, 'train');
      assert.equal((await store.getMetricHistory({ run_id: runId, metric_key: 'loss' })).metrics.length, 3);

      const many = Array.from({ length: 1001 }, (_, i) => ({ key: 'm', value: i, timestamp: i, step: i }));
      await rejectsWith(
        store.logBatch({ run_id: runId, metrics: many }),
        'INVALID_PARAMETER_VALUE',
        /at most 1000 metrics/,
      );
      const params = Array.from({ length: 101 }, (_, i) => ({ key: `p${i}`, value: 'v' }));
      await rejectsWith(
        store.logBatch({ run_id: runId, params }),
        'INVALID_PARAMETER_VALUE',
        /at most 100 params/,
      );
      await rejectsWith(
        store.logBatch({ run_id: runId, metrics: [{ key: '../etc', value: 1, timestamp: 1, step: 0 }] }),
        'INVALID_PARAMETER_VALUE',
        /Invalid metric name/,
      );
      await rejectsWith(
        store.logBatch({ run_id: runId, params: [{ key: 'big', value: 'x'.repeat(6001) }] }),
        'INVALID_PARAMETER_VALUE',
        /exceeded length limit of 6000/,
      );
      assert.equal((await store.getMetricHistory({ run_id: runId, metric_key: 'm' })).metrics.length, 0);
      assert.equal(paramsOf(await store.getRun(runId)).big, undefined);

      await store.logBatch({ run_id: runId, tags: [{ key: 'mlflow.runName', value: 'via-tag' }] });
      assert.equal((await store.getRun(runId)).info.run_name, 'via-tag');
      await store.deleteTag(runId, 'stage');
      assert.equal(tagsOf(await store.getRun(runId)).stage, undefined);
      await rejectsWith(store.deleteTag(runId, 'stage'), 'RESOURCE_DOES_NOT_EXIST');
    });

    test('NaN and infinite metric values survive the round trip', async () => {
      const expId = await store.createExperiment({ name: uname('nan') });
      const runId = (await store.createRun({ experiment_id: expId })).info.run_id;
      await store.logBatch({
        run_id: runId,
        metrics: [
          { key: 'nan', value: Number.NaN, timestamp: 1, step: 0 },
          { key: 'inf', value: Number.POSITIVE_INFINITY, timestamp: 1, step: 0 },
          { key: 'ninf', value: Number.NEGATIVE_INFINITY, timestamp: 1, step: 0 },
        ],
      });
      const m = metricsOf(await store.getRun(runId));
      assert.ok(Number.isNaN(m.nan.value));
      assert.equal(m.inf.value, Number.POSITIVE_INFINITY);
      assert.equal(m.ninf.value, Number.NEGATIVE_INFINITY);
      const h = await store.getMetricHistory({ run_id: runId, metric_key: 'nan' });
      assert.ok(Number.isNaN(h.metrics[0].value));
    });

    test('metric history: ordered, paged with tokens; bulk interval sampling', async () => {
      const expId = await store.createExperiment({ name: uname('history') });
      const runId = (await store.createRun({ experiment_id: expId })).info.run_id;
      await store.logBatch({
        run_id: runId,
        metrics: Array.from({ length: 50 }, (_, i) => ({
          key: 'x',
          value: i / 10,
          timestamp: 1000 + i,
          step: 49 - i,
        })),
      });
      const whole = await store.getMetricHistory({ run_id: runId, metric_key: 'x' });
      assert.deepEqual(
        whole.metrics.map((m) => m.step),
        Array.from({ length: 50 }, (_, i) => i),
      );
      assert.equal(whole.next_page_token, undefined);
      const paged: number[] = [];
      let token: string | undefined;
      do {
        const page = await store.getMetricHistory({
          run_id: runId,
          metric_key: 'x',
          max_results: 20,
          page_token: token,
        });
        assert.ok(page.metrics.length <= 20);
        paged.push(...page.metrics.map((m) => m.step));
        token = page.next_page_token;
      } while (token);
      assert.deepEqual(
        paged,
        Array.from({ length: 50 }, (_, i) => i),
      );
      await rejectsWith(
        store.getMetricHistory({ run_id: 'a'.repeat(32), metric_key: 'x' }),
        'RESOURCE_DOES_NOT_EXIST',
      );

      const bulk = await store.getMetricHistoryBulkInterval({
        run_ids: [runId],
        metric_key: 'x',
        max_results: 5,
      });
      // MLflow's sampling: every 10th of the 50 steps from the first, plus the last
      assert.deepEqual(
        bulk.metrics.map((m) => m.step),
        [0, 10, 20, 30, 40, 49],
      );
      assert.ok(bulk.metrics.every((m) => m.run_id === runId));
      const ranged = await store.getMetricHistoryBulkInterval({
        run_ids: [runId],
        metric_key: 'x',
        start_step: 10,
        end_step: 12,
      });
      assert.deepEqual(
        ranged.metrics.map((m) => m.step),
        [10, 11, 12],
      );
    });

    test('log-inputs: datasets with digest, source and schema come back on the run', async () => {
      const expId = await store.createExperiment({ name: uname('inputs') });
      const runId = (await store.createRun({ experiment_id: expId })).info.run_id;
      const dataset = {
        name: 'oulad',
        digest: 'abc123',
        source_type: 'local',
        source: '{"uri":"file:///d.csv"}',
        schema: '{"cols":[]}',
      };
      await store.logInputs(runId, [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset }]);
      await store.logInputs(runId, [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset }]);
      const run = await store.getRun(runId);
      assert.deepEqual(run.inputs.dataset_inputs, [
        { tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset },
      ]);
      const found = await store.searchRuns({
        experiment_ids: [expId],
        filter: "datasets.name = 'oulad' AND datasets.context = 'training'",
      });
      assert.deepEqual(
        found.runs.map((r) => r.info.run_id),
        [runId],
      );
    });

    test('a run reads back whole, exact and in key order through runs/get and runs/search', async () => {
      const expId = await store.createExperiment({ name: uname('whole') });
      const run = await store.createRun({
        experiment_id: expId,
        start_time: 1_700_000_000_123,
        tags: [
          { key: 'zone', value: 'é😀 "quoted" \\ line\nbreak' },
          { key: 'empty', value: '' },
        ],
      });
      const runId = run.info.run_id;
      const values = [0.1 + 0.2, 1 / 3, 1e-300, 123456789.12345679, -2.5e-7, 42];
      await store.logBatch({
        run_id: runId,
        metrics: ['zeta', 'alpha', 'mid', 'beta', 'omega', 'gamma'].map((key, i) => ({
          key,
          value: values[i],
          timestamp: 1_700_000_000_000 + i,
          step: 10 * i,
        })),
        params: ['zeta', 'alpha', 'mid', 'beta'].map((key) => ({ key, value: `${key}-value` })),
      });
      const other = await store.createRun({ experiment_id: expId, start_time: 1 });
      await store.logInputs(other.info.run_id, [
        {
          tags: [
            { key: 'zz', value: '1' },
            { key: 'aa', value: '2' },
          ],
          dataset: { name: 'test-set', digest: 'd2', source_type: 'local', source: 's' },
        },
        {
          tags: [],
          dataset: { name: 'a-train', digest: 'd1', source_type: 'local', source: 's', profile: 'p' },
        },
      ]);

      const got = await store.getRun(runId);
      assert.deepEqual(
        got.data.params.map((p) => p.key),
        ['alpha', 'beta', 'mid', 'zeta'],
      );
      assert.deepEqual(
        got.data.metrics,
        ['alpha', 'beta', 'gamma', 'mid', 'omega', 'zeta'].map((key) => {
          const i = ['zeta', 'alpha', 'mid', 'beta', 'omega', 'gamma'].indexOf(key);
          return { key, value: values[i], timestamp: 1_700_000_000_000 + i, step: 10 * i };
        }),
      );
      assert.deepEqual(got.data.tags, [
        { key: 'empty', value: '' },
        { key: 'mlflow.runName', value: run.info.run_name },
        { key: 'zone', value: 'é😀 "quoted" \\ line\nbreak' },
      ]);
      assert.equal(got.info.start_time, 1_700_000_000_123);
      assert.equal('outputs' in got, false, 'a run without model outputs has no outputs field');
      const otherRun = await store.getRun(other.info.run_id);
      assert.deepEqual(otherRun.inputs.dataset_inputs, [
        {
          tags: [],
          dataset: { name: 'a-train', digest: 'd1', source_type: 'local', source: 's', profile: 'p' },
        },
        {
          tags: [
            { key: 'aa', value: '2' },
            { key: 'zz', value: '1' },
          ],
          dataset: { name: 'test-set', digest: 'd2', source_type: 'local', source: 's' },
        },
      ]);

      const page = await store.searchRuns({
        experiment_ids: [expId],
        order_by: ['attributes.start_time DESC'],
      });
      assert.deepEqual(page.runs, [got, otherRun]);
    });

    test('runs carry their model outputs (MLflow 3 runs/outputs) in runs/get and runs/search', async (t) => {
      const registry = ctx.registry;
      if (!registry) {
        t.skip('no registry beside this store');
        return;
      }
      const expId = await store.createExperiment({ name: uname('outputs') });
      const runId = (await store.createRun({ experiment_id: expId })).info.run_id;
      const plain = (await store.createRun({ experiment_id: expId })).info.run_id;
      const m1 = await registry.createLoggedModel({ experiment_id: expId, name: 'm1', source_run_id: runId });
      const m2 = await registry.createLoggedModel({ experiment_id: expId, name: 'm2', source_run_id: runId });
      await registry.logOutputs(runId, [
        { model_id: m2.info.model_id, step: 7 },
        { model_id: m1.info.model_id, step: 0 },
      ]);
      const expected = {
        model_outputs: [
          { model_id: m1.info.model_id, step: 0 },
          { model_id: m2.info.model_id, step: 7 },
        ].sort((a, b) => (a.model_id < b.model_id ? -1 : 1)),
      };
      const run = await store.getRun(runId);
      assert.deepEqual(run.outputs, expected);
      const found = await store.searchRuns({
        experiment_ids: [expId],
        filter: `attributes.run_id = '${runId}'`,
      });
      assert.deepEqual(found.runs[0].outputs, expected);
      assert.equal('outputs' in (await store.getRun(plain)), false);
      // Logging the same model again updates its step.
      await registry.logOutputs(runId, [{ model_id: m1.info.model_id, step: 3 }]);
      assert.deepEqual(
        (await store.getRun(runId)).outputs?.model_outputs.find((o) => o.model_id === m1.info.model_id),
        { model_id: m1.info.model_id, step: 3 },
      );
    });

    test('runs/search: MLflow grammar plus OR and parentheses, order_by, view type', async () => {
      const expId = await store.createExperiment({ name: uname('grammar') });
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await store.createRun({ experiment_id: expId, run_name: `run-${i}`, start_time: 1000 + i });
        ids.push(r.info.run_id);
        await store.logBatch({
          run_id: r.info.run_id,
          metrics: i === 5 ? [] : [{ key: 'acc', value: i / 10, timestamp: 1, step: 0 }],
          params: [{ key: 'model', value: i % 2 ? 'gbdt' : 'logistic' }],
          tags: [{ key: 'my key', value: `Group-${i % 3}` }],
        });
      }
      await store.updateRun({ run_id: ids[3], status: 'FINISHED' });
      const q = async (filter: string, order_by?: string[]) =>
        (await store.searchRuns({ experiment_ids: [expId], filter, order_by })).runs.map(
          (r) => r.info.run_name,
        );
      assert.deepEqual(await q('metrics.acc > 0.25', ['metrics.acc ASC']), ['run-3', 'run-4']);
      assert.deepEqual(await q("params.model = 'gbdt'", ['attributes.start_time ASC']), [
        'run-1',
        'run-3',
        'run-5',
      ]);
      assert.deepEqual(await q("tags.`my key` LIKE 'Group-1%'"), ['run-4', 'run-1']);
      assert.deepEqual(await q('tags."my key" ILIKE \'group-2\''), ['run-5', 'run-2']);
      assert.deepEqual(await q("tags.`my key` LIKE 'group-2'"), []);
      assert.deepEqual(await q("params.model IN ('gbdt') AND metrics.acc >= 0.3"), ['run-3']);
      assert.deepEqual(await q("params.model NOT IN ('gbdt')", ['run_name DESC']), [
        'run-4',
        'run-2',
        'run-0',
      ]);
      assert.deepEqual(await q('metrics.acc IS NULL'), ['run-5']);
      assert.deepEqual(await q("attributes.status = 'FINISHED'"), ['run-3']);
      assert.deepEqual(await q("attributes.run_name = 'run-2'"), ['run-2']);
      assert.deepEqual(
        await q("(metrics.acc < 0.1 OR metrics.acc > 0.35) AND params.model != 'gbdt'", ['metrics.acc DESC']),
        ['run-4', 'run-0'],
      );
      assert.deepEqual(await q("metrics.acc = 0 OR params.model = 'gbdt' AND metrics.acc > 0.2"), [
        'run-3',
        'run-0',
      ]);
      // Runs without the metric sort last in both directions.
      assert.deepEqual((await q('', ['metrics.acc DESC'])).slice(0, 2), ['run-4', 'run-3']);
      assert.equal((await q('', ['metrics.acc DESC']))[5], 'run-5');
      assert.equal((await q('', ['metrics.acc ASC']))[5], 'run-5');
      await store.deleteRun(ids[0]);
      assert.ok(!(await q('')).includes('run-0'));
      const deleted = await store.searchRuns({ experiment_ids: [expId], run_view_type: 'DELETED_ONLY' });
      assert.deepEqual(
        deleted.runs.map((r) => r.info.run_id),
        [ids[0]],
      );
      for (const bad of [
        "metrics.acc > 'x'",
        "params.model > 'a'",
        'nope.acc = 1',
        'metrics.acc >',
        "params.model = 'a' AND (",
        "attributes.color = 'x'",
      ]) {
        await rejectsWith(
          store.searchRuns({ experiment_ids: [expId], filter: bad }),
          'INVALID_PARAMETER_VALUE',
        );
      }
    });

    test('runs/search ordered by a metric, param or tag pages through runs with and without the key', async () => {
      const expId = await store.createExperiment({ name: uname('keyorder') });
      // score: ties (0.5 twice), a negative, and three runs without it; p and t likewise.
      const scores = [0.5, undefined, 0.9, -1, 0.5, undefined, 0.1, undefined];
      const runs: Array<{ name: string; start: number; score?: number; p?: string }> = [];
      for (let i = 0; i < scores.length; i++) {
        const name = `k-${i}`;
        const start = 50_000 + (i % 3) * 10 + i;
        const run = await store.createRun({ experiment_id: expId, run_name: name, start_time: start });
        const score = scores[i];
        const p = score === undefined ? undefined : `v${Math.round((score + 1) * 10)}`;
        await store.logBatch({
          run_id: run.info.run_id,
          metrics: score === undefined ? [] : [{ key: 'score', value: score, timestamp: 1, step: 0 }],
          params: p === undefined ? [] : [{ key: 'p', value: p }],
          tags: p === undefined ? [] : [{ key: 't', value: p }],
        });
        runs.push({ name, start, score, p });
      }
      // Expected order: by the key (NULLs last in both directions), then start_time DESC (the tie-breaker).
      const expected = (field: 'score' | 'p', ascending: boolean) =>
        [...runs]
          .sort((a, b) => {
            const x = a[field];
            const y = b[field];
            if (x === undefined || y === undefined) {
              if (x !== y) return x === undefined ? 1 : -1;
            } else if (x !== y) return (x < y ? -1 : 1) * (ascending ? 1 : -1);
            return b.start - a.start;
          })
          .map((r) => r.name);
      for (const [orderBy, field, ascending] of [
        ['metrics.score DESC', 'score', false],
        ['metrics.score ASC', 'score', true],
        ['params.p DESC', 'p', false],
        ['tags.t ASC', 'p', true],
      ] as const) {
        for (const pageSize of [1, 3, 100]) {
          const seen: string[] = [];
          let token: string | undefined;
          do {
            const page = await store.searchRuns({
              experiment_ids: [expId],
              order_by: [orderBy],
              max_results: pageSize,
              page_token: token,
            });
            seen.push(...page.runs.map((r) => r.info.run_name));
            token = page.next_page_token;
          } while (token && seen.length < 50);
          assert.deepEqual(seen, expected(field, ascending), `${orderBy}, pages of ${pageSize}`);
        }
      }
      // With a filter as well: only runs with 0 <= score, best first.
      const filtered = await store.searchRuns({
        experiment_ids: [expId],
        filter: 'metrics.score >= 0',
        order_by: ['metrics.score DESC', 'attributes.run_name ASC'],
      });
      assert.deepEqual(
        filtered.runs.map((r) => r.info.run_name),
        ['k-2', 'k-0', 'k-4', 'k-6'],
      );
    });

    test('runs/search page tokens stay correct while runs are inserted', async () => {
      const expId = await store.createExperiment({ name: uname('paging') });
      for (let i = 0; i < 7; i++)
        await store.createRun({ experiment_id: expId, run_name: `p-${i}`, start_time: 10_000 + i });
      const seen: string[] = [];
      let token: string | undefined;
      let inserted = 0;
      do {
        const page = await store.searchRuns({ experiment_ids: [expId], max_results: 3, page_token: token });
        seen.push(...page.runs.map((r) => r.info.run_name));
        token = page.next_page_token;
        // A newer run lands before the cursor, an older one after it: neither shifts or repeats pages.
        await store.createRun({
          experiment_id: expId,
          run_name: `new-${inserted}`,
          start_time: 20_000 + inserted,
        });
        inserted++;
      } while (token && inserted < 10);
      assert.deepEqual(seen, ['p-6', 'p-5', 'p-4', 'p-3', 'p-2', 'p-1', 'p-0']);
      await rejectsWith(
        store.searchRuns({
          experiment_ids: [expId],
          page_token: Buffer.from('{"v":[1],"q":"x"}').toString('base64url'),
        }),
        'INVALID_PARAMETER_VALUE',
      );
      await rejectsWith(
        store.searchRuns({ experiment_ids: [expId], max_results: 0 }),
        'INVALID_PARAMETER_VALUE',
      );
      const ordered: string[] = [];
      token = undefined;
      do {
        const page = await store.searchRuns({
          experiment_ids: [expId],
          filter: "attributes.run_name LIKE 'p-%'",
          order_by: ['attributes.run_name ASC'],
          max_results: 4,
          page_token: token,
        });
        ordered.push(...page.runs.map((r) => r.info.run_name));
        token = page.next_page_token;
      } while (token);
      assert.deepEqual(ordered, ['p-0', 'p-1', 'p-2', 'p-3', 'p-4', 'p-5', 'p-6']);
    });

    test('every write to a run is in the next read of it, from this store and a peer, whatever was read before', async () => {
      const stores = ctx.peer ? [store, ctx.peer] : [store];
      const expId = await store.createExperiment({ name: uname('fresh-reads') });
      const runId = (await store.createRun({ experiment_id: expId, run_name: 'fresh' })).info.run_id;
      const searches = [
        { experiment_ids: [expId], run_view_type: 'ALL' as const },
        { experiment_ids: [expId], run_view_type: 'ALL' as const, order_by: ['metrics.m DESC'] },
      ];
      // Each store reads the run every way it can (so whatever it caches, it has), then `write` runs, then
      // every way must show `check`.
      const readsOf = async (s: TrackingStore): Promise<Run[]> => {
        const found = await Promise.all(searches.map((q) => s.searchRuns(q)));
        const wire = s.getRunWire ? [JSON.parse(await s.getRunWire(runId)) as Run] : [];
        return [
          await s.getRun(runId),
          ...wire,
          ...found.map((f) => f.runs.find((r) => r.info.run_id === runId)!),
        ];
      };
      const after = async (what: string, write: () => Promise<unknown>, check: (run: Run) => void) => {
        for (const s of stores) await readsOf(s);
        await write();
        for (const [i, s] of stores.entries()) {
          for (const run of await readsOf(s)) {
            assert.ok(run, `${what}: store ${i} found the run`);
            try {
              check(run);
            } catch (e) {
              assert.fail(`${what}: store ${i} read a stale run: ${(e as Error).message}`);
            }
          }
        }
      };
      const metric = (value: number, step: number) => ({ key: 'm', value, timestamp: 1_000 + step, step });
      await after(
        'a metric',
        () => store.logBatch({ run_id: runId, metrics: [metric(1, 0)] }),
        (r) => assert.equal(metricsOf(r).m.value, 1),
      );
      await after(
        'a later metric step',
        () => store.logBatch({ run_id: runId, metrics: [metric(2, 1)] }),
        (r) => assert.equal(metricsOf(r).m.value, 2),
      );
      await after(
        'a param',
        () => store.logBatch({ run_id: runId, params: [{ key: 'p', value: 'a' }] }),
        (r) => assert.equal(paramsOf(r).p, 'a'),
      );
      await after(
        'a tag',
        () => store.logBatch({ run_id: runId, tags: [{ key: 't', value: 'x' }] }),
        (r) => assert.equal(tagsOf(r).t, 'x'),
      );
      await rejectsWith(
        store.logBatch({
          run_id: runId,
          params: [{ key: 'p', value: 'b' }],
          tags: [{ key: 't', value: 'lost' }],
        }),
        'INVALID_PARAMETER_VALUE',
      );
      await after(
        'a tag overwritten after a refused batch',
        () => store.logBatch({ run_id: runId, tags: [{ key: 't', value: 'y' }] }),
        (r) => assert.equal(tagsOf(r).t, 'y'),
      );
      await after(
        'a deleted tag',
        () => store.deleteTag(runId, 't'),
        (r) => assert.equal(tagsOf(r).t, undefined),
      );
      await after(
        'status, end time and name',
        () => store.updateRun({ run_id: runId, status: 'FINISHED', end_time: 5_000, run_name: 'renamed' }),
        (r) => {
          assert.equal(r.info.status, 'FINISHED');
          assert.equal(r.info.end_time, 5_000);
          assert.equal(r.info.run_name, 'renamed');
          assert.equal(tagsOf(r)['mlflow.runName'], 'renamed');
        },
      );
      const dataset = { name: 'd', digest: 'abc', source_type: 'local', source: '{}' };
      await after(
        'a dataset input',
        () => store.logInputs(runId, [{ tags: [], dataset }]),
        (r) => assert.equal(r.inputs?.dataset_inputs?.length, 1),
      );
      await after(
        'a model input',
        () => store.logInputs(runId, [], [{ model_id: 'm-fresh' }]),
        (r) => assert.deepEqual(r.inputs?.model_inputs, [{ model_id: 'm-fresh' }]),
      );
      await after(
        'a deleted run',
        () => store.deleteRun(runId),
        (r) => assert.equal(r.info.lifecycle_stage, 'deleted'),
      );
      await after(
        'a restored run',
        () => store.restoreRun(runId),
        (r) => assert.equal(r.info.lifecycle_stage, 'active'),
      );
      await after(
        'a deleted experiment',
        () => store.deleteExperiment(expId),
        (r) => assert.equal(r.info.lifecycle_stage, 'deleted'),
      );
      await after(
        'a restored experiment',
        () => store.restoreExperiment(expId),
        (r) => assert.equal(r.info.lifecycle_stage, 'active'),
      );
      const registry = ctx.registry;
      if (registry) {
        const model = await registry.createLoggedModel({
          experiment_id: expId,
          name: 'fresh',
          source_run_id: runId,
        });
        await after(
          'a model output',
          () => registry.logOutputs(runId, [{ model_id: model.info.model_id, step: 4 }]),
          (r) => assert.deepEqual(r.outputs, { model_outputs: [{ model_id: model.info.model_id, step: 4 }] }),
        );
      }
    });

    test('under concurrent writes and reads, a read after a write is acknowledged shows it, on this store and a peer', async () => {
      const stores = ctx.peer ? [store, ctx.peer] : [store];
      const expId = await store.createExperiment({ name: uname('concurrent-reads') });
      const runIds = await Promise.all(
        [0, 1, 2, 3].map(
          async (i) => (await store.createRun({ experiment_id: expId, run_name: `c${i}` })).info.run_id,
        ),
      );
      const writes = 20;
      let writing = true;
      const stepOf = (r: Run) => metricsOf(r).c?.step ?? -1;
      // Readers keep every store's cache busy with the runs while they change.
      const reader = async (s: TrackingStore) => {
        while (writing) {
          await s.searchRuns({ experiment_ids: [expId], order_by: ['metrics.c DESC'] });
          for (const id of runIds) await s.getRun(id);
        }
      };
      const writer = async (runId: string, w: number) => {
        for (let i = 0; i < writes; i++) {
          await stores[(w + i) % stores.length].logBatch({
            run_id: runId,
            metrics: [{ key: 'c', value: i, timestamp: 1_000 + i, step: i }],
            tags: [{ key: 'last', value: String(i) }],
          });
          for (const [k, s] of stores.entries()) {
            const got = await s.getRun(runId);
            assert.ok(
              stepOf(got) >= i,
              `store ${k} runs/get after write ${i} of ${runId}: step ${stepOf(got)}`,
            );
            const page = await s.searchRuns({ experiment_ids: [expId], order_by: ['metrics.c DESC'] });
            const found = page.runs.find((r) => r.info.run_id === runId)!;
            assert.ok(
              stepOf(found) >= i,
              `store ${k} runs/search after write ${i} of ${runId}: step ${stepOf(found)}`,
            );
          }
        }
      };
      const readers = stores.flatMap((s) => [reader(s), reader(s)]);
      await Promise.all(runIds.map((id, w) => writer(id, w)));
      writing = false;
      await Promise.all(readers);
      for (const s of stores) {
        for (const id of runIds) {
          const run = await s.getRun(id);
          assert.equal(stepOf(run), writes - 1);
          assert.equal(tagsOf(run).last, String(writes - 1));
        }
      }
    });
  });
}
