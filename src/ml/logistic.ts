import { InputError, TasselError } from '../errors.js';
import type { Matrix } from './matrix.js';
import type { Classifier, FitOptions, Labels, ModelFactory, ModelJSON } from './model.js';
import { numberParam, rejectUnknownParams } from './params.js';

/** Class weights: 'balanced' (n / (2 n_k), as scikit-learn) or explicit weights per label. */
export type ClassWeight = 'balanced' | { '0': number; '1': number } | null;

export type LogisticParams = {
  /** Inverse regularization strength, as scikit-learn: minimise 0.5 ||w||^2 + C * sum(weight * logloss). */
  C: number;
  classWeight: ClassWeight;
  /** Newton iterations (each solves the exact quadratic model with a Cholesky factorization); L-BFGS gets 20 times as many. */
  maxIter: number;
  /** Stop when the largest gradient entry is below tol * max(1, C * sum of row weights). */
  tol: number;
  fitIntercept: boolean;
  /** 'newton' (exact Hessian + Cholesky), 'lbfgs' (limited memory, for very wide inputs) or 'auto' (newton up to 2,000 features). */
  solver: 'auto' | 'newton' | 'lbfgs';
};

const KIND = 'logistic';
const FORMAT_VERSION = 1;
const KNOWN = ['C', 'classWeight', 'maxIter', 'tol', 'fitIntercept', 'solver'] as const;
/** Above this many coefficients 'auto' uses L-BFGS (the Newton Hessian grows with the square). */
const NEWTON_MAX_DIM = 2000;

function parseClassWeight(v: unknown): ClassWeight {
  if (v === undefined || v === null || v === 'none') return null;
  if (v === 'balanced') return 'balanced';
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const w0 = Number(o['0']);
    const w1 = Number(o['1']);
    if (Number.isFinite(w0) && Number.isFinite(w1) && w0 > 0 && w1 > 0 && Object.keys(o).length === 2) {
      return { '0': w0, '1': w1 };
    }
  }
  throw new InputError(
    `logistic: parameter classWeight must be "balanced", null or {"0": w0, "1": w1} with positive weights, got ${JSON.stringify(v)}`,
  );
}

function parseSolver(v: unknown): LogisticParams['solver'] {
  if (v === undefined || v === null) return 'auto';
  if (v === 'auto' || v === 'newton' || v === 'lbfgs') return v;
  throw new InputError(
    `logistic: parameter solver must be "auto", "newton" or "lbfgs", got ${JSON.stringify(v)}`,
  );
}

/** Parses and checks logistic parameters (InputError naming the bad one). */
export function logisticParams(params: Record<string, unknown> = {}): LogisticParams {
  rejectUnknownParams(KIND, params, KNOWN);
  const fitIntercept = params.fitIntercept ?? true;
  if (typeof fitIntercept !== 'boolean')
    throw new InputError('logistic: parameter fitIntercept must be a boolean');
  return {
    C: numberParam(KIND, params, 'C', 1, (v) => v > 0, 'a number > 0'),
    classWeight: parseClassWeight(params.classWeight),
    maxIter: numberParam(
      KIND,
      params,
      'maxIter',
      100,
      (v) => Number.isInteger(v) && v >= 1,
      'an integer >= 1',
    ),
    tol: numberParam(KIND, params, 'tol', 1e-10, (v) => v > 0, 'a number > 0'),
    fitIntercept,
    solver: parseSolver(params.solver),
  };
}

/** The rows of a matrix as compressed sparse rows (one-hot and hashed blocks are mostly zeros). */
interface SparseRows {
  indptr: Uint32Array;
  /** Compact column indices: only columns with a nonzero somewhere take part in the fit. */
  indices: Uint32Array;
  values: Float64Array;
  /** Original column of each compact index (ascending). */
  activeCols: Uint32Array;
}

