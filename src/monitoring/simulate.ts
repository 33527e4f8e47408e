import type { DatasetSchema } from '../data/schema.js';
import { createRandom } from '../data/random.js';
import { createTable } from '../data/table.js';
import { type ReferenceProfile, buildReferenceProfile } from '../pipeline/profile.js';
import type { WindowData } from './drift.js';

/**
 * A small simulated world for the monitoring property tests and bench: numeric features of several shapes
 * (normal, skewed, uniform, integer counts), categorical features, and a calibrated score
 * (outcomes drawn with the score's probability, so CBPE's assumption holds unless the concept drifts).
 */

const CATS = [
  { values: ['a', 'b', 'c'], weights: [0.5, 0.3, 0.2] },
  { values: ['mobile', 'laptop', 'tablet', 'desktop'], weights: [0.45, 0.35, 0.12, 0.08] },
  { values: ['low', 'medium', 'high'], weights: [0.2, 0.45, 0.35] },
];

/** How a simulated window departs from the reference. */
export interface Shift {
  /** Numeric feature index -> mean shift in reference standard deviations. */
  mean?: Record<number, number>;
  /** Categorical feature index -> weights replacing the reference's. */
  weights?: Record<number, number[]>;
  /** Changes P(y | x) (the score's relation to the outcome): outcomes drawn from this logit offset times x0. */
  concept?: number;
}

/** A simulated feature world with `numeric` numeric and 3 categorical features. */
export interface Simulation {
  schema: DatasetSchema;
  numericNames: string[];
  categoricalNames: string[];
  /** The reference profile of `rows` rows (with test-set scores and labels). */
  profile(rows: number, seed: number): ReferenceProfile;
  /** A window of `n` rows, optionally shifted. */
  window(n: number, seed: number, shift?: Shift): WindowData;
}

/** Creates the simulated world. */
export function createSimulation(numeric = 8): Simulation {
  const numericNames = Array.from({ length: numeric }, (_, i) => `x${i}`);
  const categoricalNames = CATS.map((_, i) => `c${i}`);
  const schema: DatasetSchema = {
    name: 'simulation',
    target: 'y',
    positiveLabel: '1',
    columns: [
      ...numericNames.map((name) => ({ name, type: 'numeric' as const, role: 'feature' as const })),
      ...categoricalNames.map((name) => ({ name, type: 'categorical' as const, role: 'feature' as const })),
      { name: 'y', type: 'categorical' as const, role: 'target' as const },
    ],
  };
  // shape of feature i: 0 normal, 1 lognormal, 2 uniform, 3 poisson-like count; std of each shape (for shifts)
  const STD = [1, Math.sqrt((Math.E - 1) * Math.E), Math.sqrt(1 / 12), 2];
  const draw = (r: ReturnType<typeof createRandom>, shape: number) => {
    if (shape === 0) return r.normal();
    if (shape === 1) return Math.exp(r.normal());
    if (shape === 2) return r.next();
    return Math.round(4 + 2 * r.normal()); // rounded: ties, as integer columns have
  };
  const generate = (n: number, seed: number, shift: Shift = {}) => {
    const r = createRandom(seed);
    const num = numericNames.map(() => new Float64Array(n));
    const cat = categoricalNames.map(() => new Array<string | null>(n));
    const scores = new Float64Array(n);
    const outcomes = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let z = -0.4;
      for (let f = 0; f < numeric; f++) {
        const shape = f % 4;
        const v = draw(r, shape) + (shift.mean?.[f] ?? 0) * STD[shape]!;
        num[f]![i] = v;
        if (f < 4)
          z +=
            (0.8 / STD[shape]!) *
            (v - (shape === 1 ? Math.exp(0.5) : shape === 2 ? 0.5 : shape === 3 ? 4 : 0));
      }
      for (let c = 0; c < CATS.length; c++) {
        const v = r.pick(CATS[c]!.values, shift.weights?.[c] ?? CATS[c]!.weights);
        cat[c]![i] = v;
        if (c === 1 && v === 'mobile') z -= 0.5;
      }
      const p = 1 / (1 + Math.exp(-z));
      scores[i] = p;
      const pTrue = shift.concept ? 1 / (1 + Math.exp(-(z - shift.concept * num[0]![i]!))) : p;
      outcomes[i] = r.next() < pTrue ? 1 : 0;
    }
    return { num, cat, scores, outcomes };
  };
  return {
    schema,
    numericNames,
    categoricalNames,
    profile(rows, seed) {
      const g = generate(rows, seed);
      const columns: Record<string, Float64Array | Array<string | null>> = {};
      numericNames.forEach((name, f) => {
        columns[name] = g.num[f]!;
      });
      categoricalNames.forEach((name, c) => {
        columns[name] = g.cat[c]!;
      });
      const test = generate(Math.max(2000, Math.floor(rows / 4)), seed + 1);
      return buildReferenceProfile(createTable(columns), schema, g.scores, {
        threshold: 0.5,
        scores: test.scores,
        labels: test.outcomes,
      });
    },
    window(n, seed, shift) {
      const g = generate(n, seed, shift);
      return {
        n,
        numeric: new Map(numericNames.map((name, f) => [name, g.num[f]!])),
        categorical: new Map(categoricalNames.map((name, c) => [name, g.cat[c]!])),
        scores: g.scores,
        outcomes: g.outcomes,
        refused: 0,
        invalid: new Map(),
      };
    },
  };
}
