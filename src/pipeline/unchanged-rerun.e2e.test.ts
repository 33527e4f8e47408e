import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeCourseCompletionCsv } from '../data/synthetic.js';
import { parsePipelineConfig } from './config.js';
import { FINGERPRINT_TAG } from './fingerprint.js';
import { runPipeline, UnchangedSinceProduction } from './runner.js';
import { openTestTrackingServer } from './test-server.js';
import { createClientTracking } from './tracking-client-adapter.js';

// Issue 15, defect 4: re-running `npm start` registered and promoted an identical model each time ("delta
// +0.0000 >= 0"). A run whose data, config and code equal the production version's registers nothing, says
// so and ends well; `gate.on_unchanged: record` trains anyway, and `gate.strictly_better` rejects the tie.

const dir = mkdtempSync(join(tmpdir(), 'tassel-unchanged-'));
let server: { url: string; close(): Promise<void> } | null = null;
let skip: string | false = false;
before(async () => {
  await writeCourseCompletionCsv(join(dir, 'students.csv'), { rows: 1500, seed: 4 });
  const opened = await openTestTrackingServer(join(dir, 'tassel-data'));
  server = opened;
  skip = opened.skip;
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a re-run with nothing changed', { timeout: 180_000 }, () => {
  const model = `cc-unchanged-${process.pid}`;
  const cfg = (gate: Record<string, unknown> = {}, seed = 3) =>
    parsePipelineConfig(
      {
        data: { path: 'students.csv', schema: 'builtin:course-completion' },
        model_name: model,
        seed,
        candidates: [{ kind: 'logistic', params: { C: 1 } }],
        gate: { min_roc_auc: 0.5, max_log_loss: 0.69, max_ece: 0.2, ...gate },
      },
      dir,
    );

  test('registers nothing, ends its run FINISHED and names the production version', async (t) => {
    if (skip) return t.skip(skip);
    const tracking = createClientTracking({ uri: server!.url });
    const first = await runPipeline({ config: cfg(), tracking });
    assert.equal(first.version, '1');
    assert.equal(first.productionVersion, '1');
    const v1 = await tracking.getVersion(model, '1');
    assert.match(v1.tags[FINGERPRINT_TAG] ?? '', /^[0-9a-f]{64}$/);

    await assert.rejects(runPipeline({ config: cfg(), tracking }), (e: unknown) => {
      assert.ok(e instanceof UnchangedSinceProduction);
      assert.equal(e.version, '1');
      assert.match(e.message, /unchanged since version 1 in production \(same data, config and code\)/);
      return true;
    });
    assert.deepEqual(
      (await tracking.listVersions(model)).map((v) => v.version),
      ['1'],
      'no new version',
    );
    assert.equal((await tracking.getVersionByAlias(model, 'production'))?.version, '1');
  });

  test('a changed config trains again; gate.on_unchanged record trains and records the tie', async (t) => {
    if (skip) return t.skip(skip);
    const tracking = createClientTracking({ uri: server!.url });
    const recorded = await runPipeline({ config: cfg({ on_unchanged: 'record' }), tracking });
    assert.equal(recorded.version, '2');
    assert.equal(recorded.gate.decision, 'promote');
    assert.ok(recorded.gate.reasons.some((r) => /delta \+0\.0000 >= min_delta/.test(r)));
    // strictly better: the same model again is a tie, rejected; production stays
    const strict = await runPipeline({
      config: cfg({ on_unchanged: 'record', strictly_better: true }),
      tracking,
    });
    assert.equal(strict.gate.decision, 'reject');
    assert.ok(strict.gate.reasons.some((r) => /<= min_delta .*strictly_better/.test(r)));
    assert.equal(strict.productionVersion, '2');
    // another seed is another config: not skipped
    const reseeded = await runPipeline({ config: cfg({}, 9), tracking });
    assert.equal(reseeded.version, '4');
  });
});
