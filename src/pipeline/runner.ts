import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DatasetSchema, schemaToJSON } from '../data/schema.js';
import type { Table } from '../data/table.js';
import { TasselError } from '../errors.js';
import {
  type FeatureStepRunner,
  createFeatureStepRunner,
  fitFeatureSteps,
} from '../features/feature-step.js';
import { defaultFeatureSpec } from '../features/spec.js';
import { type FittedTransform, fitTransform, transformTable } from '../features/transform.js';
import type { Matrix } from '../ml/matrix.js';
import type { Classifier, ModelFactory } from '../ml/model.js';
import { TASSEL_VERSION } from '../version.js';
import { type Trial, moduleCodeName, resolveTrials } from './candidates.js';
import type { PipelineConfig } from './config.js';
import { type PreparedData, prepareData } from './data-step.js';
import {
  type ResolvedFeatureStep,
  bundleFeatureSteps,
  featureStepLogs,
  resolveFeatureSteps,
} from './feature-steps.js';
import { firstBadProbability } from './evaluate.js';
import { type GateMetrics, type GateResult, decideGate } from './gate.js';
import { type ModelOps, createModelOps } from './model-ops.js';
import { calibrationSvg, prSvg, rocSvg } from './plots.js';
import { buildReferenceProfile } from './profile.js';
import { canonicalJson, collectProvenance, deterministicIdentity } from './provenance.js';
import { type PipelineReporter, silentReporter } from './reporter.js';
import type { MetricPoint, PipelineTracking, RunHandle } from './tracking-port.js';
import { type BinaryEvaluation, chooseThreshold, evaluateBinary, scalarMetrics } from '../ml/metrics.js';
import { prCurve, rocCurve } from './metrics.js';
import { loadBundle, saveBundle } from '../ml/bundle.js';

type BinaryMetrics = BinaryEvaluation;

/** Options of one pipeline run. */
export interface RunPipelineOptions {
  config: PipelineConfig;
  tracking: PipelineTracking;
  reporter?: PipelineReporter;
  /** Overrides config.promote (false = --no-promote). */
  promote?: boolean;
  /** --force-promote with its audit reason. */
  forcePromote?: { reason: string } | null;
  /** Where to keep the local copy of the run's artifacts (default: a temp folder, removed at the end). */
  workDir?: string;
}

/** One fitted trial and its scores. */
export interface TrialResult {
  name: string;
  candidate: string;
  kind: string;
  params: Record<string, unknown>;
  runId: string;
  train: BinaryMetrics;
  valid: BinaryMetrics;
  selectionScore: number;
  fitSeconds: number;
  summary: Record<string, unknown>;
}

export interface PipelineResult {
  runId: string;
  experimentId: string;
  trials: TrialResult[];
  winner: TrialResult;
  test: BinaryMetrics;
  /** The winner's P(y=1) for every test row, in test-set order (what the test metrics were computed from). */
  testProbabilities: Float64Array;
  threshold: number;
  modelName: string;
  version: string;
  gate: GateResult;
  production: { version: string; metrics: GateMetrics | null } | null;
  /** The version holding `production` after the run. */
  productionVersion: string | null;
  /** Local folder of the winner's bundle (kept when workDir was given). */
  bundleDir: string;
  timings: Record<string, number>;
}

const now = () => performance.now();

function round6(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : x;
}

/** Metric points for a metrics object, flattening numbers only (confusion matrix etc. stay in JSON). */
function metricPoints(prefix: string, m: BinaryMetrics): MetricPoint[] {
  const out: MetricPoint[] = [];
  for (const [k, v] of Object.entries(scalarMetrics(m)))
    if (Number.isFinite(v)) out.push({ key: `${prefix}_${k}`, value: v, step: 0 });
  return out;
}

const flatParams = (prefix: string, params: Record<string, unknown>): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params))
    out[`${prefix}${k}`] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
};

function selectionScore(metric: PipelineConfig['selection_metric'], m: BinaryMetrics): number {
  if (metric === 'neg_log_loss') return -m.log_loss;
  return metric === 'pr_auc' ? m.pr_auc : m.roc_auc;
}

