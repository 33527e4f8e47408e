import type { Matrix } from '../matrix.js';

/**
 * One regression tree in flat arrays, node 0 the root. A node with feature -1 is a leaf.
 * Internal node: x = row[feature]; NaN goes to defaultLeft ? left : right, else x < threshold ? left : right.
 */
export interface FlatTree {
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  defaultLeft: Uint8Array;
  /** Leaf output (learning rate already applied); 0 on internal nodes. */
  value: Float64Array;
  /** Loss reduction of the split (0 on leaves), for gain importance. */
  gain: Float64Array;
  /** Hessian sum of the rows reaching the node, for cover importance. */
  cover: Float64Array;
}

/** Float32 semantics reproduce XGBoost's own arithmetic: inputs, thresholds and the running sum in float32. */
export type Precision = 'float64' | 'float32';

const fround = Math.fround;

/**
 * A fitted tree ensemble flattened into one set of typed arrays (children as absolute indices),
 * shared by Tassel-trained and XGBoost-imported models. Scoring allocates nothing per row.
 */
export class TreeEnsemble {
  readonly nFeatures: number;
  /** Initial margin (log-odds) every prediction starts from. */
  readonly baseMargin: number;
  readonly precision: Precision;
  readonly trees: readonly FlatTree[];
  private readonly roots: Int32Array;
  private readonly feature: Int32Array;
  private readonly threshold: Float64Array;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly defaultLeft: Uint8Array;
  private readonly value: Float64Array;

  constructor(
    trees: readonly FlatTree[],
    baseMargin: number,
    nFeatures: number,
    precision: Precision = 'float64',
  ) {
    this.trees = trees;
    this.nFeatures = nFeatures;
    this.precision = precision;
    this.baseMargin = precision === 'float32' ? fround(baseMargin) : baseMargin;
    let total = 0;
    for (const t of trees) total += t.feature.length;
    this.roots = new Int32Array(trees.length);
    this.feature = new Int32Array(total);
    this.threshold = new Float64Array(total);
    this.left = new Int32Array(total);
    this.right = new Int32Array(total);
    this.defaultLeft = new Uint8Array(total);
    this.value = new Float64Array(total);
    let at = 0;
    trees.forEach((t, k) => {
      this.roots[k] = at;
      const n = t.feature.length;
      for (let i = 0; i < n; i++) {
        const f = t.feature[i]!;
        if (f >= nFeatures) throw new Error(`tree ${k} node ${i}: feature ${f} >= ${nFeatures} features`);
        this.feature[at + i] = f;
        this.threshold[at + i] = precision === 'float32' ? fround(t.threshold[i]!) : t.threshold[i]!;
        if (f >= 0) {
          const l = t.left[i]!;
          const r = t.right[i]!;
          if (l <= i || r <= i || l >= n || r >= n)
            throw new Error(`tree ${k} node ${i}: bad children ${l}, ${r}`);
          this.left[at + i] = at + l;
          this.right[at + i] = at + r;
        } else {
          this.left[at + i] = -1;
          this.right[at + i] = -1;
        }
        this.defaultLeft[at + i] = t.defaultLeft[i]!;
        this.value[at + i] = precision === 'float32' ? fround(t.value[i]!) : t.value[i]!;
      }
      at += n;
    });
  }

  get nTrees(): number {
    return this.trees.length;
  }

  /** The first n trees as a new ensemble (e.g. up to the best iteration). */
  truncate(n: number): TreeEnsemble {
    return new TreeEnsemble(this.trees.slice(0, n), this.baseMargin, this.nFeatures, this.precision);
  }

  /** Raw margin (log-odds) of one row, reading `row[offset + j]` for feature j. */
  marginOf(row: ArrayLike<number>, offset = 0): number {
    const { roots, feature, threshold, left, right, defaultLeft, value } = this;
    const nt = roots.length;
    if (this.precision === 'float32') {
      let sum = this.baseMargin;
      for (let t = 0; t < nt; t++) {
        let n = roots[t]!;
        let f = feature[n]!;
        while (f >= 0) {
          const x = row[offset + f]!;
          n = Number.isNaN(x)
            ? defaultLeft[n]
              ? left[n]!
              : right[n]!
            : fround(x) < threshold[n]!
              ? left[n]!
              : right[n]!;
          f = feature[n]!;
        }
        sum = fround(sum + value[n]!);
      }
      return sum;
    }
    let sum = this.baseMargin;
    for (let t = 0; t < nt; t++) {
      let n = roots[t]!;
      let f = feature[n]!;
      while (f >= 0) {
        const x = row[offset + f]!;
        n = Number.isNaN(x)
          ? defaultLeft[n]
            ? left[n]!
            : right[n]!
          : x < threshold[n]!
            ? left[n]!
            : right[n]!;
        f = feature[n]!;
      }
      sum += value[n]!;
    }
    return sum;
  }

  /** Raw margins of every row of X, into `out` when given. */
  predictMargin(X: Matrix, out: Float64Array = new Float64Array(X.rows)): Float64Array {
    if (X.cols !== this.nFeatures) throw new Error(`model expects ${this.nFeatures} features, got ${X.cols}`);
    const { data, cols } = X;
    for (let i = 0; i < X.rows; i++) out[i] = this.marginOf(data, i * cols);
    return out;
  }

  /** P(y=1) of every row of X. */
  predictProba(X: Matrix): Float64Array {
    const out = this.predictMargin(X);
    for (let i = 0; i < out.length; i++) out[i] = sigmoid(out[i]!);
    return out;
  }
}

/** The logistic function, stable for large |z|. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}
