import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseCsv } from 'csv-parse/sync';
import YAML from 'yaml';
import { writeCourseCompletionCsv } from '../data/synthetic.js';
import { InputError } from '../errors.js';
import { createFeatureStepRunner, isFeatureStep } from '../features/feature-step.js';
import engagementExample from '../../examples/feature-steps/features/engagement.js';
import { loadBundle } from '../ml/bundle.js';
import { createServingApp } from '../serving/app.js';
import { createServedModel, loadServedBundle } from '../serving/bundle-model.js';
import { createModelHolder } from '../serving/model-holder.js';
import { loadPipelineConfig, parsePipelineConfig } from './config.js';
import { resolveFeatureSteps } from './feature-steps.js';
import { runPipeline } from './runner.js';
import { openTestTrackingServer } from './test-server.js';
import { createClientTracking } from './tracking-client-adapter.js';

/**
 * Role separation for features: feature step modules written outside platform code are fitted on the
 * training split, logged, stored with their code and state in the bundle, and applied the same way by the
 * pipeline, `tassel predict` and serving.
 */

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const repo = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tassel-feature-steps-'));
let server: Awaited<ReturnType<typeof openTestTrackingServer>>;
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

before(async () => {
  await writeCourseCompletionCsv(join(dir, 'students.csv'), { rows: 2000, seed: 21 });
  await writeCourseCompletionCsv(join(dir, 'test.csv'), { rows: 300, seed: 22 });
  server = await openTestTrackingServer(join(dir, 'tassel-data'));
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const base = {
  data: { path: 'students.csv', schema: 'builtin:course-completion' },
  test_data: 'test.csv',
  candidates: [{ kind: 'logistic' }],
  gate: { max_ece: 0.5, max_log_loss: 5, min_roc_auc: 0.5 },
};
const steps = [
  { module: join(fixtures, 'engagement-step.ts'), name: 'engagement', params: { bands: 4 } },
  {
    module: join(fixtures, 'ratio-step.ts'),
    name: 'per_day',
    params: {
      numerator: 'submission_rate',
      denominator: 'Course_Duration_Days',
      output: 'submission_per_day',
    },
  },
];

describe('feature step config', () => {
  test('a missing module, a duplicate name or a bad name is refused naming the step', () => {
    const parse = (feature_steps: unknown) => () => parsePipelineConfig({ ...base, feature_steps }, dir);
    assert.throws(
      parse([{ module: './features/nope.ts' }]),
      (e: unknown) =>
        e instanceof InputError &&
        /feature_steps\[0\]\.module: \.\/features\/nope\.ts: file not found/.test(e.message),
    );
    assert.throws(
      parse([steps[0], { ...steps[1], name: 'engagement' }]),
      (e: unknown) =>
        e instanceof InputError && /feature_steps\[1\]: duplicate name "engagement"/.test(e.message),
    );
    assert.throws(parse([{ ...steps[0], name: 'a b' }]), /feature_steps\[0\]: name "a b" may hold only/);
    assert.throws(parse([{ ...steps[0], extra: 1 }]), /feature_steps\/0|feature_steps\[0\]/);
    const ok = parsePipelineConfig({ ...base, feature_steps: [{ module: '../../' }].slice(1) }, dir);
    assert.deepEqual(ok.feature_steps, []);
    // the default name is the module's file name
    const named = parsePipelineConfig({ ...base, feature_steps: [{ module: steps[0]!.module }] }, dir);
    assert.equal(named.feature_steps[0]!.name, 'engagement-step');
  });

  test("the example's config names its step module, which exports a FeatureStep", async () => {
    assert.ok(isFeatureStep(engagementExample));
    const cfg = loadPipelineConfig(join(repo, 'examples', 'feature-steps', 'pipeline.yaml'));
    const [resolved] = await resolveFeatureSteps(cfg);
    assert.equal(resolved!.name, 'engagement');
    assert.equal(resolved!.module, join(repo, 'examples', 'feature-steps', 'features', 'engagement.ts'));
    assert.deepEqual(resolved!.params, { bands: 4 });
  });

  test('a module without a FeatureStep export is refused with what it exports', async () => {
    const cfg = parsePipelineConfig(
      { ...base, feature_steps: [{ module: join(fixtures, '..', 'gate.ts'), name: 'gate' }] },
      dir,
    );
    await assert.rejects(
      resolveFeatureSteps(cfg),
      (e: unknown) =>
        e instanceof InputError &&
        /feature_steps\[0\] "gate": .*exports no FeatureStep.*decideGate/.test(e.message),
    );
  });
});

describe('feature steps end to end', { timeout: 120_000 }, () => {
  test('fitted, logged, bundled with their code; serving and tassel predict score as the pipeline did', async (t) => {
    if (server.skip) return t.skip(server.skip);
    const tracking = createClientTracking({ uri: server.url, retries: 2, backoffMs: 20 });
    const model = `steps-${process.pid}`;
    const config = parsePipelineConfig({ ...base, model_name: model, feature_steps: steps }, dir);
    const r = await runPipeline({ config, tracking, workDir: join(dir, 'work') });
    assert.equal(r.productionVersion, r.version, r.gate.reasons.join('\n'));

    // the derived columns are features of the model; callers are not asked for them
    const bundleDir = r.bundleDir;
    const modelJson = JSON.parse(readFileSync(join(bundleDir, 'model.json'), 'utf8'));
    for (const name of [
      'submission_rate',
      'enrollment_month',
      'submission_per_day',
      'time_band=band0',
      'time_band=band3',
    ])
      assert.ok(modelJson.feature_names.includes(name), `${name} in ${modelJson.feature_names.join(', ')}`);
    const mlmodel = YAML.parse(readFileSync(join(bundleDir, 'MLmodel'), 'utf8'));
    const inputs = JSON.parse(mlmodel.signature.inputs) as Array<{ name: string }>;
    assert.ok(inputs.some((c) => c.name === 'Assignments_Submitted'));
    assert.ok(!inputs.some((c) => /submission|time_band|enrollment_month/.test(c.name)));
    assert.equal(mlmodel.flavors.tassel.format_version, 2, 'older Tassels refuse a bundle they cannot score');
    // the reference profile for drift checks covers the raw inputs and the derived features
    const profile = JSON.parse(
      readFileSync(join(dir, 'work', 'artifacts', 'reference_profile.json'), 'utf8'),
    );
    for (const name of ['Assignments_Submitted', 'submission_rate', 'submission_per_day', 'time_band'])
      assert.ok(profile.features[name], `${name} in ${Object.keys(profile.features).join(', ')}`);
    assert.equal(profile.features.time_band.type, 'categorical');
    assert.equal(profile.features.submission_rate.type, 'numeric');
    assert.equal(profile.features.submission_rate.count, profile.rows);
    // three band edges learnt from the training rows, stored as the step's state
    assert.equal(modelJson.feature_steps[0].state.edges.length, 3);
    assert.deepEqual(
      modelJson.feature_steps.map((s: { name: string; module: string; sha256: string }) => [
        s.name,
        s.module,
        s.sha256,
      ]),
      [
        ['engagement', 'code/feature_steps/engagement-step.ts', sha256(steps[0]!.module)],
        ['per_day', 'code/feature_steps/ratio-step.ts', sha256(steps[1]!.module)],
      ],
    );

    // logged on the run: names, params, source sha256; the version says where the code is
    const run = (await fetch(`${server.url}/api/2.0/mlflow/runs/get?run_id=${r.runId}`).then((x) =>
      x.json(),
    )) as { run: { data: { params: unknown[]; tags: unknown[] } } };
    const params = Object.fromEntries(
      (run.run.data.params as Array<{ key: string; value: string }>).map((p) => [p.key, p.value]),
    );
    const tags = Object.fromEntries(
      (run.run.data.tags as Array<{ key: string; value: string }>).map((p) => [p.key, p.value]),
    );
    assert.equal(params.feature_steps, 'engagement,per_day');
    assert.equal(params['feature_step.engagement.params'], '{"bands":4}');
    assert.equal(params['feature_step.per_day.module'], 'ratio-step.ts');
    assert.equal(tags['tassel.feature_step.engagement.sha256'], sha256(steps[0]!.module));
    assert.equal(tags['tassel.feature_step.per_day.sha256'], sha256(steps[1]!.module));
    const version = await tracking.getVersion(model, r.version);
    assert.equal(
      version.tags['tassel.feature_steps'],
      'engagement=code/feature_steps/engagement-step.ts,per_day=code/feature_steps/ratio-step.ts',
    );

    // the registered bundle carries the modules: load a downloaded copy, far from the original files
    const dl = mkdtempSync(join(dir, 'dl-'));
    await tracking.downloadVersion(model, r.version, dl);
    for (const [file, src] of [
      ['engagement-step.ts', steps[0]!.module],
      ['ratio-step.ts', steps[1]!.module],
    ] as const)
      assert.deepEqual(readFileSync(join(dl, 'code', 'feature_steps', file)), readFileSync(src));

    // serving: the test file's rows as a caller sends them (CSV text, no target, no derived columns)
    const rows = parseCsv(readFileSync(join(dir, 'test.csv')), { columns: true }) as Record<string, string>[];
    const records = rows.map(({ Completed: _target, ...rest }) => rest);
    assert.equal(records.length, r.testProbabilities.length);
    const served = await loadServedBundle(dl, {
      identity: { name: model, version: r.version, runId: null, uri: `models:/${model}/${r.version}` },
    });
    const app = await createServingApp({ holder: createModelHolder(served) });
    try {
      const res = await app.inject({ method: 'POST', url: '/predict/batch', payload: { records } });
      assert.equal(res.statusCode, 200, res.body);
      const got = res.json().predictions as Array<{ probability: number; model: { fallback: boolean } }>;
      assert.equal(got.length, records.length);
      let spread = 0;
      for (let i = 0; i < got.length; i++) {
        assert.ok(
          Math.abs(got[i]!.probability - r.testProbabilities[i]!) < 1e-12,
          `row ${i + 1}: served ${got[i]!.probability}, pipeline ${r.testProbabilities[i]}`,
        );
        spread += Math.abs(got[i]!.probability - r.testProbabilities[0]!);
      }
      assert.ok(spread > 1, 'the rows get different probabilities');
      const one = await app.inject({ method: 'POST', url: '/predict', payload: records[7]! });
      assert.equal(one.statusCode, 200, one.body);
      assert.ok(Math.abs(one.json().probability - r.testProbabilities[7]!) < 1e-12);
      assert.equal(one.json().model.fallback, false);
    } finally {
      await app.close();
    }

    // a step that throws at serving: the record is answered by the prior, marked as a fallback
    const loaded = await loadBundle(dl);
    const broken = createServedModel({
      identity: { name: model, version: r.version, runId: null, uri: 'test' },
      schema: loaded.schema,
      transform: loaded.transform,
      model: loaded.model,
      threshold: loaded.threshold,
      prior: loaded.prior,
      featureSteps: createFeatureStepRunner(loaded.schema, [
        {
          name: 'breaks',
          params: {},
          state: null,
          outputs: [{ name: 'x', kind: 'numeric' }],
          step: {
            outputs: [{ name: 'x', kind: 'numeric' }],
            transform: () => {
              throw new Error('step broke');
            },
          },
        },
      ]),
    });
    const brokenApp = await createServingApp({ holder: createModelHolder(broken), logLevel: 'silent' });
    try {
      const res = await brokenApp.inject({ method: 'POST', url: '/predict', payload: records[0]! });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().model.fallback, true);
      assert.equal(res.json().probability, loaded.prior);
    } finally {
      await brokenApp.close();
    }

    // a bundle whose step code was changed after training is refused, not silently scored differently
    const tampered = mkdtempSync(join(dir, 'tampered-'));
    cpSync(dl, tampered, { recursive: true });
    writeFileSync(
      join(tampered, 'code', 'feature_steps', 'ratio-step.ts'),
      `${readFileSync(join(dl, 'code', 'feature_steps', 'ratio-step.ts'), 'utf8')}\n// changed\n`,
    );
    await assert.rejects(loadBundle(tampered), /per_day.*does not match the sha256 recorded at training/);

    // tassel predict on the downloaded bundle (a temp folder outside any package), from the same CSV, through
    // the real entry point in its own process: the bundle's TypeScript step loads there too
    const out = join(dir, 'predictions.csv');
    const cli = spawnSync(
      process.execPath,
      [
        join(repo, 'bin', 'tassel.js'),
        'predict',
        '--model',
        dl,
        '--data',
        join(dir, 'test.csv'),
        '--out',
        out,
        '--quiet',
      ],
      { encoding: 'utf8', cwd: dir },
    );
    assert.equal(cli.status, 0, cli.stderr);
    const predicted = parseCsv(readFileSync(out), { columns: true }) as Array<{ probability: string }>;
    assert.equal(predicted.length, records.length);
    for (let i = 0; i < predicted.length; i++)
      assert.equal(Number(predicted[i]!.probability), r.testProbabilities[i], `predict row ${i + 1}`);

    // reproducible: the same data, config and seed give byte-identical bundle files, step state and code included
    // (gate.on_unchanged: record, or the unchanged re-run would be skipped before training)
    const again = await runPipeline({
      config: { ...config, gate: { ...config.gate, on_unchanged: 'record' } },
      tracking,
      workDir: join(dir, 'work-again'),
    });
    // the gate re-scored production (the first bundle, steps loaded from its code/) on the same test rows
    assert.equal(again.production?.metrics?.roc_auc, r.test.roc_auc, again.gate.reasons.join('\n'));
    for (const f of [
      'model.json',
      'MLmodel',
      'code/feature_steps/engagement-step.ts',
      'code/feature_steps/ratio-step.ts',
    ])
      assert.deepEqual(readFileSync(join(again.bundleDir, f)), readFileSync(join(bundleDir, f)), f);
  });

  test('a step that throws or returns a bad value fails the run naming the step; nothing is registered', async (t) => {
    if (server.skip) return t.skip(server.skip);
    const tracking = createClientTracking({ uri: server.url, retries: 2, backoffMs: 20 });
    const model = `bad-steps-${process.pid}`;
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ mode: 'throw' }, /feature step "bad": transform threw on training row 5: boom on purpose/],
      [
        { mode: 'string' },
        /feature step "bad": output "bad_value" must be a finite number or null, got "high" \(training row 1\)/,
      ],
      [
        { mode: 'undeclared' },
        /feature step "bad": transform returned "extra", which is not among its declared outputs/,
      ],
      [{ mode: 'fit' }, /feature step "bad": fit threw on the training rows: cannot fit today/],
    ];
    for (const [params, message] of cases) {
      const config = parsePipelineConfig(
        {
          ...base,
          model_name: model,
          feature_steps: [{ module: join(fixtures, 'bad-step.ts'), name: 'bad', params }],
        },
        dir,
      );
      await assert.rejects(runPipeline({ config, tracking }), (e: unknown) => {
        assert.ok(e instanceof InputError, String(e));
        assert.match((e as Error).message, message);
        return true;
      });
    }
    const writesTarget = parsePipelineConfig(
      {
        ...base,
        model_name: model,
        feature_steps: [
          { ...steps[1], params: { numerator: 'Age', denominator: 'Age', output: 'Completed' } },
        ],
      },
      dir,
    );
    await assert.rejects(
      runPipeline({ config: writesTarget, tracking }),
      /output "Completed" would overwrite the target/,
    );
    assert.deepEqual(await tracking.listModels().then((names) => names.filter((n) => n === model)), []);
  });
});