/** The config that determines the model (file locations left out: moving a file changes nothing). */
function modelRelevantConfig(config: PipelineConfig, steps: readonly ResolvedFeatureStep[]): unknown {
  const {
    data,
    baseDir: _b,
    tracking: _t,
    run_name: _r,
    experiment_name: _e,
    promote: _p,
    gate: _g,
    ...rest
  } = config;
  const { path: _path, test_data: _td, ...dataRest } = data;
  return {
    ...rest,
    data: { ...dataRest, has_test_data: data.test_data !== undefined },
    candidates: config.candidates.map((c) => ({
      ...c,
      module: c.module ? moduleCodeName(c.module) : undefined,
    })),
    feature_steps: steps.map((s) => ({
      name: s.name,
      module: s.codeName,
      sha256: s.sha256,
      params: s.params,
    })),
  };
}

/**
 * Feature importances of the winner: the model's own (GBDT gain/weight/cover, or `importances`), else
 * |coefficient| for linear models (on standardised features), else none.
 */
function featureImportance(
  model: Classifier,
  summary: Record<string, unknown>,
  names: string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = { model_kind: model.kind };
  for (const [k, v] of Object.entries(summary)) if (k.startsWith('importance')) out[k] = v;
  if (Object.keys(out).length > 1) return out;
  const coef = model.toJSON().coef;
  if (Array.isArray(coef) && coef.length === names.length) {
    const pairs = names.map((n, i) => [n, Math.abs(Number(coef[i]))] as const).sort((a, b) => b[1] - a[1]);
    out.importance_abs_coef = Object.fromEntries(pairs);
    return out;
  }
  out.importances = null;
  return out;
}

/** ISO date of days since 1970-01-01. */
const isoDate = (days: number) => new Date(days * 86_400_000).toISOString().slice(0, 10);

/** The first `n` rows of a table as raw JSON records (features only) for the bundle's input example. */
function inputExample(table: Table, schema: DatasetSchema, n = 3): Record<string, unknown>[] {
  const specs = schema.columns.filter((c) => c.role === 'feature');
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < Math.min(n, table.nRows); i++) {
    const rec: Record<string, unknown> = {};
    for (const spec of specs) {
      const col = table.columns[spec.name];
      if (!col) continue;
      const v = col[i];
      if (typeof v !== 'number') rec[spec.name] = v ?? null;
      else if (Number.isNaN(v)) rec[spec.name] = null;
      // Stored as numbers in the table; callers send them as they appear in the data.
      else if (spec.type === 'date') rec[spec.name] = isoDate(v);
      else if (spec.type === 'boolean')
        rec[spec.name] = v ? (spec.trueValues?.[0] ?? 'true') : (spec.falseValues?.[0] ?? 'false');
      else rec[spec.name] = v;
    }
    out.push(rec);
  }
  return out;
}

/**
 * Run the whole pipeline: ingest, validate, split, fit transforms, train every trial (child runs),
 * pick the winner on validation, evaluate it on test, log artifacts, register it as a new version with
 * alias `challenger`, gate it against `production` and promote it when the gate allows.
 * On failure the parent (and open child) runs are marked FAILED, nothing is registered, and the error
 * is rethrown (InputError for data/config problems, TasselError otherwise).
 */
