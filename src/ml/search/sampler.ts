import { createPrng, type Prng } from '../gbdt/prng.js';
import { type Dimension, decode, encode, type SearchSpace } from './space.js';

/** A finished (or pruned) trial as a sampler sees it: its params and a score, higher is better. */
export interface Observation {
  params: Record<string, unknown>;
  /** Validation score (higher is better); pruned trials carry the score they were pruned at. */
  score: number;
}

/** Proposes the next parameter sets from the history (Optuna's "sampler"). */
export interface Sampler {
  readonly name: string;
  /** Propose `n` parameter sets from the observations so far; deterministic for a seed and history. */
  propose(history: readonly Observation[], n: number): Record<string, unknown>[];
}

function uniformPoint(space: SearchSpace, rng: Prng): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, d] of Object.entries(space)) out[k] = decode(d, rng.next());
  return out;
}

/** Independent uniform sampling over the space (random search). */
export function createRandomSampler(space: SearchSpace, seed: number): Sampler {
  const rng = createPrng(seed);
  return {
    name: 'random',
    propose: (_history, n) => Array.from({ length: n }, () => uniformPoint(space, rng)),
  };
}

export interface TpeOptions {
  /** Trials sampled uniformly before TPE takes over (Optuna: 10). */
  startupTrials?: number;
  /** Candidates drawn from l(x) per proposal, the best l/g kept (Optuna: 24). */
  candidates?: number;
}

/** Optuna's default split: the best min(ceil(0.1 n), 25) observations form the "good" density l(x). */
const goodCount = (n: number) => Math.min(Math.ceil(0.1 * n), 25);

/**
 * A Parzen estimator over one unit dimension: a Gaussian per observation (bandwidth from its neighbours, as
 * in Bergstra et al. 2011) plus a uniform prior component, truncated to [0, 1).
 */
interface Parzen {
  mus: number[];
  sigmas: number[];
}

function parzen(points: number[]): Parzen {
  const mus = [...points, 0.5].sort((a, b) => a - b);
  const sigmas = mus.map((m, i) => {
    const left = i > 0 ? m - mus[i - 1]! : m;
    const right = i < mus.length - 1 ? mus[i + 1]! - m : 1 - m;
    return Math.min(1, Math.max(Math.max(left, right), 1 / Math.min(100, 1 + mus.length)));
  });
  // the prior component is wide
  const prior = mus.indexOf(0.5);
  sigmas[prior] = 1;
  return { mus, sigmas };
}

const SQRT2 = Math.SQRT2;
function erf(x: number): number {
  // Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7), enough for density ratios.
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-a * a);
  return s * y;
}
const cdf = (x: number, mu: number, s: number) => 0.5 * (1 + erf((x - mu) / (s * SQRT2)));

function logDensity(p: Parzen, x: number): number {
  let sum = 0;
  for (let i = 0; i < p.mus.length; i++) {
    const mu = p.mus[i]!;
    const s = p.sigmas[i]!;
    const mass = cdf(1, mu, s) - cdf(0, mu, s);
    sum += Math.exp(-0.5 * ((x - mu) / s) ** 2) / (s * Math.sqrt(2 * Math.PI) * Math.max(mass, 1e-12));
  }
  return Math.log(sum / p.mus.length + 1e-300);
}

function sampleParzen(p: Parzen, rng: Prng): number {
  const i = rng.int(p.mus.length);
  for (let tries = 0; tries < 100; tries++) {
    // Box-Muller; rejection keeps the draw inside [0, 1)
    const z = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    const x = p.mus[i]! + p.sigmas[i]! * z;
    if (x >= 0 && x < 1) return x;
  }
  return rng.next();
}

function tpeDimension(d: Dimension, good: number[], bad: number[], rng: Prng, candidates: number): number {
  const l = parzen(good);
  const g = parzen(bad);
  let best = sampleParzen(l, rng);
  let bestRatio = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < candidates; c++) {
    const u = c === 0 ? best : sampleParzen(l, rng);
    // integer and choice dimensions are compared at their cell centres
    const x = d.type === 'float' ? u : encode(d, decode(d, u));
    const ratio = logDensity(l, x) - logDensity(g, x);
    if (ratio > bestRatio) {
      bestRatio = ratio;
      best = u;
    }
  }
  return best;
}

/**
 * Tree-structured Parzen Estimator (Bergstra et al. 2011; Optuna's default sampler, independent per
 * parameter): after `startupTrials` uniform draws, each parameter is drawn where the density of the good
 * trials l(x) is high relative to the rest g(x). Proposals in one batch share the history, so a batch of n
 * is n draws from the same densities.
 */
export function createTpeSampler(space: SearchSpace, seed: number, options: TpeOptions = {}): Sampler {
  const rng = createPrng(seed);
  const startup = options.startupTrials ?? 10;
  const candidates = options.candidates ?? 24;
  return {
    name: 'tpe',
    propose(history, n) {
      const out: Record<string, unknown>[] = [];
      for (let k = 0; k < n; k++) {
        if (history.length < startup) {
          out.push(uniformPoint(space, rng));
          continue;
        }
        const key = (o: Observation) => (Number.isFinite(o.score) ? o.score : Number.NEGATIVE_INFINITY);
        // stable sort: ties keep trial order, so proposals are a function of the history alone
        const ranked = [...history].sort((a, b) => (key(b) > key(a) ? 1 : key(b) < key(a) ? -1 : 0));
        const nGood = goodCount(ranked.length);
        const point: Record<string, unknown> = {};
        for (const [name, d] of Object.entries(space)) {
          const enc = (o: Observation) => encode(d, o.params[name]);
          const good = ranked.slice(0, nGood).map(enc);
          const bad = ranked.slice(nGood).map(enc);
          point[name] = decode(d, tpeDimension(d, good, bad, rng, candidates));
        }
        out.push(point);
      }
      return out;
    },
  };
}
