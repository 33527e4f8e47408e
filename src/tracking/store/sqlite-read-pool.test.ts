import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TasselError } from '../../errors.js';
import { createDatabase, type TrackingDatabase } from '../sql/database.js';
import { createSqlTrackingStore } from './sql-tracking-store.js';
import { createSqliteReadPool, type SqliteReadPool, withReadPool } from './sqlite-read-pool.js';
import type { SearchRunsRequest, TrackingStore } from './types.js';

// Real worker threads on a real SQLite file: every search answered by the pool must be exactly the search the
// store answers in-process (runs, order, page tokens, errors), and see writes committed just before it.
describe('SQLite read pool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tassel-read-pool-'));
  const uri = `sqlite:///${join(dir, 'mlflow.db')}`;
  let database: TrackingDatabase;
  let store: TrackingStore;
  let pool: SqliteReadPool;
  let experimentId: string;

  before(async () => {
    database = await createDatabase(uri);
    store = await createSqlTrackingStore({ database, defaultArtifactRoot: 'mlflow-artifacts:/' });
    experimentId = await store.createExperiment({ name: 'pool' });
    for (let i = 0; i < 60; i++) {
      const run = await store.createRun({
        experiment_id: experimentId,
        run_name: `r${i}`,
        start_time: 1000 + (i % 7),
      });
      await store.logBatch({
        run_id: run.info.run_id,
        metrics: [
          { key: 'auc', value: ((i * 37) % 100) / 100, timestamp: 5, step: 0 },
          ...(i % 5 ? [{ key: 'loss', value: i / 10, timestamp: 5, step: 1 }] : []),
        ],
        params: [{ key: 'kind', value: i % 3 === 0 ? 'gbdt' : 'logistic' }],
        tags: i % 4 ? [{ key: 'team', value: `t${i % 4}` }] : [],
      });
    }
    pool = createSqliteReadPool({ size: 2, backendStoreUri: uri, defaultArtifactRoot: 'mlflow-artifacts:/' });
    assert.equal(await pool.ready(), true);
  });
  after(async () => {
    await pool?.close();
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const viaPool = async (req: SearchRunsRequest) => {
    const p = pool.searchRunsWire(req);
    assert.ok(p, 'a ready pool takes the search');
    return p;
  };

  test('answers every search, page by page, exactly as the store does', async () => {
    const requests: SearchRunsRequest[] = [
      { experiment_ids: [experimentId] },
      {
        experiment_ids: [experimentId],
        filter: "metrics.auc > 0.5 AND params.kind = 'gbdt'",
        order_by: ['metrics.loss DESC'],
        max_results: 4,
      },
      {
        experiment_ids: [experimentId],
        filter: 'metrics.loss IS NULL OR tags.team = "t1"',
        order_by: ['tags.team ASC', 'metrics.auc'],
        max_results: 7,
      },
      { experiment_ids: [experimentId], order_by: ['attributes.start_time DESC'], max_results: 9 },
      { experiment_ids: [experimentId], filter: "params.kind LIKE 'log%'", max_results: 11 },
    ];
    for (const base of requests) {
      let token: string | undefined;
      let pages = 0;
      do {
        const req = { ...base, ...(token ? { page_token: token } : {}) };
        const local = await store.searchRunsWire!(req);
        const remote = await viaPool(req);
        assert.deepEqual(remote, local, JSON.stringify(req));
        token = local.next_page_token;
        pages++;
      } while (token && pages < 30);
      assert.ok(pages >= 1);
    }
  });

  test('request errors come back as the store throws them', async () => {
    const bad = { experiment_ids: [experimentId], filter: 'metrics.auc >> 1' };
    const local = await store.searchRunsWire!(bad).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(local instanceof TasselError);
    await assert.rejects(viaPool(bad), (e: unknown) => {
      assert.ok(e instanceof TasselError);
      assert.equal(e.code, local.code);
      assert.equal(e.message, local.message);
      return true;
    });
  });

  test('a search sees the writes committed before it', async () => {
    const run = await store.createRun({ experiment_id: experimentId, run_name: 'fresh' });
    await store.logBatch({
      run_id: run.info.run_id,
      metrics: [{ key: 'auc', value: 2, timestamp: 9, step: 0 }],
    });
    const found = await viaPool({ experiment_ids: [experimentId], filter: 'metrics.auc > 1.5' });
    assert.equal(found.runs.length, 1);
    assert.equal(JSON.parse(found.runs[0]!).info.run_id, run.info.run_id);
  });

  test('concurrent searches spread over the workers and all answer', async () => {
    const req = {
      experiment_ids: [experimentId],
      filter: "params.kind = 'logistic'",
      order_by: ['metrics.auc DESC'],
    };
    const local = await store.searchRunsWire!(req);
    const answers = await Promise.all(Array.from({ length: 12 }, () => viaPool(req)));
    for (const a of answers) assert.deepEqual(a, local);
  });

  test('withReadPool answers from the store once the pool is gone', async () => {
    const other = createSqliteReadPool({
      size: 1,
      backendStoreUri: uri,
      defaultArtifactRoot: 'mlflow-artifacts:/',
    });
    assert.equal(await other.ready(), true);
    const pooled = withReadPool(store, other);
    const req = { experiment_ids: [experimentId], max_results: 5 };
    const expected = await store.searchRunsWire!(req);
    assert.deepEqual(await pooled.searchRunsWire!(req), expected);
    await other.close();
    assert.equal(other.searchRunsWire(req), null);
    assert.deepEqual(await pooled.searchRunsWire!(req), expected);
  });
});
