import { InputError } from '../../errors.js';
import { type FlatTree, TreeEnsemble } from './ensemble.js';
import { GbdtClassifier, gbdtFromState } from './gbdt-classifier.js';

/**
 * The average of several fitted GBDTs as one GBDT: every member's trees with their leaf values divided by the
 * member count, and the mean of the base margins, so its margin is the mean of the members' margins (the
 * log-odds average of a bagged ensemble). It is an ordinary `gbdt` model: the bundle, serving, TreeSHAP and
 * the XGBoost-compatible JSON need nothing new. The params are the first member's (the best one, by the
 * caller's convention). Throws InputError when the members do not score the same feature columns.
 */
export function averageGbdt(members: readonly GbdtClassifier[]): GbdtClassifier {
  if (members.length === 0) throw new InputError('averageGbdt: no models to average');
  const first = members[0]!;
  const e0 = first.ensemble;
  const names = first.toJSON().feature_names as string[] | null;
  const k = members.length;
  const trees: FlatTree[] = [];
  let base = 0;
  let rounds = 0;
  for (const [i, m] of members.entries()) {
    if (!(m instanceof GbdtClassifier)) throw new InputError(`averageGbdt: member ${i} is not a gbdt model`);
    const e = m.ensemble;
    if (e.nFeatures !== e0.nFeatures)
      throw new InputError(`averageGbdt: member ${i} has ${e.nFeatures} features, member 0 ${e0.nFeatures}`);
    if (e.precision !== e0.precision)
      throw new InputError(`averageGbdt: member ${i} has ${e.precision} precision, member 0 ${e0.precision}`);
    base += e.baseMargin / k;
    rounds += m.summary().rounds_run as number;
    for (const t of e.trees) trees.push({ ...t, value: t.value.map((v) => v / k) });
  }
  return gbdtFromState(first.params, {
    ensemble: new TreeEnsemble(trees, base, e0.nFeatures, e0.precision),
    featureNames: names ? [...names] : null,
    bestIteration: trees.length - 1,
    roundsRun: rounds,
    origin: { source: 'tassel' },
  });
}