function toSparseRows(X: Matrix): SparseRows {
  let nnz = 0;
  const d = X.data;
  for (let k = 0; k < d.length; k++) {
    const v = d[k]!;
    if (Number.isNaN(v)) {
      const i = Math.floor(k / X.cols);
      throw new InputError(
        `logistic: feature ${k - i * X.cols} of row ${i + 1} is missing (NaN); logistic regression needs imputed features (the linear feature preset)`,
      );
    }
    if (v !== 0) nnz++;
  }
  // An all-zero column has gradient w_j and Hessian 1 under L2, so its optimal weight is exactly 0: leave it
  // out (hashed blocks are mostly empty columns).
  const used = new Uint8Array(X.cols);
  for (let k = 0; k < d.length; k++) if (d[k] !== 0) used[k % X.cols] = 1;
  const compact = new Int32Array(X.cols).fill(-1);
  const active: number[] = [];
  for (let j = 0; j < X.cols; j++) {
    if (used[j]) {
      compact[j] = active.length;
      active.push(j);
    }
  }
  const indptr = new Uint32Array(X.rows + 1);
  const indices = new Uint32Array(nnz);
  const values = new Float64Array(nnz);
  let at = 0;
  for (let i = 0; i < X.rows; i++) {
    const base = i * X.cols;
    for (let j = 0; j < X.cols; j++) {
      const v = d[base + j]!;
      if (v !== 0) {
        indices[at] = compact[j]!;
        values[at++] = v;
      }
    }
    indptr[i + 1] = at;
  }
  return { indptr, indices, values, activeCols: Uint32Array.from(active) };
}

/** log(1 + exp(z)) without overflow. */
const softplus = (z: number): number => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** In-place Cholesky of a symmetric positive definite n x n matrix (lower triangle); false if not PD. */
function cholesky(a: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let s = a[rj + j]!;
    for (let k = 0; k < j; k++) s -= a[rj + k]! * a[rj + k]!;
    if (!(s > 0)) return false;
    const ljj = Math.sqrt(s);
    a[rj + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let t = a[ri + j]!;
      for (let k = 0; k < j; k++) t -= a[ri + k]! * a[rj + k]!;
      a[ri + j] = t / ljj;
    }
  }
  return true;
}

/** Solves L L^T x = b in place given the Cholesky factor from {@link cholesky}. */
function choleskySolve(l: Float64Array, n: number, b: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    const ri = i * n;
    for (let k = 0; k < i; k++) s -= l[ri + k]! * b[k]!;
    b[i] = s / l[ri + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i]!;
    for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * b[k]!;
    b[i] = s / l[i * n + i]!;
  }
}

/** Minimises a smooth convex function by L-BFGS (10 pairs) with a backtracking Armijo line search; updates x in place. */
function lbfgs(
  x: Float64Array,
  f0: number,
  z: Float64Array,
  o: {
    dim: number;
    maxIter: number;
    gradTol: number;
    margins: (b: Float64Array, out: Float64Array) => void;
    objective: (b: Float64Array, zz: Float64Array) => number;
    gradient: (zz: Float64Array, b: Float64Array, g: Float64Array) => void;
    onIteration: (iteration: number, f: number, gmax: number) => void;
  },
): { iterations: number; converged: boolean } {
  const { dim } = o;
  const m = 10;
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const alpha = new Float64Array(m);
  const g = new Float64Array(dim);
  const gNew = new Float64Array(dim);
  const d = new Float64Array(dim);
  const xNew = new Float64Array(dim);
  const zNew = new Float64Array(z.length);
  let f = f0;
  o.gradient(z, x, g);
  const dot = (a: Float64Array, b: Float64Array) => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += a[j]! * b[j]!;
    return s;
  };
  const maxAbs = (a: Float64Array) => {
    let s = 0;
    for (let j = 0; j < dim; j++) s = Math.max(s, Math.abs(a[j]!));
    return s;
  };
  for (let it = 0; it < o.maxIter; it++) {
    const gmax = maxAbs(g);
    if (gmax <= o.gradTol) return { iterations: it, converged: true };
    // two-loop recursion: d = -H g
    for (let j = 0; j < dim; j++) d[j] = -g[j]!;
    for (let k = S.length - 1; k >= 0; k--) {
      alpha[k] = rho[k]! * dot(S[k]!, d);
      const yk = Y[k]!;
      for (let j = 0; j < dim; j++) d[j] -= alpha[k]! * yk[j]!;
    }
    if (S.length > 0) {
      const last = S.length - 1;
      const gamma = dot(S[last]!, Y[last]!) / dot(Y[last]!, Y[last]!);
      for (let j = 0; j < dim; j++) d[j] *= gamma;
    }
    for (let k = 0; k < S.length; k++) {
      const beta = rho[k]! * dot(Y[k]!, d);
      const sk = S[k]!;
      for (let j = 0; j < dim; j++) d[j] += (alpha[k]! - beta) * sk[j]!;
    }
    let slope = dot(g, d);
    if (!(slope < 0)) {
      for (let j = 0; j < dim; j++) d[j] = -g[j]!;
      slope = dot(g, d);
      S.length = 0;
      Y.length = 0;
      rho.length = 0;
    }
    let t = S.length === 0 ? Math.min(1, 1 / Math.max(gmax, 1e-12)) : 1;
    let fNew = Number.POSITIVE_INFINITY;
    let accepted = false;
    for (let ls = 0; ls < 60; ls++) {
      for (let j = 0; j < dim; j++) xNew[j] = x[j]! + t * d[j]!;
      o.margins(xNew, zNew);
      fNew = o.objective(xNew, zNew);
      if (fNew <= f + 1e-4 * t * slope) {
        accepted = true;
        break;
      }
      t *= 0.5;
    }
    if (!accepted) return { iterations: it, converged: true }; // no further decrease representable
    o.gradient(zNew, xNew, gNew);
    const s = new Float64Array(dim);
    const yv = new Float64Array(dim);
    for (let j = 0; j < dim; j++) {
      s[j] = xNew[j]! - x[j]!;
      yv[j] = gNew[j]! - g[j]!;
    }
    const sy = dot(s, yv);
    if (sy > 1e-12 * dot(yv, yv)) {
      if (S.length === m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(yv);
      rho.push(1 / sy);
    }
    const decrease = f - fNew;
    x.set(xNew);
    z.set(zNew);
    g.set(gNew);
    f = fNew;
    o.onIteration(it + 1, f, gmax);
    if (decrease <= 1e-15 * Math.max(1, Math.abs(f))) return { iterations: it + 1, converged: true };
  }
  return { iterations: o.maxIter, converged: maxAbs(g) <= o.gradTol };
}

