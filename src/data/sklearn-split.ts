import { InputError } from '../errors.js';

/**
 * scikit-learn's `train_test_split(..., stratify=y, random_state=seed)` reproduced exactly, so splits made here
 * select the same rows as the Python reference (../shared/anchors: test = 20 %, seed 42; validation slice =
 * 10 % of train, seed 42). It replays numpy's legacy `RandomState` (MT19937 seeded with init_genrand, bounded
 * integers by masked rejection, Fisher-Yates shuffles) and `StratifiedShuffleSplit._iter_indices`
 * (scikit-learn 1.2, `_approximate_mode` included).
 */

/** numpy.random.RandomState(seed), the parts train_test_split uses. */
export interface NumpyRandomState {
  /** next 32-bit output of MT19937 */
  uint32(): number;
  /** `random_interval(max)`: uniform integer in [0, max] by masked rejection (max < 2^32). */
  interval(max: number): number;
  /** `rng.permutation(n)` */
  permutation(n: number): Int32Array;
  /** `rng.shuffle(arr)` for a 1-d array */
  shuffle(arr: Int32Array): void;
}

/** numpy's legacy RandomState(seed) for an integer seed in [0, 2^32). */
export function createNumpyRandomState(seed: number): NumpyRandomState {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new InputError(`seed must be in [0, 2^32), got ${seed}`);
  const N = 624;
  const M = 397;
  const mt = new Uint32Array(N);
  mt[0] = seed >>> 0;
  for (let i = 1; i < N; i++) {
    const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
    // 1812433253 * prev + i, mod 2^32, without losing precision
    mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
  }
  let pos = N;
  const generate = () => {
    for (let k = 0; k < N; k++) {
      const y = (mt[k]! & 0x80000000) | (mt[(k + 1) % N]! & 0x7fffffff);
      mt[k] = mt[(k + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    pos = 0;
  };
  const uint32 = () => {
    if (pos >= N) generate();
    let y = mt[pos++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  };
  const interval = (max: number) => {
    if (max === 0) return 0;
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let v: number;
    do v = (uint32() & mask) >>> 0;
    while (v > max);
    return v;
  };
  const shuffle = (arr: Int32Array) => {
    for (let i = arr.length - 1; i >= 1; i--) {
      const j = interval(i);
      const t = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = t;
    }
  };
  return {
    uint32,
    interval,
    shuffle,
    permutation(n) {
      const a = new Int32Array(n);
      for (let i = 0; i < n; i++) a[i] = i;
      shuffle(a);
      return a;
    },
  };
}

/** sklearn.utils.extmath._approximate_mode */
function approximateMode(classCounts: number[], nDraws: number, rng: NumpyRandomState): number[] {
  let total = 0;
  for (const c of classCounts) total += c;
  const continuous = classCounts.map((c) => (c / total) * nDraws);
  const floored = continuous.map(Math.floor);
  let needToAdd = Math.trunc(nDraws - floored.reduce((a, b) => a + b, 0));
  if (needToAdd > 0) {
    const remainder = continuous.map((c, i) => c - floored[i]!);
    const values = [...new Set(remainder)].sort((a, b) => b - a);
    for (const value of values) {
      const inds = remainder.flatMap((r, i) => (r === value ? [i] : []));
      const addNow = Math.min(inds.length, needToAdd);
      // rng.choice(inds, size=addNow, replace=False) is permutation(len(inds))[:addNow] in legacy numpy
      const perm = rng.permutation(inds.length);
      for (let k = 0; k < addNow; k++) floored[inds[perm[k]!]!]! += 1;
      needToAdd -= addNow;
      if (needToAdd === 0) break;
    }
  }
  return floored;
}

/**
 * `train_test_split(arange(len(y)), test_size=testSize, stratify=y, random_state=seed)`: train and test
 * positions in scikit-learn's (shuffled) order. Labels are 0/1.
 */
export function sklearnStratifiedSplit(
  y: ArrayLike<number>,
  options: { testSize: number; seed: number },
): { train: Int32Array; test: Int32Array } {
  const n = y.length;
  const { testSize, seed } = options;
  if (!(testSize > 0 && testSize < 1)) throw new InputError(`test size must be in (0, 1), got ${testSize}`);
  const nTest = Math.ceil(testSize * n);
  const nTrain = n - nTest;
  if (nTrain <= 0 || nTest <= 0) throw new InputError(`cannot split ${n} rows with test size ${testSize}`);
  const classes = [...new Set(Array.from(y))].sort((a, b) => a - b);
  const classIndices = classes.map((c) => {
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (y[i] === c) idx.push(i);
    return idx;
  });
  const classCounts = classIndices.map((a) => a.length);
  if (classCounts.some((c) => c < 2))
    throw new InputError('every class needs at least 2 rows for a stratified split');
  const rng = createNumpyRandomState(seed);
  const nI = approximateMode(classCounts, nTrain, rng);
  const tI = approximateMode(
    classCounts.map((c, i) => c - nI[i]!),
    nTest,
    rng,
  );
  const train: number[] = [];
  const test: number[] = [];
  classes.forEach((_, i) => {
    const perm = rng.permutation(classCounts[i]!);
    const members = classIndices[i]!;
    for (let k = 0; k < nI[i]!; k++) train.push(members[perm[k]!]!);
    for (let k = nI[i]!; k < nI[i]! + tI[i]!; k++) test.push(members[perm[k]!]!);
  });
  const trainArr = Int32Array.from(train);
  const testArr = Int32Array.from(test);
  rng.shuffle(trainArr);
  rng.shuffle(testArr);
  return { train: trainArr, test: testArr };
}

/**
 * The Python reference's split of a modelling table (anchors' train.py): a stratified 80/20 train/test split
 * (seed 42), then `is_val` = a stratified 10 % of the train rows (seed 42). Returns ascending row positions.
 */
export function anchorsSplit(
  y: ArrayLike<number>,
  options: { testSize?: number; valSize?: number; seed?: number } = {},
): { train: Int32Array; test: Int32Array; isVal: Uint8Array } {
  const seed = options.seed ?? 42;
  const first = sklearnStratifiedSplit(y, { testSize: options.testSize ?? 0.2, seed });
  const train = first.train.slice().sort();
  const test = first.test.slice().sort();
  const yTrain = Array.from(train, (i) => y[i]!);
  const second = sklearnStratifiedSplit(yTrain, { testSize: options.valSize ?? 0.1, seed });
  const isVal = new Uint8Array(y.length);
  for (const k of second.test) isVal[train[k]!] = 1;
  return { train, test, isVal };
}
