import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readCsvTable } from '../../../src/data/read-csv.js';
import { writeCourseCompletionCsv } from '../../../src/data/synthetic.js';
import { TasselError } from '../../../src/errors.js';
import { loadBundle } from '../../../src/ml/bundle.js';
import { loadServedBundle } from '../../../src/serving/bundle-model.js';
import { loadPipelineConfig, parsePipelineConfig } from '../../../src/pipeline/config.js';
import { runPipeline } from '../../../src/pipeline/runner.js';
import { openTestTrackingServer } from '../../../src/pipeline/test-server.js';
import { createClientTracking } from '../../../src/pipeline/tracking-client-adapter.js';
import gaussianNb from '../../../examples/custom-model/models/gaussian-nb.js';

/** Role separation: a model written outside platform code is trained, logged, gated, registered and loaded back. */

const repo = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const exampleDir = join(repo, 'examples', 'custom-model');
const dir = mkdtempSync(join(tmpdir(), 'tassel-custom-model-'));
/** The first record of an MLflow input example (dataframe_split, dataframe_records or a bare record). */
function exampleRecord(example: unknown): Record<string, unknown> {
  const e = example as {
    dataframe_split?: { columns: string[]; data: unknown[][] };
    dataframe_records?: unknown[];
  };
  const split = e.dataframe_split ?? (example as { columns?: string[]; data?: unknown[][] });
  if (Array.isArray(split.columns) && Array.isArray(split.data)) {
    const { columns, data } = split as { columns: string[]; data: unknown[][] };
    return Object.fromEntries(columns.map((c, i) => [c, data[0]![i]]));
  }
  if (Array.isArray(e.dataframe_records)) return e.dataframe_records[0] as Record<string, unknown>;
  if (Array.isArray(example)) return example[0] as Record<string, unknown>;
  return example as Record<string, unknown>;
}

let server: Awaited<ReturnType<typeof openTestTrackingServer>>;

before(async () => {
  await writeCourseCompletionCsv(join(dir, 'students.csv'), { rows: 2000, seed: 3 });
  server = await openTestTrackingServer(join(dir, 'tassel-data'));
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('custom candidate module', { timeout: 90_000 }, () => {
  test('the example config parses and points at the module', () => {
    const cfg = loadPipelineConfig(join(exampleDir, 'pipeline.yaml'));
    assert.equal(cfg.candidates[1]!.module, join(exampleDir, 'models', 'gaussian-nb.ts'));
    assert.ok(existsSync(cfg.candidates[1]!.module!));
  });

  test('a module that exports no factory is refused with what it exports', async () => {
    const { loadCandidateModule } = await import('../../../src/pipeline/candidates.js');
    await assert.rejects(
      loadCandidateModule(join(repo, 'src', 'pipeline', 'gate.ts')),
      /exports no ModelFactory.*decideGate/,
    );
    await assert.rejects(loadCandidateModule(join(dir, 'missing.ts')), /cannot be loaded|file not found/);
  });

  test('trained, logged, gated, registered; the bundle carries the code and loads with the factory', async (t) => {
    if (server.skip) return t.skip(server.skip);
    const tracking = createClientTracking({ uri: server.url, retries: 2, backoffMs: 20 });
    const model = `custom-${process.pid}`;
    const config = parsePipelineConfig(
      {
        data: { path: join(dir, 'students.csv'), schema: 'builtin:course-completion' },
        model_name: model,
        candidates: [
          { kind: 'dummy' },
          { module: join(exampleDir, 'models', 'gaussian-nb.ts'), params: { var_smoothing: 1e-6 } },
        ],
        gate: { max_ece: 0.5, max_log_loss: 5 },
      },
      dir,
    );
    const r = await runPipeline({ config, tracking, workDir: join(dir, 'work') });
    assert.equal(r.winner.kind, 'gaussian-nb');
    assert.equal(r.productionVersion, r.version, r.gate.reasons.join('\n'));
    const v = await tracking.getVersion(model, r.version);
    assert.equal(v.tags['tassel.code'], 'code/gaussian-nb.ts');
    const dl = mkdtempSync(join(dir, 'dl-'));
    await tracking.downloadVersion(model, r.version, dl);
    assert.equal(
      readFileSync(join(dl, 'code', 'gaussian-nb.ts'), 'utf8'),
      readFileSync(join(exampleDir, 'models', 'gaussian-nb.ts'), 'utf8'),
    );
    await assert.rejects(loadBundle(dl, { loadCode: false }), /gaussian-nb/);
    const loaded = await loadBundle(dl, { extraFactories: [gaussianNb], loadCode: false });
    // by default the bundle's own code/ supplies the factory (tassel predict relies on it)
    assert.equal((await loadBundle(dl)).kind, 'gaussian-nb');
    const data = await readCsvTable(join(dir, 'students.csv'), { schema: 'builtin:course-completion' });
    const p = loaded.predictTable(data.table);
    assert.equal(p.length, 2000);
    assert.ok(p.every((x) => x >= 0 && x <= 1));

    // serving finds the factory in the bundle's code/ folder: the custom model is served like a built-in one
    const served = await loadServedBundle(dl, {
      identity: { name: model, version: r.version, runId: null, uri: `models:/${model}/${r.version}` },
    });
    assert.equal(served.kind, 'gaussian-nb');
    const record = (await readFile(join(dl, 'input_example.json'), 'utf8').then(JSON.parse)) as unknown;
    const first = exampleRecord(record);
    assert.equal(served.validator.check(first), null);
    const probability = served.scoreRecord(first);
    assert.ok(probability >= 0 && probability <= 1, String(probability));
  });

  test('a model producing NaN fails the run: clear message, runs FAILED, nothing registered', async (t) => {
    if (server.skip) return t.skip(server.skip);
    const tracking = createClientTracking({ uri: server.url, retries: 2, backoffMs: 20 });
    const model = `nan-${process.pid}`;
    const config = parsePipelineConfig(
      {
        data: { path: join(dir, 'students.csv'), schema: 'builtin:course-completion' },
        model_name: model,
        experiment_name: model,
        candidates: [
          { kind: 'dummy' },
          { module: join(repo, 'test', 'integration', 'pipeline', 'fixtures', 'nan-model.ts') },
        ],
      },
      dir,
    );
    await assert.rejects(
      runPipeline({ config, tracking }),
      (e: unknown) =>
        e instanceof TasselError &&
        /candidate nan-model produced an invalid probability \(NaN\)/.test(e.message),
    );
    assert.deepEqual(await tracking.listModels().then((names) => names.filter((n) => n === model)), []);
    const expId = await tracking.getOrCreateExperiment(model);
    const res = await fetch(`${server.url}/api/2.0/mlflow/runs/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ experiment_ids: [expId] }),
    });
    const runs = ((await res.json()) as { runs?: Array<{ info: { status: string } }> }).runs ?? [];
    assert.ok(runs.length >= 2, 'parent and the failing child exist');
    assert.ok(runs.every((r) => r.info.status === 'FAILED' || r.info.status === 'FINISHED'));
    assert.ok(
      runs.filter((r) => r.info.status === 'FAILED').length >= 2,
      JSON.stringify(runs.map((r) => r.info.status)),
    );
  });
});
