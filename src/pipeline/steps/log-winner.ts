import { flatParams, metricPoints, round6 } from './log-format.js';
import { defineStep } from './step.js';

/** Log the winner's params and metrics on the parent run and upload the artifacts folder. */
export const logWinnerStep = defineStep({
  name: 'log',
  inputs: ['parent', 'winner', 'threshold', 'evaluation', 'artifacts'],
  outputs: [],
  async run({ parent, winner, threshold, evaluation, artifacts }, { tracking }) {
    await tracking.logBatch(parent.runId, {
      params: {
        winner: winner.name,
        winner_kind: winner.kind,
        threshold: String(round6(threshold)),
        ...flatParams('winner.', winner.params),
      },
      metrics: [
        ...metricPoints('test', evaluation.test),
        ...metricPoints('valid', winner.valid),
        ...metricPoints('train', winner.train),
      ],
      tags: { 'tassel.winner_run_id': winner.runId, 'tassel.bundle.digest': artifacts.identity.digest },
    });
    await tracking.uploadArtifacts(parent.runId, artifacts.dir, '');
    return {};
  },
});