export async function runPipeline(options: RunPipelineOptions): Promise<PipelineResult> {
  const { config, tracking } = options;
  const reporter = options.reporter ?? silentReporter;
  const promote = options.promote ?? config.promote;
  const timings: Record<string, number> = {};
  const ownWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), 'tassel-pipeline-'));
  mkdirSync(workDir, { recursive: true });
  const openRuns = new Set<string>();
  let parent: RunHandle | null = null;

  const step = async <T>(name: string, fn: () => Promise<T> | T, detail?: (r: T) => string): Promise<T> => {
    reporter.stepStart(name);
    const t0 = now();
    const r = await fn();
    const s = (now() - t0) / 1000;
    timings[name] = (timings[name] ?? 0) + s;
    reporter.stepEnd(name, s, detail?.(r));
    return r;
  };

  try {
    const experimentId = await step('connect', async () => {
      try {
        return await tracking.getOrCreateExperiment(config.experiment_name);
      } catch (e) {
        const m = (e as Error).message;
        throw new TasselError(
          e instanceof TasselError ? e.code : 'TEMPORARILY_UNAVAILABLE',
          `${m.startsWith('tracking server') ? m : `tracking server ${tracking.uri}: ${m}`}; nothing was logged or registered`,
          { cause: e },
        );
      }
    });
    const prov = collectProvenance();
    const runName = config.run_name ?? `pipeline-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    const baseTags: Record<string, string> = {
      'mlflow.source.type': 'JOB',
      'mlflow.source.name': 'tassel pipeline run',
      'tassel.version': TASSEL_VERSION,
      'tassel.node_version': prov.nodeVersion,
      'tassel.seed': String(config.seed),
    };
    if (prov.gitCommit) {
      baseTags['mlflow.source.git.commit'] = prov.gitCommit;
      baseTags['tassel.git.dirty'] = String(prov.gitDirty);
    }
    if (prov.packageLockSha256) baseTags['tassel.package_lock_sha256'] = prov.packageLockSha256;
    parent = await tracking.createRun(experimentId, runName, { ...baseTags, 'mlflow.runName': runName });
    openRuns.add(parent.runId);
    const parentId = parent.runId;
    reporter.info(`parent run ${parentId} in experiment ${config.experiment_name} at ${tracking.uri}`);

    // -- ingest, validate, split
    const data: PreparedData = await step(
      'ingest',
      () => prepareData(config),
      (d) =>
        `train ${d.train.y.length}, validation ${d.valid.y.length}, test ${d.test.y.length} rows; ${d.droppedRows} dropped`,
    );
    const { trials, extraFactories } = await step(
      'candidates',
      () => resolveTrials(config),
      (r) => `${r.trials.length} trials`,
    );
    const resolvedSteps = config.feature_steps.length
      ? await step(
          'load feature steps',
          () => resolveFeatureSteps(config),
          (r) => r.map((x) => x.name).join(', '),
        )
      : [];
    const stepLogs = featureStepLogs(resolvedSteps);

    await tracking.logBatch(parentId, {
      params: {
        data_path: config.data.path,
        ...(config.data.test_data ? { test_data_path: config.data.test_data } : {}),
        split: data.splitDescription,
        seed: String(config.seed),
        selection_metric: config.selection_metric,
        threshold_rule: String(config.threshold),
        model_name: config.model_name,
        candidates: trials.map((t) => t.name).join(','),
        'gate.min_delta': String(config.gate.min_delta),
        'gate.min_roc_auc': String(config.gate.min_roc_auc),
        'gate.max_log_loss': String(config.gate.max_log_loss),
        'gate.max_ece': String(config.gate.max_ece),
        ...stepLogs.params,
      },
      tags: {
        ...stepLogs.tags,
        'tassel.data.sha256': data.sha256[0]!,
        'tassel.data.rows': String(data.rows[0]),
        ...(data.sha256[1]
          ? { 'tassel.test_data.sha256': data.sha256[1], 'tassel.test_data.rows': String(data.rows[1]) }
          : {}),
        'tassel.data.dropped_rows': String(data.droppedRows),
      },
    });
    const schemaJson = JSON.stringify(schemaToJSON(data.modelSchema));
    await tracking.logInputs(parentId, [
      {
        name: config.data.path.split(/[\\/]/).pop() ?? 'data.csv',
        digest: data.sha256[0]!.slice(0, 16),
        source: JSON.stringify({ uri: config.data.path, sha256: data.sha256[0] }),
        sourceType: 'local',
        schema: schemaJson,
        profile: JSON.stringify({ num_rows: data.rows[0] }),
        context: config.data.test_data ? 'train' : 'train+test',
      },
      ...(config.data.test_data
        ? [
            {
              name: config.data.test_data.split(/[\\/]/).pop() ?? 'test.csv',
              digest: data.sha256[1]!.slice(0, 16),
              source: JSON.stringify({ uri: config.data.test_data, sha256: data.sha256[1] }),
              sourceType: 'local',
              schema: schemaJson,
              profile: JSON.stringify({ num_rows: data.rows[1] }),
              context: 'test',
            },
          ]
        : []),
    ]);

    // -- feature steps: fitted on the training part only, then applied to every part (the raw tables stay
    // as they are for the input example and re-scoring production, which has its own)
    let stepRunner: FeatureStepRunner | null = null;
    const derived = { train: data.train.table, valid: data.valid.table, test: data.test.table };
    if (resolvedSteps.length > 0) {
      stepRunner = await step(
        'feature steps',
        async () => {
          const fitted = await fitFeatureSteps(
            resolvedSteps,
            data.train.table,
            data.modelSchema,
            data.train.y,
            config.seed,
          );
          const runner = createFeatureStepRunner(data.modelSchema, fitted);
          derived.train = runner.applyTable(data.train.table, 'training');
          derived.valid = runner.applyTable(data.valid.table, 'validation');
          derived.test = runner.applyTable(data.test.table, 'test');
          return runner;
        },
        (r) =>
          `${r.steps.length} step(s) -> ${r.steps.flatMap((x) => x.outputs.map((o) => o.name)).join(', ')}`,
      );
    }
    const featureSchema = stepRunner ? stepRunner.schema : data.modelSchema;

    // -- features: one fitted transform per preset, fitted on the training part only
    const features = new Map<string, { ft: FittedTransform; train: Matrix; valid: Matrix; test: Matrix }>();
    for (const preset of [...new Set(trials.map((t) => t.preset))]) {
      await step(
        `features:${preset}`,
        () => {
          const spec = defaultFeatureSpec(featureSchema, { preset });
          const ft = fitTransform(spec, derived.train, featureSchema);
          features.set(preset, {
            ft,
            train: transformTable(ft, derived.train),
            valid: transformTable(ft, derived.valid),
            test: transformTable(ft, derived.test),
          });
        },
        () => `${features.get(preset)!.ft.width} features`,
      );
    }

    // -- train every trial in its own child run
    const results: Array<TrialResult & { model: Classifier; trial: Trial }> = [];
    for (const trial of trials) {
      const f = features.get(trial.preset)!;
      const child = await tracking.createRun(experimentId, trial.name, {
        ...baseTags,
        'mlflow.parentRunId': parentId,
        'mlflow.runName': trial.name,
        'tassel.candidate': trial.candidate,
        ...(trial.module ? { 'tassel.candidate.module': trial.module } : {}),
      });
      openRuns.add(child.runId);
      await tracking.logBatch(child.runId, {
        params: {
          model_kind: trial.factory.kind,
          feature_preset: trial.preset,
          feature_spec: canonicalJson(defaultFeatureSpec(featureSchema, { preset: trial.preset })).slice(
            0,
            6000,
          ),
          n_features: String(f.ft.width),
          ...flatParams('', trial.params),
        },
      });
      const model = trial.factory.create(trial.params);
      const stepMetrics: MetricPoint[] = [];
      const t0 = now();
      await step(`train ${trial.name}`, async () => {
        await model.fit(f.train, data.train.y, {
          validation: { X: f.valid, y: data.valid.y },
          featureNames: f.ft.feature_names,
          seed: config.seed,
          onIteration: (info) => {
            reporter.progress(`train ${trial.name}`, Math.min(info.iteration, info.total), info.total);
            for (const [k, v] of Object.entries(info.metrics ?? {}))
              if (Number.isFinite(v))
                stepMetrics.push({
                  key: /^(valid|train)_/.test(k) ? k : `valid_${k}`,
                  value: v,
                  step: info.iteration,
                });
          },
        });
      });
      const fitSeconds = (now() - t0) / 1000;
      const pTrain = model.predictProba(f.train);
      const pValid = model.predictProba(f.valid);
      for (const [part, p] of [
        ['training', pTrain],
        ['validation', pValid],
      ] as const) {
        const bad = firstBadProbability(p);
        if (bad >= 0)
          throw new TasselError(
            'INVALID_STATE',
            `candidate ${trial.name} produced an invalid probability (${p[bad]}) for ${part} row ${bad + 1}; the run is failed and nothing is registered`,
          );
      }
      const train = evaluateBinary(data.train.y, pTrain, 0.5);
      const valid = evaluateBinary(data.valid.y, pValid, 0.5);
      const summary = (model.summary?.() ?? {}) as Record<string, unknown>;
      const metrics: MetricPoint[] = [
        ...metricPoints('train', train),
        ...metricPoints('valid', valid),
        { key: 'fit_seconds', value: round6(fitSeconds), step: 0 },
      ];
      for (const [k, v] of Object.entries(summary))
        if (typeof v === 'number' && Number.isFinite(v)) metrics.push({ key: k, value: v, step: 0 });
      for (let i = 0; i < stepMetrics.length; i += 1000)
        await tracking.logBatch(child.runId, { metrics: stepMetrics.slice(i, i + 1000) });
      await tracking.logBatch(child.runId, { metrics });
      await tracking.endRun(child.runId, 'FINISHED');
      openRuns.delete(child.runId);
      results.push({
        name: trial.name,
        candidate: trial.candidate,
        kind: trial.factory.kind,
        params: trial.params,
        runId: child.runId,
        train,
        valid,
        selectionScore: selectionScore(config.selection_metric, valid),
        fitSeconds,
        summary,
        model,
        trial,
      });
      reporter.info(
        `  ${trial.name}: valid roc_auc ${valid.roc_auc.toFixed(4)} log_loss ${valid.log_loss.toFixed(4)} (${fitSeconds.toFixed(2)} s)`,
      );
    }

    // -- pick the winner on validation (ties: the earlier trial), evaluate on test
    let best = results[0]!;
    for (const r of results) if (r.selectionScore > best.selectionScore) best = r;
    const bf = features.get(best.trial.preset)!;
    const pValidBest = best.model.predictProba(bf.valid);
    const threshold = chooseThreshold(data.valid.y, pValidBest, config.threshold);
    const evaluated = await step(
      'evaluate',
      () => {
        const p = best.model.predictProba(bf.test);
        const bad = firstBadProbability(p);
        if (bad >= 0)
          throw new TasselError(
            'INVALID_STATE',
            `winner ${best.name} produced an invalid probability (${p[bad]}) for test row ${bad + 1}`,
          );
        return { p, test: evaluateBinary(data.test.y, p, threshold) };
      },
      (r) =>
        `test roc_auc ${r.test.roc_auc.toFixed(4)}, log_loss ${r.test.log_loss.toFixed(4)}, ece ${r.test.ece.toFixed(4)}`,
    );
    const test = evaluated.test;

    // -- artifacts: the bundle and the reports
    const artifactsDir = join(workDir, 'artifacts');
    rmSync(artifactsDir, { recursive: true, force: true });
    mkdirSync(artifactsDir, { recursive: true });
    const bundleDir = join(artifactsDir, 'model');
    let prior = 0;
    for (let i = 0; i < data.train.y.length; i++) prior += data.train.y[i]!;
    prior /= data.train.y.length;
    const identity = deterministicIdentity({
      dataSha256: data.sha256,
      config: modelRelevantConfig(config, resolvedSteps),
      candidate: { name: best.name, params: best.params },
      seed: config.seed,
    });
    await step('bundle', async () => {
      await saveBundle(
        bundleDir,
        {
          model: best.model,
          transform: bf.ft,
          schema: data.modelSchema,
          threshold,
          prior,
          inputExample: inputExample(data.test.table, data.modelSchema),
          metrics: { test },
          ...(stepRunner ? { featureSteps: bundleFeatureSteps(resolvedSteps, stepRunner.steps) } : {}),
        },
        { createdAt: identity.createdAt, modelUuid: identity.modelUuid.replace(/-/g, '') },
      );
      if (best.trial.module) {
        // MLflow's code_paths: the module travels with the model so serving can load it.
        mkdirSync(join(bundleDir, 'code'), { recursive: true });
        copyFileSync(best.trial.module, join(bundleDir, 'code', moduleCodeName(best.trial.module)));
      }
    });
    const roc = rocCurve(data.test.y, evaluated.p);
    const pr = prCurve(data.test.y, evaluated.p);
    let positives = 0;
    for (let i = 0; i < data.test.y.length; i++) positives += data.test.y[i]!;
    const write = (name: string, body: string) => writeFileSync(join(artifactsDir, name), body);
    write('roc.svg', rocSvg(roc.fpr, roc.tpr, test.roc_auc));
    write('pr.svg', prSvg(pr.recall, pr.precision, test.pr_auc, positives / data.test.y.length));
    write(
      'calibration.svg',
      calibrationSvg(
        test.calibration.map((b) => b.mean_predicted),
        test.calibration.map((b) => b.fraction_positive),
        test.ece,
      ),
    );
    const metricsJson = {
      winner: best.name,
      kind: best.kind,
      params: best.params,
      threshold,
      test,
      candidates: results.map((r) => ({
        name: r.name,
        train: r.train,
        valid: r.valid,
        fit_seconds: round6(r.fitSeconds),
      })),
    };
    write('metrics.json', `${JSON.stringify(metricsJson, null, 2)}\n`);
    write(
      'feature_importance.json',
      `${JSON.stringify(featureImportance(best.model, best.summary, bf.ft.feature_names), null, 2)}\n`,
    );
    write('confusion_matrix.json', `${JSON.stringify({ threshold, ...(test.confusion ?? {}) }, null, 2)}\n`);
    const bestPTrain = best.model.predictProba(bf.train);
    write(
      'reference_profile.json',
      // the derived table holds the raw inputs (what the prediction log records) and the steps' outputs,
      // so drift can be checked on either
      `${JSON.stringify(buildReferenceProfile(derived.train, featureSchema, bestPTrain), null, 2)}\n`,
    );
    await step('log', async () => {
      await tracking.logBatch(parentId, {
        params: {
          winner: best.name,
          winner_kind: best.kind,
          threshold: String(round6(threshold)),
          ...flatParams('winner.', best.params),
        },
        metrics: [
          ...metricPoints('test', test),
          ...metricPoints('valid', best.valid),
          ...metricPoints('train', best.train),
        ],
        tags: { 'tassel.winner_run_id': best.runId, 'tassel.bundle.digest': identity.digest },
      });
      await tracking.uploadArtifacts(parentId, artifactsDir, '');
    });

    // -- register, gate, promote
    const ops: ModelOps = createModelOps(tracking);
    const productionBefore = await tracking.getVersionByAlias(config.model_name, 'production');
    let prodMetrics: (GateMetrics & { version: string }) | null = null;
    let prodError: string | null = null;
    if (productionBefore) {
      await step('rescore production', async () => {
        try {
          const dir = mkdtempSync(join(workDir, 'production-'));
          await tracking.downloadVersion(config.model_name, productionBefore.version, dir);
          const loaded = await loadBundle(dir, { extraFactories: extraFactories as ModelFactory[] });
          const p = loaded.predictTable(data.test.table);
          const bad = firstBadProbability(p);
          if (bad >= 0) throw new Error(`it produced an invalid probability for test row ${bad + 1}`);
          const m = evaluateBinary(data.test.y, p, loaded.threshold ?? 0.5);
          prodMetrics = {
            roc_auc: m.roc_auc,
            log_loss: m.log_loss,
            ece: m.ece,
            version: productionBefore.version,
          };
        } catch (e) {
          prodError = `production v${productionBefore.version} could not be re-scored on this test set: ${(e as Error).message}`;
        }
      });
    }
    let gate = decideGate({
      challenger: test,
      production: prodMetrics,
      config: config.gate,
      promote,
      force: options.forcePromote ?? null,
    });
    if (prodError !== null) {
      const reasons = [
        ...gate.reasons.filter((r) => !r.includes('no production version yet')),
        `FAIL: ${prodError}`,
      ];
      gate = options.forcePromote
        ? { ...gate, passed: false, reasons }
        : { passed: false, decision: promote ? 'reject' : 'hold', movesProduction: false, reasons };
    }
    const registered = await step(
      'register',
      () =>
        ops.register({
          name: config.model_name,
          runId: parentId,
          source: `${parent!.artifactUri.replace(/\/$/, '')}/model`,
          tags: {
            'tassel.prior': String(round6(prior)),
            'tassel.model_kind': best.kind,
            'tassel.candidate': best.name,
            'tassel.test.roc_auc': String(round6(test.roc_auc)),
            'tassel.test.log_loss': String(round6(test.log_loss)),
            'tassel.test.ece': String(round6(test.ece)),
            'tassel.data.sha256': data.sha256[0]!,
            ...(best.trial.module ? { 'tassel.code': `code/${moduleCodeName(best.trial.module)}` } : {}),
            ...(resolvedSteps.length
              ? {
                  'tassel.feature_steps': resolvedSteps
                    .map((x) => `${x.name}=code/feature_steps/${x.codeName}`)
                    .join(','),
                }
              : {}),
          },
          description: `${best.name} from pipeline run ${parentId}`,
        }),
      (v) => `version ${v.version}`,
    );
    const gateTags: Record<string, string> = {
      'tassel.gate.decision': gate.decision,
      'tassel.gate.passed': String(gate.passed),
      'tassel.gate.reasons': gate.reasons.join('\n').slice(0, 4900),
    };
    if (prodMetrics)
      gateTags['tassel.gate.production_version'] = (prodMetrics as { version: string }).version;
    if (options.forcePromote) gateTags['tassel.gate.forced_reason'] = options.forcePromote.reason;
    for (const [k, v] of Object.entries(gateTags))
      await tracking.setVersionTag(config.model_name, registered.version, k, v);
    await tracking.logBatch(parentId, {
      tags: { ...gateTags, 'tassel.registered_version': registered.version },
      metrics: [{ key: 'gate_passed', value: gate.passed ? 1 : 0, step: 0 }],
    });
    for (const r of gate.reasons) reporter.info(`  gate ${r}`);
    let productionVersion = productionBefore?.version ?? null;
    if (gate.movesProduction) {
      await step('promote', () =>
        ops.promote(config.model_name, registered.version, {
          reason:
            gate.decision === 'force-promote'
              ? `force-promote by pipeline run ${parentId}: ${options.forcePromote!.reason}`
              : `gate passed in pipeline run ${parentId}`,
        }),
      );
      productionVersion = registered.version;
    }
    reporter.info(
      `${config.model_name} v${registered.version}: ${gate.decision}; production is ${productionVersion ? `v${productionVersion}` : 'unset'}`,
    );
    await tracking.endRun(parentId, 'FINISHED');
    openRuns.delete(parentId);
    const { model: _m, trial: _t, ...winner } = best;
    return {
      runId: parentId,
      experimentId,
      trials: results.map(({ model: _mm, trial: _tt, ...r }) => r),
      winner,
      test,
      testProbabilities: evaluated.p,
      threshold,
      modelName: config.model_name,
      version: registered.version,
      gate,
      production: productionBefore ? { version: productionBefore.version, metrics: prodMetrics } : null,
      productionVersion,
      bundleDir,
      timings,
    };
  } catch (e) {
    for (const runId of openRuns) {
      try {
        await tracking.logBatch(runId, {
          tags: { 'tassel.error': String((e as Error).message).slice(0, 4900) },
        });
        await tracking.endRun(runId, 'FAILED');
      } catch {
        // The server may be the thing that failed; the original error is what the user needs.
      }
    }
    if (e instanceof TasselError) throw e;
    throw new TasselError('INTERNAL_ERROR', `pipeline failed: ${(e as Error).message}`, { cause: e });
  } finally {
    if (ownWorkDir) rmSync(workDir, { recursive: true, force: true });
  }
}
