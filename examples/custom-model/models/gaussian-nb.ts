/**
 * An example candidate model supplied by an ML engineer, outside platform code: Gaussian naive Bayes.
 * The pipeline loads this file from the config (`{"module": "./models/gaussian-nb.ts"}`), trains, logs,
 * gates and registers it like the built-in models. It only has to implement Tassel's model interface.
 */
import type { Classifier, FitOptions, Labels, ModelFactory, ModelJSON } from '../../../src/ml/model.js';
import type { Matrix } from '../../../src/ml/matrix.js';

const KIND = 'gaussian-nb';

interface NbState {
  prior: number;
  mean: [number[], number[]];
  variance: [number[], number[]];
}

class GaussianNb implements Classifier {
  readonly kind = KIND;
  readonly params: { var_smoothing: number };
  private state: NbState | null = null;

  constructor(params: Record<string, unknown> = {}) {
    const vs = params.var_smoothing ?? 1e-9;
    if (typeof vs !== 'number' || !(vs >= 0)) throw new Error(`${KIND}: var_smoothing must be a number >= 0`);
    this.params = { var_smoothing: vs };
  }

  fit(X: Matrix, y: Labels, _options?: FitOptions): void {
    const d = X.cols;
    const sum = [new Float64Array(d), new Float64Array(d)];
    const sq = [new Float64Array(d), new Float64Array(d)];
    const cnt = [new Float64Array(d), new Float64Array(d)];
    let pos = 0;
    for (let i = 0; i < X.rows; i++) {
      const c = y[i]!;
      pos += c;
      for (let j = 0; j < d; j++) {
        const v = X.data[i * d + j]!;
        if (Number.isNaN(v)) continue;
        sum[c]![j]! += v;
        sq[c]![j]! += v * v;
        cnt[c]![j]!++;
      }
    }
    let maxVar = 0;
    const mean: [number[], number[]] = [[], []];
    const variance: [number[], number[]] = [[], []];
    for (const c of [0, 1] as const)
      for (let j = 0; j < d; j++) {
        const n = Math.max(1, cnt[c]![j]!);
        const m = sum[c]![j]! / n;
        mean[c].push(m);
        variance[c].push(Math.max(0, sq[c]![j]! / n - m * m));
        maxVar = Math.max(maxVar, variance[c][j]!);
      }
    const eps = this.params.var_smoothing * Math.max(maxVar, 1e-12);
    for (const c of [0, 1] as const) variance[c] = variance[c].map((v) => v + eps);
    this.state = { prior: pos / X.rows, mean, variance };
  }

  predictOne(row: Float64Array): number {
    const s = this.state;
    if (!s) throw new Error(`${KIND}: not fitted`);
    let logit = Math.log(s.prior / (1 - s.prior));
    for (let j = 0; j < row.length; j++) {
      const v = row[j]!;
      if (Number.isNaN(v)) continue;
      for (const c of [1, 0] as const) {
        const ll = -0.5 * Math.log(2 * Math.PI * s.variance[c][j]!) - (v - s.mean[c][j]!) ** 2 / (2 * s.variance[c][j]!);
        logit += c === 1 ? ll : -ll;
      }
    }
    // Naive Bayes is overconfident; clamp the margin so probabilities stay finite and in (0, 1).
    const z = Math.max(-30, Math.min(30, logit));
    return 1 / (1 + Math.exp(-z));
  }

  predictProba(X: Matrix): Float64Array {
    const out = new Float64Array(X.rows);
    for (let i = 0; i < X.rows; i++) out[i] = this.predictOne(X.data.subarray(i * X.cols, (i + 1) * X.cols));
    return out;
  }

  summary(): Record<string, unknown> {
    return { n_features: this.state?.mean[0].length ?? 0, prior: this.state?.prior ?? null };
  }

  toJSON(): ModelJSON {
    if (!this.state) throw new Error(`${KIND}: not fitted`);
    return { kind: KIND, format_version: 1, params: { ...this.params }, state: this.state };
  }

  static fromJSON(json: ModelJSON): GaussianNb {
    if (json.kind !== KIND || json.format_version !== 1) throw new Error(`${KIND}: cannot read ${json.kind} v${json.format_version}`);
    const m = new GaussianNb(json.params);
    m.state = json.state as NbState;
    return m;
  }
}

/** The factory the pipeline looks for (default export). */
const factory: ModelFactory = {
  kind: KIND,
  create: (params) => new GaussianNb(params),
  fromJSON: (json) => GaussianNb.fromJSON(json),
};
export default factory;

/** Standardised, imputed inputs suit a Gaussian model. */
export const featurePreset = 'linear';