/**
 * L2-regularized logistic regression with scikit-learn's objective (C scales the data term; the intercept
 * is not penalised), fitted by Newton's method: each step solves the exact Hessian system by Cholesky, with
 * a backtracking line search. Features are walked as sparse rows, so one-hot and hashed blocks cost little.
 */
export class LogisticRegression implements Classifier {
  readonly kind = KIND;
  readonly params: LogisticParams;
  coef: Float64Array = new Float64Array(0);
  intercept = 0;
  nIter = 0;
  converged = false;
  /** Names of the fitted features (from FitOptions.featureNames), for importances. */
  featureNames: string[] | null = null;
  private fitted = false;

  constructor(params: Record<string, unknown> = {}) {
    this.params = logisticParams(params);
  }

  fit(X: Matrix, y: Labels, options: FitOptions = {}): void {
    const n = X.rows;
    const pFull = X.cols;
    if (n === 0) throw new InputError('logistic: cannot fit on zero rows');
    if (y.length !== n) throw new InputError(`logistic: ${y.length} labels for ${n} rows`);
    const { C, maxIter, tol, fitIntercept, classWeight } = this.params;
    const sp = toSparseRows(X);
    const p = sp.activeCols.length;
    const { indptr, indices, values } = sp;
    const scatter = (b: Float64Array): Float64Array => {
      const coef = new Float64Array(pFull);
      for (let k = 0; k < p; k++) coef[sp.activeCols[k]!] = b[k]!;
      return coef;
    };

    // Per-row weight = sample weight * class weight * C (C folded in once).
    const weight = new Float64Array(n);
    let n1 = 0;
    for (let i = 0; i < n; i++) n1 += y[i]!;
    const n0 = n - n1;
    let cw0 = 1;
    let cw1 = 1;
    if (classWeight === 'balanced') {
      cw0 = n0 > 0 ? n / (2 * n0) : 1;
      cw1 = n1 > 0 ? n / (2 * n1) : 1;
    } else if (classWeight) {
      cw0 = classWeight['0'];
      cw1 = classWeight['1'];
    }
    const sw = options.sampleWeight;
    if (sw && sw.length !== n) throw new InputError(`logistic: ${sw.length} sample weights for ${n} rows`);
    for (let i = 0; i < n; i++) weight[i] = C * (sw ? sw[i]! : 1) * (y[i] ? cw1 : cw0);

    const dim = p + (fitIntercept ? 1 : 0);
    const beta = new Float64Array(dim); // coef then intercept
    const z = new Float64Array(n);
    const grad = new Float64Array(dim);
    const step = new Float64Array(dim);
    const trial = new Float64Array(dim);
    const zTrial = new Float64Array(n);

    const margins = (b: Float64Array, out: Float64Array) => {
      const b0 = fitIntercept ? b[p]! : 0;
      for (let i = 0; i < n; i++) {
        let s = b0;
        for (let k = indptr[i]!; k < indptr[i + 1]!; k++) s += values[k]! * b[indices[k]!]!;
        out[i] = s;
      }
    };
    const objective = (b: Float64Array, zz: Float64Array): number => {
      let f = 0;
      for (let j = 0; j < p; j++) f += 0.5 * b[j]! * b[j]!;
      for (let i = 0; i < n; i++) f += weight[i]! * (softplus(zz[i]!) - (y[i] ? zz[i]! : 0));
      return f;
    };

    let totalWeight = 0;
    let positiveWeight = 0;
    for (let i = 0; i < n; i++) {
      totalWeight += weight[i]!;
      if (y[i]) positiveWeight += weight[i]!;
    }
    // start at the weighted log-odds: saves a Newton step
    if (fitIntercept && positiveWeight > 0 && positiveWeight < totalWeight) {
      beta[p] = Math.log(positiveWeight / (totalWeight - positiveWeight));
    }
    margins(beta, z);
    let f = objective(beta, z);
    const gradTol = tol * Math.max(1, totalWeight);
    this.converged = false;
    let iter = 0;
    const solver =
      this.params.solver === 'auto' ? (dim > NEWTON_MAX_DIM ? 'lbfgs' : 'newton') : this.params.solver;
    if (solver === 'lbfgs') {
      const gradient = (zz: Float64Array, b: Float64Array, g: Float64Array) => {
        g.fill(0);
        for (let j = 0; j < p; j++) g[j] = b[j]!;
        for (let i = 0; i < n; i++) {
          const r = weight[i]! * (sigmoid(zz[i]!) - y[i]!);
          for (let k = indptr[i]!; k < indptr[i + 1]!; k++) g[indices[k]!] += r * values[k]!;
          if (fitIntercept) g[p] += r;
        }
      };
      const r = lbfgs(beta, f, z, {
        dim,
        maxIter: maxIter * 20,
        gradTol,
        margins,
        objective,
        gradient,
        onIteration: (it, fx, gmax) =>
          options.onIteration?.({
            iteration: it,
            total: maxIter * 20,
            metrics: { objective: fx, max_gradient: gmax },
          }),
      });
      this.nIter = r.iterations;
      this.converged = r.converged;
      this.coef = scatter(beta);
      this.featureNames = options.featureNames?.length === pFull ? [...options.featureNames] : null;
      this.intercept = fitIntercept ? beta[p]! : 0;
      this.fitted = true;
      return;
    }
    const hess = new Float64Array(dim * dim);
    for (; iter < maxIter; iter++) {
      // gradient and Hessian (lower triangle) of the objective
      grad.fill(0);
      hess.fill(0);
      for (let j = 0; j < p; j++) {
        grad[j] = beta[j]!;
        hess[j * dim + j] = 1;
      }
      for (let i = 0; i < n; i++) {
        const pi = sigmoid(z[i]!);
        const r = weight[i]! * (pi - y[i]!);
        const h = weight[i]! * pi * (1 - pi);
        const start = indptr[i]!;
        const end = indptr[i + 1]!;
        for (let a = start; a < end; a++) {
          const ja = indices[a]!;
          const va = values[a]!;
          grad[ja] += r * va;
          const hva = h * va;
          const row = ja * dim;
          for (let b = start; b <= a; b++) hess[row + indices[b]!] += hva * values[b]!;
          if (fitIntercept) hess[p * dim + ja] += hva;
        }
        if (fitIntercept) {
          grad[p] += r;
          hess[p * dim + p] += h;
        }
      }
      let gmax = 0;
      for (let j = 0; j < dim; j++) gmax = Math.max(gmax, Math.abs(grad[j]!));
      if (gmax <= gradTol) {
        this.converged = true;
        break;
      }
      // Sparse rows visit pairs with b <= a in index order, so only the lower triangle is filled. Mirror it.
      for (let i = 0; i < dim; i++) for (let j = i + 1; j < dim; j++) hess[i * dim + j] = hess[j * dim + i]!;
      if (!cholesky(hess, dim)) {
        // only possible with a degenerate intercept direction (e.g. all weights zero): add a ridge
        for (let j = 0; j < dim; j++) hess[j * dim + j] += 1e-8;
        if (!cholesky(hess, dim))
          throw new TasselError('INTERNAL_ERROR', 'logistic: Hessian is not positive definite');
      }
      step.set(grad);
      choleskySolve(hess, dim, step);
      let slope = 0;
      for (let j = 0; j < dim; j++) slope -= grad[j]! * step[j]!;
      let t = 1;
      let accepted = false;
      if (-slope <= 1e-12 * Math.max(1, Math.abs(f))) {
        // Near the optimum the objective cannot resolve the decrease: take the full Newton step.
        for (let j = 0; j < dim; j++) beta[j] = beta[j]! - step[j]!;
        margins(beta, z);
        f = objective(beta, z);
        options.onIteration?.({
          iteration: iter + 1,
          total: maxIter,
          metrics: { objective: f, max_gradient: gmax },
        });
        continue;
      }
      for (let ls = 0; ls < 50; ls++) {
        for (let j = 0; j < dim; j++) trial[j] = beta[j]! - t * step[j]!;
        margins(trial, zTrial);
        const fTrial = objective(trial, zTrial);
        if (fTrial <= f + 1e-4 * t * slope || fTrial <= f) {
          beta.set(trial);
          z.set(zTrial);
          f = fTrial;
          accepted = true;
          break;
        }
        t *= 0.5;
      }
      options.onIteration?.({
        iteration: iter + 1,
        total: maxIter,
        metrics: { objective: f, max_gradient: gmax },
      });
      if (!accepted) {
        // no decrease along a descent direction: we are at the optimum to machine precision
        this.converged = true;
        iter++;
        break;
      }
    }
    this.nIter = iter;
    this.coef = scatter(beta);
    this.featureNames = options.featureNames?.length === pFull ? [...options.featureNames] : null;
    this.intercept = fitIntercept ? beta[p]! : 0;
    this.fitted = true;
  }

