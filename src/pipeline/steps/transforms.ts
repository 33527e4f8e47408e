import { createFeatureStepRunner, fitFeatureSteps } from '../../features/feature-step.js';
import { defaultFeatureSpec } from '../../features/spec.js';
import { fitTransform, transformTable } from '../../features/transform.js';
import { defineStep, type FeatureMatrices } from './step.js';

/**
 * The user's feature steps: fitted on the training part only, then applied to every part (the raw tables
 * stay as they are for the input example and re-scoring production, which has its own steps).
 */
export const featureStepsStep = defineStep({
  name: 'feature steps',
  inputs: ['data', 'featureSteps'],
  outputs: ['derived'],
  report: 'self',
  async run({ data, featureSteps }, ctx) {
    const raw = { train: data.train.table, valid: data.valid.table, test: data.test.table };
    if (featureSteps.length === 0) return { derived: { ...raw, schema: data.modelSchema, runner: null } };
    const derived = await ctx.timed(
      'feature steps',
      async () => {
        const fitted = await fitFeatureSteps(
          featureSteps,
          data.train.table,
          data.modelSchema,
          data.train.y,
          ctx.config.seed,
        );
        const runner = createFeatureStepRunner(data.modelSchema, fitted);
        return {
          train: runner.applyTable(data.train.table, 'training'),
          valid: runner.applyTable(data.valid.table, 'validation'),
          test: runner.applyTable(data.test.table, 'test'),
          schema: runner.schema,
          runner,
        };
      },
      (r) =>
        `${r.runner.steps.length} step(s) -> ${r.runner.steps.flatMap((x) => x.outputs.map((o) => o.name)).join(', ')}`,
    );
    return { derived };
  },
});

/** One fitted transform per feature preset the trials use, fitted on the training part only. */
export const transformsStep = defineStep({
  name: 'transforms',
  inputs: ['trials', 'derived'],
  outputs: ['features'],
  report: 'self',
  async run({ trials, derived }, ctx) {
    const features = new Map<string, FeatureMatrices>();
    for (const preset of [...new Set(trials.map((t) => t.preset))]) {
      const f = await ctx.timed(
        `features:${preset}`,
        () => {
          const spec = defaultFeatureSpec(derived.schema, { preset });
          const ft = fitTransform(spec, derived.train, derived.schema);
          return {
            ft,
            train: transformTable(ft, derived.train),
            valid: transformTable(ft, derived.valid),
            test: transformTable(ft, derived.test),
          };
        },
        (r) => `${r.ft.width} features`,
      );
      features.set(preset, f);
    }
    return { features };
  },
});
