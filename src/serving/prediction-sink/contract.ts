import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PendingPrediction, PredictionRecord, PredictionStore } from './port.js';
import { createPredictionSink } from './sink.js';

/** A store under test: `make()` returns a fresh, empty one (closed by the suite). */
export interface PredictionStoreContractTarget {
  make(): Promise<PredictionStore>;
}

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);

/** A pending prediction; `raw` holds the inputs as request text, as the fast lane queues them. */
function pending(i: number, over: Partial<PendingPrediction> = {}, raw = false): PendingPrediction {
  const inputs = { Student_ID: `S${i % 50}`, Age: 20 + (i % 30), Gender: i % 2 ? 'Male' : 'Female' };
  return {
    request_id: `req-${i}`,
    time: T0 + i * 1000,
    model_name: 'course-completion',
    model_version: i % 3 === 0 ? '2' : '1',
    inputs: raw ? null : inputs,
    inputs_json: raw ? Buffer.from(JSON.stringify(inputs, null, 1)) : null,
    probability: (i % 100) / 100,
    label: i % 100 >= 50 ? 1 : 0,
    fallback: false,
    route: '/predict',
    ...over,
  };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/**
 * The behaviour every prediction store (local segments, PostgreSQL) must show, run against each by its own test
 * file: what is written reads back field for field (raw request text included), queries filter by model,
 * version, time and `last`, lookups find request and entity ids, and the feedback rules hold through the sink.
 */
export function runPredictionStoreContract(name: string, target: PredictionStoreContractTarget): void {
  describe(`prediction store contract: ${name}`, () => {
    test('predictions read back field for field, filtered by model, version, time and last', async () => {
      const store = await target.make();
      try {
        await store.appendPredictions(Array.from({ length: 60 }, (_, i) => pending(i, {}, i % 2 === 1)));
        await store.appendPredictions([pending(60, { model_name: 'other' })]);
        const all = await collect(store.readPredictions({ modelName: 'course-completion' }));
        assert.equal(all.length, 60);
        const first: PredictionRecord = all[0]!;
        assert.deepEqual(first, {
          request_id: 'req-0',
          time: new Date(T0).toISOString(),
          model_name: 'course-completion',
          model_version: '2',
          inputs: { Student_ID: 'S0', Age: 20, Gender: 'Female' },
          probability: 0,
          label: 0,
          fallback: false,
          route: '/predict',
        });
        assert.deepEqual(all[1]!.inputs, { Student_ID: 'S1', Age: 21, Gender: 'Male' }, 'raw request text');
        assert.deepEqual(
          all.map((r) => r.request_id),
          Array.from({ length: 60 }, (_, i) => `req-${i}`),
          'oldest first',
        );
        const v2 = await collect(
          store.readPredictions({ modelName: 'course-completion', modelVersion: '2' }),
        );
        assert.equal(v2.length, 20);
        const window = await collect(
          store.readPredictions({
            modelName: 'course-completion',
            since: T0 + 10_000,
            until: new Date(T0 + 20_000),
          }),
        );
        assert.deepEqual(
          window.map((r) => r.request_id),
          Array.from({ length: 10 }, (_, i) => `req-${i + 10}`),
        );
        const last = await collect(store.readPredictions({ modelName: 'course-completion', last: 5 }));
        assert.deepEqual(
          last.map((r) => r.request_id),
          ['req-55', 'req-56', 'req-57', 'req-58', 'req-59'],
        );
        assert.equal((await collect(store.readPredictions({ modelName: 'nope' }))).length, 0);
      } finally {
        await store.close();
      }
    });

    test('lookups find logged request ids and entity ids, not others', async () => {
      const store = await target.make();
      try {
        await store.appendPredictions([pending(1), pending(2, {}, true)]);
        const found = await store.findPredictions({
          requestIds: ['req-1', 'req-2', 'req-404'],
          entity: { field: 'Student_ID', ids: ['S1', 'S2', 'S99'] },
        });
        assert.deepEqual([...found.requestIds].sort(), ['req-1', 'req-2']);
        assert.deepEqual([...found.entityIds].sort(), ['S1', 'S2']);
      } finally {
        await store.close();
      }
    });

    test('feedback: attached, duplicate, corrected (latest wins), unknown reported, late labels found', async () => {
      const store = await target.make();
      const sink = createPredictionSink({ store, entityField: 'Student_ID', flushIntervalMs: 60_000 });
      try {
        for (let i = 0; i < 5; i++) sink.record(pending(i));
        // queued, not yet flushed: feedback flushes first, so a label right after its prediction is found
        const first = await sink.attachOutcomes([
          { request_id: 'req-1', outcome: 1 },
          { request_id: 'req-404', outcome: 0 },
          { entity_id: 'S2', outcome: 0 },
          { entity_id: 'S77', outcome: 1 },
        ]);
        assert.deepEqual(first, [
          { request_id: 'req-1', status: 'attached' },
          { request_id: 'req-404', status: 'unknown' },
          { entity_id: 'S2', status: 'attached' },
          { entity_id: 'S77', status: 'unknown' },
        ]);
        const again = await sink.attachOutcomes([
          { request_id: 'req-1', outcome: 1 },
          { request_id: 'req-1', outcome: 0 },
          { entity_id: 'S2', outcome: 0 },
        ]);
        assert.deepEqual(
          again.map((r) => r.status),
          ['duplicate', 'updated', 'duplicate'],
        );
        const outcomes = await collect(sink.readOutcomes());
        assert.equal(outcomes.length, 3, 'duplicates and unknown ids are not stored');
        const latest = await sink.latestOutcomes(['r:req-1', 'e:Student_ID:S2']);
        assert.equal(latest.get('r:req-1')?.outcome, 0, 'the correction wins');
        assert.equal(latest.get('e:Student_ID:S2')?.outcome, 0);
        assert.equal(latest.get('e:Student_ID:S2')?.entity_field, 'Student_ID');
      } finally {
        await sink.close();
      }
    });
  });
}
