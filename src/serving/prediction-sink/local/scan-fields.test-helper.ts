import type { ColumnField } from '../port.js';

/**
 * Fields of the scanner tests, rebuilt from plain data (the recipe a worker thread of a columnar read imports):
 * `a` any number, `n` an integer in [0, 100], `c` text (upper-cased when `upper`: a test sees which thread read a row).
 */
export function scanTestFields(args: { nullableN: boolean; upper?: boolean }): ColumnField[] {
  const check = (v: number) => (Number.isInteger(v) && v >= 0 && v <= 100 ? v : undefined);
  const number = (v: unknown) =>
    v === undefined || v === null ? Number.NaN : typeof v === 'number' ? v : undefined;
  return [
    {
      name: 'a',
      numeric: true,
      nullable: true,
      parse: (v) => {
        const x = number(v);
        return x === undefined || Number.isFinite(x) || Number.isNaN(x) ? x : undefined;
      },
      parseNumber: (v) => (Number.isFinite(v) ? v : undefined),
      numberRange: { min: Number.NEGATIVE_INFINITY, max: Number.POSITIVE_INFINITY, integer: false },
    },
    {
      name: 'n',
      numeric: true,
      nullable: args.nullableN,
      parse: (v) => {
        const x = number(v);
        return x === undefined || Number.isNaN(x) ? x : check(x);
      },
      parseNumber: check,
      numberRange: { min: 0, max: 100, integer: true },
    },
    {
      name: 'c',
      numeric: false,
      nullable: true,
      parse: (v) => (v === undefined || v === null ? null : args.upper ? String(v).toUpperCase() : String(v)),
    },
  ];
}