  private check(cols: number): void {
    if (!this.fitted) throw new TasselError('INVALID_STATE', 'logistic: predict before fit');
    if (cols !== this.coef.length) {
      throw new InputError(`logistic: expected ${this.coef.length} features, got ${cols}`);
    }
  }

  predictProba(X: Matrix): Float64Array {
    this.check(X.cols);
    const out = new Float64Array(X.rows);
    const w = this.coef;
    const p = X.cols;
    const d = X.data;
    for (let i = 0; i < X.rows; i++) {
      let s = this.intercept;
      const base = i * p;
      for (let j = 0; j < p; j++) s += w[j]! * d[base + j]!;
      out[i] = sigmoid(s);
    }
    return out;
  }

  predictOne(row: Float64Array): number {
    const w = this.coef;
    let s = this.intercept;
    for (let j = 0; j < w.length; j++) s += w[j]! * row[j]!;
    return sigmoid(s);
  }

  /**
   * Fit facts, plus `importances`: |coefficient| per feature name (largest first). On standardized and one-hot
   * features that is the change in log-odds per standard deviation / for the category.
   */
  summary(): Record<string, unknown> {
    const names = this.featureNames ?? Array.from(this.coef, (_, j) => `f${j}`);
    const order = Array.from(this.coef, (_, j) => j).sort(
      (a, b) => Math.abs(this.coef[b]!) - Math.abs(this.coef[a]!),
    );
    const importances: Record<string, number> = {};
    for (const j of order) importances[names[j] ?? `f${j}`] = Math.abs(this.coef[j]!);
    return {
      n_iter: this.nIter,
      converged: this.converged,
      n_features: this.coef.length,
      intercept: this.intercept,
      importances,
    };
  }

