import { schemaToJSON } from '../../data/schema.js';
import { resolveTrials } from '../candidates.js';
import { prepareData } from '../data-step.js';
import { featureStepLogs, resolveFeatureSteps } from '../feature-steps.js';
import type { DatasetInput } from '../tracking-port.js';
import { defineStep } from './step.js';

/** Read and validate data.path (and test_data) against one schema, then split train/validation/test. */
export const ingestStep = defineStep({
  name: 'ingest',
  inputs: [],
  outputs: ['data'],
  run: async (_, { config }) => ({ data: await prepareData(config) }),
  detail: ({ data: d }) =>
    `train ${d.train.y.length}, validation ${d.valid.y.length}, test ${d.test.y.length} rows; ${d.droppedRows} dropped`,
});

/** Expand the configured candidates into trials, loading user modules. */
export const candidatesStep = defineStep({
  name: 'candidates',
  inputs: [],
  outputs: ['trials', 'extraFactories'],
  run: (_, { config }) => resolveTrials(config),
  detail: ({ trials }) => `${trials.length} trials`,
});

/** Load the config's feature step modules (reported only when there are some). */
export const loadFeatureStepsStep = defineStep({
  name: 'load feature steps',
  inputs: [],
  outputs: ['featureSteps'],
  report: 'self',
  async run(_, ctx) {
    if (ctx.config.feature_steps.length === 0) return { featureSteps: [] };
    const featureSteps = await ctx.timed(
      'load feature steps',
      () => resolveFeatureSteps(ctx.config),
      (r) => r.map((x) => x.name).join(', '),
    );
    return { featureSteps };
  },
});

/** Record the run's settings, the data's digests and its inputs (MLflow datasets) on the parent run. */
export const logInputsStep = defineStep({
  name: 'log inputs',
  inputs: ['parent', 'data', 'trials', 'featureSteps'],
  outputs: [],
  report: 'self',
  async run({ parent, data, trials, featureSteps }, { config, tracking }) {
    const stepLogs = featureStepLogs(featureSteps);
    await tracking.logBatch(parent.runId, {
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
    const schema = JSON.stringify(schemaToJSON(data.modelSchema));
    const input = (path: string, i: number, context: string): DatasetInput => ({
      name: path.split(/[\\/]/).pop() ?? (i === 0 ? 'data.csv' : 'test.csv'),
      digest: data.sha256[i]!.slice(0, 16),
      source: JSON.stringify({ uri: path, sha256: data.sha256[i] }),
      sourceType: 'local',
      schema,
      profile: JSON.stringify({ num_rows: data.rows[i] }),
      context,
    });
    const testData = config.data.test_data;
    await tracking.logInputs(parent.runId, [
      input(config.data.path, 0, testData ? 'train' : 'train+test'),
      ...(testData ? [input(testData, 1, 'test')] : []),
    ]);
    return {};
  },
});
