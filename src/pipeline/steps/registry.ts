import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { loadBundle } from '../../ml/bundle.js';
import { evaluateBinary } from '../../ml/metrics.js';
import { moduleCodeName } from '../candidates.js';
import { firstBadProbability } from '../evaluate.js';
import { FINGERPRINT_TAG } from '../fingerprint.js';
import { decideGate } from '../gate.js';
import { createModelOps, PRODUCTION_ALIAS } from '../model-ops.js';
import { round6 } from './log-format.js';
import { defineStep, type ProductionScore } from './step.js';

/**
 * Re-score the current `production` version on this run's test rows, so the gate compares like with
 * like. A version that cannot be loaded or scored is recorded as an error for the gate, not thrown.
 */
export const rescoreProductionStep = defineStep({
  name: 'rescore production',
  inputs: ['data', 'extraFactories'],
  outputs: ['production'],
  report: 'self',
  async run({ data, extraFactories }, ctx) {
    const { tracking, config } = ctx;
    const before = await tracking.getVersionByAlias(config.model_name, PRODUCTION_ALIAS);
    const production: ProductionScore = { before, metrics: null, error: null };
    if (!before) return { production };
    await ctx.timed('rescore production', async () => {
      try {
        const dir = mkdtempSync(join(ctx.workDir, 'production-'));
        await tracking.downloadVersion(config.model_name, before.version, dir);
        const loaded = await loadBundle(dir, { extraFactories });
        const p = loaded.predictTable(data.test.table);
        const bad = firstBadProbability(p);
        if (bad >= 0) throw new Error(`it produced an invalid probability for test row ${bad + 1}`);
        const m = evaluateBinary(data.test.y, p, loaded.threshold ?? 0.5);
        production.metrics = {
          roc_auc: m.roc_auc,
          log_loss: m.log_loss,
          ece: m.ece,
          version: before.version,
        };
      } catch (e) {
        production.error = `production v${before.version} could not be re-scored on this test set: ${(e as Error).message}`;
      }
    });
    return { production };
  },
});

/** The quality gate's decision (gate.ts), failing it when production could not be re-scored. */
export const gateStep = defineStep({
  name: 'gate',
  inputs: ['evaluation', 'production'],
  outputs: ['gate'],
  report: 'self',
  run({ evaluation, production }, { config, promote, forcePromote }) {
    const gate = decideGate({
      challenger: evaluation.test,
      production: production.metrics,
      config: config.gate,
      promote,
      force: forcePromote,
    });
    if (production.error === null) return { gate };
    const reasons = [
      ...gate.reasons.filter((r) => !r.includes('no production version yet')),
      `FAIL: ${production.error}`,
    ];
    return {
      gate: forcePromote
        ? { ...gate, passed: false, reasons }
        : { passed: false, decision: promote ? 'reject' : 'hold', movesProduction: false, reasons },
    };
  },
});

/** Register the bundle as a new version of the model, with alias `challenger`. */
export const registerStep = defineStep({
  name: 'register',
  inputs: ['parent', 'winner', 'evaluation', 'data', 'artifacts', 'featureSteps', 'fingerprint'],
  outputs: ['registered'],
  async run(
    { parent, winner, evaluation: { test }, data, artifacts, featureSteps, fingerprint },
    { config, tracking },
  ) {
    const registered = await createModelOps(tracking).register({
      name: config.model_name,
      runId: parent.runId,
      source: `${parent.artifactUri.replace(/\/$/, '')}/model`,
      tags: {
        'tassel.prior': String(round6(artifacts.prior)),
        'tassel.model_kind': winner.kind,
        'tassel.candidate': winner.name,
        'tassel.test.roc_auc': String(round6(test.roc_auc)),
        'tassel.test.log_loss': String(round6(test.log_loss)),
        'tassel.test.ece': String(round6(test.ece)),
        'tassel.data.sha256': data.sha256[0]!,
        [FINGERPRINT_TAG]: fingerprint.digest,
        ...(winner.trial.module ? { 'tassel.code': `code/${moduleCodeName(winner.trial.module)}` } : {}),
        ...(featureSteps.length
          ? {
              'tassel.feature_steps': featureSteps
                .map((x) => `${x.name}=code/feature_steps/${x.codeName}`)
                .join(','),
            }
          : {}),
      },
      description: `${winner.name} from pipeline run ${parent.runId}`,
    });
    return { registered };
  },
  detail: ({ registered }) => `version ${registered.version}`,
});

/** Record the gate's decision and reasons on the new version and on the parent run. */
export const recordGateStep = defineStep({
  name: 'record gate',
  inputs: ['parent', 'gate', 'production', 'registered'],
  outputs: [],
  report: 'self',
  async run({ parent, gate, production, registered }, { config, tracking, reporter, forcePromote }) {
    const gateTags: Record<string, string> = {
      'tassel.gate.decision': gate.decision,
      'tassel.gate.passed': String(gate.passed),
      'tassel.gate.reasons': gate.reasons.join('\n').slice(0, 4900),
    };
    if (production.metrics) gateTags['tassel.gate.production_version'] = production.metrics.version;
    if (forcePromote) gateTags['tassel.gate.forced_reason'] = forcePromote.reason;
    for (const [k, v] of Object.entries(gateTags))
      await tracking.setVersionTag(config.model_name, registered.version, k, v);
    await tracking.logBatch(parent.runId, {
      tags: { ...gateTags, 'tassel.registered_version': registered.version },
      metrics: [{ key: 'gate_passed', value: gate.passed ? 1 : 0, step: 0 }],
    });
    for (const r of gate.reasons) reporter.info(`  gate ${r}`);
    return {};
  },
});

/** Move `production` to the new version when the gate says so (or --force-promote). */
export const promoteStep = defineStep({
  name: 'promote',
  inputs: ['parent', 'gate', 'production', 'registered'],
  outputs: ['productionVersion'],
  report: 'self',
  async run({ parent, gate, production, registered }, ctx) {
    const { config, tracking, forcePromote } = ctx;
    let productionVersion = production.before?.version ?? null;
    if (gate.movesProduction) {
      await ctx.timed('promote', () =>
        createModelOps(tracking).promote(config.model_name, registered.version, {
          reason:
            gate.decision === 'force-promote'
              ? `force-promote by pipeline run ${parent.runId}: ${forcePromote!.reason}`
              : `gate passed in pipeline run ${parent.runId}`,
        }),
      );
      productionVersion = registered.version;
    }
    ctx.reporter.info(
      `${config.model_name} v${registered.version}: ${gate.decision}; production is ${productionVersion ? `v${productionVersion}` : 'unset'}`,
    );
    return { productionVersion };
  },
});