  toJSON(): ModelJSON {
    return {
      kind: KIND,
      format_version: FORMAT_VERSION,
      params: { ...this.params },
      coef: Array.from(this.coef),
      intercept: this.intercept,
      n_iter: this.nIter,
      converged: this.converged,
      ...(this.featureNames ? { feature_names: [...this.featureNames] } : {}),
    };
  }

  /** Restores fitted state (used by fromJSON). */
  setState(coef: Float64Array, intercept: number, nIter = 0, converged = true): void {
    this.coef = coef;
    this.intercept = intercept;
    this.nIter = nIter;
    this.converged = converged;
    this.fitted = true;
  }
}

/** The logistic model kind. */
export const logisticModel: ModelFactory = {
  kind: KIND,
  create: (params = {}) => new LogisticRegression(params),
  fromJSON(json: ModelJSON): Classifier {
    if (Math.floor(json.format_version) > FORMAT_VERSION) {
      throw new TasselError(
        'INVALID_PARAMETER_VALUE',
        `logistic model format ${json.format_version} is newer than this Tassel (supports ${FORMAT_VERSION}.x)`,
      );
    }
    const coef = json.coef;
    if (
      !Array.isArray(coef) ||
      !coef.every((v) => typeof v === 'number') ||
      typeof json.intercept !== 'number'
    ) {
      throw new TasselError(
        'DATA_LOSS',
        'logistic model JSON: coef must be an array of numbers and intercept a number',
      );
    }
    const m = new LogisticRegression(json.params ?? {});
    m.setState(
      Float64Array.from(coef as number[]),
      json.intercept,
      typeof json.n_iter === 'number' ? json.n_iter : 0,
      json.converged !== false,
    );
    if (Array.isArray(json.feature_names) && json.feature_names.length === coef.length) {
      m.featureNames = (json.feature_names as unknown[]).map(String);
    }
    return m;
  },
};
