import { InputError } from '../errors.js';
import { createRandom } from './random.js';
import type { Table } from './table.js';
import { isNumericData } from './table.js';

/** Row indices of a train/test (or fit/validation) split, each ascending. */
export interface Split {
  train: Uint32Array;
  test: Uint32Array;
}

/**
 * Deterministic stratified split: within each class, a seeded shuffle puts round(n_class * testFraction) rows
 * in the test part, so both parts keep the class balance. Same y and seed -> same split.
 */
export function stratifiedSplit(y: Uint8Array, options: { testFraction: number; seed: number }): Split {
  const { testFraction, seed } = options;
  if (!(testFraction > 0 && testFraction < 1))
    throw new InputError(`test fraction must be in (0, 1), got ${testFraction}`);
  const rnd = createRandom(seed);
  const isTest = new Uint8Array(y.length);
  for (const cls of [0, 1]) {
    const idx: number[] = [];
    for (let i = 0; i < y.length; i++) if (y[i] === cls) idx.push(i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = rnd.int(i + 1);
      const t = idx[i]!;
      idx[i] = idx[j]!;
      idx[j] = t;
    }
    const nTest = Math.round(idx.length * testFraction);
    for (let k = 0; k < nTest; k++) isTest[idx[k]!] = 1;
  }
  return partition(isTest);
}

function partition(mask: Uint8Array): Split {
  let nTest = 0;
  for (let i = 0; i < mask.length; i++) nTest += mask[i]!;
  const train = new Uint32Array(mask.length - nTest);
  const test = new Uint32Array(nTest);
  let a = 0;
  let b = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]) test[b++] = i;
    else train[a++] = i;
  }
  return { train, test };
}

/**
 * A 0/1 mask from a table column such as OULAD's `is_val` (1 = validation row). Throws InputError when the
 * column is absent or holds anything but 0 and 1 (missing included).
 */
export function validationMask(table: Table, column: string): Uint8Array {
  const col = table.columns[column];
  if (!col) throw new InputError(`validation column ${JSON.stringify(column)} is not in the table`);
  const mask = new Uint8Array(table.nRows);
  for (let i = 0; i < table.nRows; i++) {
    const v = isNumericData(col) ? col[i] : col[i] === null ? Number.NaN : Number(col[i]);
    if (v !== 0 && v !== 1) {
      throw new InputError(
        `validation column ${column}: row ${i + 1} holds ${String(col[i])}, expected 0 or 1`,
      );
    }
    mask[i] = v;
  }
  return mask;
}

/** Splits rows by a 0/1 column: `train` = rows with 0, `test` = rows with 1 (e.g. the early-stopping slice). */
export function splitByColumn(table: Table, column: string): Split {
  return partition(validationMask(table, column));
}
