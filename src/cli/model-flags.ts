import { InvalidArgumentError } from 'commander';

/**
 * The shape of a model-specific `tassel train` flag and the parsers such flags use. Kept apart from
 * train-command.ts so per-kind flag tables (gbdt-flags.ts) depend on this file, not on the command.
 */

/** A model-specific `tassel train` flag and the model parameter it sets. */
export interface ModelFlag {
  /** Commander flag syntax, kebab-case: '--learning-rate <number>'. */
  flags: string;
  description: string;
  /** The model parameter the value goes to. */
  param: string;
  /** Parses the text (throw InvalidArgumentError for a bad value: commander exits 2 with the message). */
  parse: (value: string) => unknown;
}

/** `--c 1.0` style number option parser with bounds (exclusive lower bound when `minExclusive`). */
export function numberOption(min: number, max: number, minExclusive = false) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || (minExclusive ? n <= min : n < min) || n > max) {
      throw new InvalidArgumentError(`expected a number ${minExclusive ? '>' : '>='} ${min} and <= ${max}.`);
    }
    return n;
  };
}
