import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeCourseCompletionCsv } from '../data/synthetic.js';
import { parsePipelineConfig } from '../pipeline/config.js';
import { runPipeline } from '../pipeline/runner.js';
import { startEmbeddedServer } from '../pipeline/tracking-target.js';
import { createClientTracking } from '../pipeline/tracking-client-adapter.js';
import { createServingApp } from '../serving/app.js';
import { loadServedBundle } from '../serving/bundle-model.js';
import { createModelHolder } from '../serving/model-holder.js';
import { runCli } from './cli-capture.test-helper.js';

// Issue 15, defect 5: bundles from `tassel train` and `tassel quickstart` rejected their own input examples
// (dates as day counts, booleans as 1/0). Every bundle's examples hold raw values as a caller sends them:
// each bundle is fed its own serving_input_example.json and input_example.json (MLflow's split layout)
// through `tassel predict` and through serving's /invocations.

const dir = mkdtempSync(join(tmpdir(), 'tassel-bundle-examples-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const bundles: Record<string, string> = {};

before(async () => {
  await writeCourseCompletionCsv(join(dir, 'students.csv'), { rows: 800, seed: 6 });
  const train = await runCli(
    'train',
    '--data',
    join(dir, 'students.csv'),
    '--schema',
    'builtin:course-completion',
    '--model',
    'gbdt',
    '--n-estimators',
    '10',
    '--out',
    join(dir, 'train-bundle'),
    '--quiet',
  );
  assert.equal(train.code, 0, train.stderr);
  bundles.train = join(dir, 'train-bundle');
  const quick = await runCli('quickstart', '--dir', join(dir, 'quick'), '--rows', '600', '--json');
  assert.equal(quick.code, 0, quick.stderr);
  bundles.quickstart = join(dir, 'quick', 'models', 'quickstart');
  const server = await startEmbeddedServer(join(dir, 'tassel-data'));
  try {
    const result = await runPipeline({
      config: parsePipelineConfig(
        {
          data: { path: 'students.csv', schema: 'builtin:course-completion' },
          model_name: `examples-${process.pid}`,
          candidates: [{ kind: 'logistic' }],
          gate: { min_roc_auc: 0, max_log_loss: 10, max_ece: 1 },
        },
        dir,
      ),
      tracking: createClientTracking({ uri: server.url }),
      workDir: join(dir, 'pipeline-work'),
    });
    bundles.pipeline = result.bundleDir;
  } finally {
    await server.close();
  }
});

describe('every bundle accepts its own input examples', () => {
  for (const kind of ['train', 'quickstart', 'pipeline']) {
    test(`${kind}: raw values (DD-MM-YYYY dates, Yes/No), accepted by tassel predict and /invocations`, async () => {
      const b = bundles[kind]!;
      const serving = JSON.parse(readFileSync(join(b, 'serving_input_example.json'), 'utf8'));
      const split = serving.dataframe_split as { columns: string[]; data: unknown[][] };
      const row = Object.fromEntries(split.columns.map((c, j) => [c, split.data[0]![j]]));
      assert.match(String(row.Enrollment_Date), /^\d{2}-\d{2}-\d{4}$/, 'a date as the data writes it');
      assert.ok(['Yes', 'No'].includes(String(row.Fee_Paid)), `Fee_Paid ${row.Fee_Paid}`);
      assert.equal(typeof row.Age, 'number');
      assert.deepEqual(JSON.parse(readFileSync(join(b, 'input_example.json'), 'utf8')), split);

      for (const file of ['serving_input_example.json', 'input_example.json']) {
        const out = join(dir, `${kind}-${file}.csv`);
        const r = await runCli('predict', '--model', b, '--data', join(b, file), '--out', out);
        assert.equal(r.code, 0, `${kind} ${file}: ${r.stderr}`);
        assert.equal(readFileSync(out, 'utf8').trim().split('\n').length, 1 + split.data.length);
      }

      const model = await loadServedBundle(b, {
        identity: { name: kind, version: '1', runId: null, uri: b },
      });
      const app = await createServingApp({ holder: createModelHolder(model) });
      try {
        const res = await app.inject({ method: 'POST', url: '/invocations', payload: serving });
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().predictions.length, split.data.length);
      } finally {
        await app.close();
      }
    });
  }
});
