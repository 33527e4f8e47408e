import { PRODUCTION_ALIAS } from '../model-ops.js';
import {
  collectCodeVersion,
  computeFingerprint,
  FINGERPRINT_TAG,
  type RunFingerprint,
  unchangedProduction,
} from '../fingerprint.js';
import { modelRelevantConfig } from './bundle.js';
import { defineStep } from './step.js';

declare module './step.js' {
  interface PipelineState {
    /** What this run is made of (data, config, code); tagged on the run and the registered version. */
    fingerprint: RunFingerprint;
  }
}

/**
 * Thrown by the fingerprint step when the production version was built from the same data, config and
 * code (and `gate.on_unchanged` is `skip`): training would only register the same model again. The runner
 * ends the parent run FINISHED (tagged `tassel.unchanged_since`) and rethrows it; the CLI says so and exits 0.
 */
export class UnchangedSinceProduction extends Error {
  constructor(
    readonly modelName: string,
    readonly version: string,
    readonly runId: string,
  ) {
    super(
      `${modelName}: unchanged since version ${version} in production (same data, config and code): nothing trained or registered`,
    );
    this.name = 'UnchangedSinceProduction';
  }
}

/**
 * The run's fingerprint ({@link computeFingerprint}) from the data digests, the config that determines the
 * model and the code (Tassel's git state and the user's modules), compared with the production version's
 * `tassel.fingerprint` tag before anything is trained.
 */
export const fingerprintStep = defineStep({
  name: 'fingerprint',
  inputs: ['parent', 'data', 'trials', 'featureSteps'],
  outputs: ['fingerprint'],
  report: 'self',
  async run({ parent, data, trials, featureSteps }, { config, tracking, reporter }) {
    const modules = [
      ...new Set(trials.map((t) => t.module).filter((m): m is string => typeof m === 'string')),
    ];
    const fingerprint = computeFingerprint({
      dataSha256: data.sha256,
      config: modelRelevantConfig(config, featureSteps),
      code: collectCodeVersion(modules),
    });
    await tracking.logBatch(parent.runId, { tags: { [FINGERPRINT_TAG]: fingerprint.digest } });
    const production = await tracking.getVersionByAlias(config.model_name, PRODUCTION_ALIAS);
    const same = unchangedProduction(fingerprint, production);
    if (same && config.gate.on_unchanged === 'skip') {
      await tracking.logBatch(parent.runId, { tags: { 'tassel.unchanged_since': same.version } });
      throw new UnchangedSinceProduction(config.model_name, same.version, parent.runId);
    }
    if (same)
      reporter.info(
        `unchanged since v${same.version} (same data, config and code); gate.on_unchanged is record: training anyway`,
      );
    return { fingerprint };
  },
});
