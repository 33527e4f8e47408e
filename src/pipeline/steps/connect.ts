import { TasselError } from '../../errors.js';
import { TASSEL_VERSION } from '../../version.js';
import { collectProvenance } from '../provenance.js';
import { defineStep } from './step.js';

/** Reach the tracking server: find or create the experiment (fails fast, before any data is read). */
export const connectStep = defineStep({
  name: 'connect',
  inputs: [],
  outputs: ['experimentId'],
  async run(_, { tracking, config }) {
    try {
      return { experimentId: await tracking.getOrCreateExperiment(config.experiment_name) };
    } catch (e) {
      const m = (e as Error).message;
      throw new TasselError(
        e instanceof TasselError ? e.code : 'TEMPORARILY_UNAVAILABLE',
        `${m.startsWith('tracking server') ? m : `tracking server ${tracking.uri}: ${m}`}; nothing was logged or registered`,
        { cause: e },
      );
    }
  },
});

/** Open the parent run with the provenance tags every run of this pipeline run carries. */
export const parentRunStep = defineStep({
  name: 'parent run',
  inputs: ['experimentId'],
  outputs: ['parent', 'baseTags'],
  report: 'self',
  async run({ experimentId }, ctx) {
    const { config, tracking } = ctx;
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
    const parent = await ctx.startRun(experimentId, runName, { ...baseTags, 'mlflow.runName': runName });
    ctx.reporter.info(
      `parent run ${parent.runId} in experiment ${config.experiment_name} at ${tracking.uri}`,
    );
    return { parent, baseTags };
  },
});
