import { InputError } from '../../errors.js';

/**
 * A hyperparameter search space: per parameter a float or integer range (optionally on a log scale) or a
 * list of choices. The samplers work in a unit cube: every dimension maps [0, 1) onto its range, so random
 * and TPE sampling share one encoding.
 */
export type Dimension =
  | { type: 'float'; low: number; high: number; log: boolean }
  | { type: 'int'; low: number; high: number; log: boolean }
  | { type: 'choice'; values: readonly (number | string | boolean | null)[] };

export type SearchSpace = Readonly<Record<string, Dimension>>;

/** The config form: `{ "float": [lo, hi], "log": true }`, `{ "int": [lo, hi] }` or `{ "choice": [...] }`. */
export type DimensionConfig =
  | { float: [number, number]; log?: boolean }
  | { int: [number, number]; log?: boolean }
  | { choice: (number | string | boolean | null)[] };

/** Parse and check a configured space; throws InputError naming the parameter. */
export function parseSearchSpace(raw: Record<string, DimensionConfig>, where: string): SearchSpace {
  const out: Record<string, Dimension> = {};
  for (const [name, d] of Object.entries(raw)) {
    const bad = (why: string) => new InputError(`${where}.${name}: ${why}`);
    if ('choice' in d) {
      if (!Array.isArray(d.choice) || d.choice.length === 0) throw bad('choice needs at least one value');
      out[name] = { type: 'choice', values: [...d.choice] };
      continue;
    }
    const type = 'float' in d ? 'float' : 'int';
    const range = 'float' in d ? d.float : d.int;
    const [low, high] = range;
    if (!(Number.isFinite(low) && Number.isFinite(high) && low <= high))
      throw bad(`expected [low, high] with low <= high`);
    if (type === 'int' && !(Number.isInteger(low) && Number.isInteger(high)))
      throw bad('int bounds must be integers');
    if (d.log && low <= 0) throw bad('a log scale needs low > 0');
    out[name] = { type, low, high, log: d.log === true };
  }
  if (Object.keys(out).length === 0) throw new InputError(`${where}: the search space is empty`);
  return out;
}

/** The parameter value at unit coordinate u in [0, 1). */
export function decode(d: Dimension, u: number): number | string | boolean | null {
  if (d.type === 'choice') return d.values[Math.min(d.values.length - 1, Math.floor(u * d.values.length))]!;
  const lo = d.log ? Math.log(d.low) : d.low;
  const hi = d.log ? Math.log(d.high + (d.type === 'int' ? 1 : 0)) : d.high + (d.type === 'int' ? 1 : 0);
  const x = lo + u * (hi - lo);
  const v = d.log ? Math.exp(x) : x;
  if (d.type === 'int') return Math.min(d.high, Math.max(d.low, Math.floor(v)));
  // Twelve significant digits: logged params and reruns read the same value.
  return Math.min(d.high, Math.max(d.low, Number(v.toPrecision(12))));
}

/** The unit coordinate of a value (the centre of its cell for integers and choices). */
export function encode(d: Dimension, v: unknown): number {
  if (d.type === 'choice') {
    const i = d.values.indexOf(v as never);
    return (Math.max(0, i) + 0.5) / d.values.length;
  }
  const n = Number(v) + (d.type === 'int' ? 0.5 : 0);
  const lo = d.log ? Math.log(d.low) : d.low;
  const hi = d.log ? Math.log(d.high + (d.type === 'int' ? 1 : 0)) : d.high + (d.type === 'int' ? 1 : 0);
  if (hi === lo) return 0.5;
  const x = d.log ? Math.log(n) : n;
  return Math.min(1 - 1e-12, Math.max(0, (x - lo) / (hi - lo)));
}
