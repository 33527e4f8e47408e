import { InputError } from '../errors.js';

/** Small checks for model parameters: every bad value is an InputError naming the model and parameter. */

export function numberParam(
  kind: string,
  params: Record<string, unknown>,
  name: string,
  fallback: number,
  check: (v: number) => boolean,
  expected: string,
): number {
  const v = params[name];
  if (v === undefined || v === null) return fallback;
  const x = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof x !== 'number' || !Number.isFinite(x) || !check(x)) {
    throw new InputError(`${kind}: parameter ${name} must be ${expected}, got ${JSON.stringify(v)}`);
  }
  return x;
}

/** Rejects parameters a model does not know, listing the known ones. */
export function rejectUnknownParams(
  kind: string,
  params: Record<string, unknown>,
  known: readonly string[],
): void {
  for (const k of Object.keys(params)) {
    if (!known.includes(k)) {
      throw new InputError(`${kind}: unknown parameter ${k}; known parameters: ${known.join(', ')}`);
    }
  }
}
