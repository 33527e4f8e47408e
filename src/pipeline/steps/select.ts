import { TasselError } from '../../errors.js';
import { chooseThreshold, evaluateBinary } from '../../ml/metrics.js';
import { firstBadProbability } from '../evaluate.js';
import { defineStep } from './step.js';

/** Pick the winner on the validation rows (ties: the earlier trial) and its threshold, also on validation. */
export const selectStep = defineStep({
  name: 'select',
  inputs: ['results', 'features', 'data'],
  outputs: ['winner', 'threshold'],
  report: 'self',
  run({ results, features, data }, { config }) {
    let winner = results[0]!;
    for (const r of results) if (r.selectionScore > winner.selectionScore) winner = r;
    const pValid = winner.model.predictProba(features.get(winner.trial.preset)!.valid);
    return { winner, threshold: chooseThreshold(data.valid.y, pValid, config.threshold) };
  },
});

/** The winner on the test rows, which took no part in training, selection or the threshold. */
export const evaluateStep = defineStep({
  name: 'evaluate',
  inputs: ['winner', 'features', 'data', 'threshold'],
  outputs: ['evaluation'],
  run({ winner, features, data, threshold }) {
    const p = winner.model.predictProba(features.get(winner.trial.preset)!.test);
    const bad = firstBadProbability(p);
    if (bad >= 0)
      throw new TasselError(
        'INVALID_STATE',
        `winner ${winner.name} produced an invalid probability (${p[bad]}) for test row ${bad + 1}`,
      );
    return { evaluation: { p, test: evaluateBinary(data.test.y, p, threshold) } };
  },
  detail: ({ evaluation: { test } }) =>
    `test roc_auc ${test.roc_auc.toFixed(4)}, log_loss ${test.log_loss.toFixed(4)}, ece ${test.ece.toFixed(4)}`,
});
