import type { PipelineConfig } from '../pipeline/config.js';
import type { PipelineReporter } from '../pipeline/reporter.js';
import { runPipeline } from '../pipeline/runner.js';
import type { PipelineTracking } from '../pipeline/tracking-port.js';
import { InputError } from '../errors.js';
import type { RetrainOutcome } from './monitor.js';

/**
 * The retrain action: the pipeline (through its public entry point) on the monitoring section's fresh data,
 * with the recent labelled data as the held-out set when configured, so the gate compares the challenger with
 * production on recent outcomes. Promotion is the gate's decision; serving follows the production alias.
 */
export function createRetrainAction(
  config: PipelineConfig,
  tracking: PipelineTracking,
  reporter?: PipelineReporter,
): (reason: string) => Promise<RetrainOutcome> {
  const fresh = config.monitoring?.fresh_data;
  if (!fresh) throw new InputError('pipeline config: monitoring.fresh_data.path is needed to retrain');
  return async (reason) => {
    const retrainConfig: PipelineConfig = {
      ...config,
      data: { ...config.data, path: fresh.path, test_data: fresh.test_data ?? config.data.test_data },
      run_name: `retrain-${new Date().toISOString().replace(/[:.]/g, '-')}`,
    };
    if (fresh.test_data === undefined && config.data.test_data === undefined)
      delete retrainConfig.data.test_data;
    reporter?.info(`retraining: ${reason}`);
    const r = await runPipeline({ config: retrainConfig, tracking, ...(reporter ? { reporter } : {}) });
    return {
      runId: r.runId,
      version: r.version,
      decision: r.gate.decision,
      promoted: r.gate.movesProduction,
      productionVersion: r.productionVersion,
    };
  };
}
