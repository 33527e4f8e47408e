import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DatasetSchema } from '../../data/schema.js';
import type { Table } from '../../data/table.js';
import { saveBundle } from '../../ml/bundle.js';
import { moduleCodeName } from '../candidates.js';
import type { PipelineConfig } from '../config.js';
import { bundleFeatureSteps, type ResolvedFeatureStep } from '../feature-steps.js';
import { deterministicIdentity } from '../provenance.js';
import { exampleRecords } from '../../data/example-records.js';
import { defineStep } from './step.js';

/** The config that determines the model (file locations left out: moving a file changes nothing). */
export function modelRelevantConfig(config: PipelineConfig, steps: readonly ResolvedFeatureStep[]): unknown {
  const {
    data,
    baseDir: _b,
    tracking: _t,
    run_name: _r,
    experiment_name: _e,
    promote: _p,
    gate: _g,
    monitoring: _mon,
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
 * Save the winner as a model bundle (model, transform, schema, threshold, prior, feature steps, a user
 * module's code) under a fresh artifacts folder, with an identity derived from data, config and seed.
 */
export const bundleStep = defineStep({
  name: 'bundle',
  inputs: ['winner', 'features', 'data', 'threshold', 'evaluation', 'featureSteps', 'derived'],
  outputs: ['artifacts'],
  async run({ winner, features, data, threshold, evaluation, featureSteps, derived }, { config, workDir }) {
    const dir = join(workDir, 'artifacts');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const bundleDir = join(dir, 'model');
    let prior = 0;
    for (let i = 0; i < data.train.y.length; i++) prior += data.train.y[i]!;
    prior /= data.train.y.length;
    const identity = deterministicIdentity({
      dataSha256: data.sha256,
      config: modelRelevantConfig(config, featureSteps),
      candidate: { name: winner.name, params: winner.params },
      seed: config.seed,
    });
    await saveBundle(
      bundleDir,
      {
        model: winner.model,
        transform: features.get(winner.trial.preset)!.ft,
        schema: data.modelSchema,
        threshold,
        prior,
        inputExample: exampleRecords(data.test.table, data.modelSchema),
        metrics: { test: evaluation.test },
        ...(derived.runner ? { featureSteps: bundleFeatureSteps(featureSteps, derived.runner.steps) } : {}),
      },
      { createdAt: identity.createdAt, modelUuid: identity.modelUuid.replace(/-/g, '') },
    );
    if (winner.trial.module) {
      // MLflow's code_paths: the module travels with the model so serving can load it.
      mkdirSync(join(bundleDir, 'code'), { recursive: true });
      copyFileSync(winner.trial.module, join(bundleDir, 'code', moduleCodeName(winner.trial.module)));
    }
    return { artifacts: { dir, bundleDir, identity, prior } };
  },
});
