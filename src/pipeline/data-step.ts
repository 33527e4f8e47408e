import { resolveSchema } from '../data/builtin-schemas.js';
import { readCsvTable } from '../data/read-csv.js';
import type { ColumnType, DatasetSchema } from '../data/schema.js';
import { stratifiedSplit, validationMask } from '../data/split.js';
import { type Table, takeRows } from '../data/table.js';
import { InputError } from '../errors.js';
import type { PipelineConfig } from './config.js';

/** One part of the data: rows and their 0/1 labels. */
export interface DataPart {
  table: Table;
  y: Uint8Array;
}

/** What the ingest, validate and split steps produce. */
export interface PreparedData {
  /** The schema the data was read with (the validation column, if any, is an id column here). */
  schema: DatasetSchema;
  /** The schema stored with the model: the validation column is ignored, never asked of callers. */
  modelSchema: DatasetSchema;
  train: DataPart;
  valid: DataPart;
  test: DataPart;
  /** sha256 of data.path (and of test_data when given), in that order. */
  sha256: string[];
  /** Data rows in data.path (and test_data), as read. */
  rows: number[];
  droppedRows: number;
  /** Where each part came from, for the run's params. */
  splitDescription: string;
}

function withValidColumn(schema: DatasetSchema, column: string): DatasetSchema {
  if (schema.columns.some((c) => c.name === column)) {
    return {
      ...schema,
      columns: schema.columns.map((c) =>
        c.name === column ? { ...c, type: 'id' as const, role: 'id' as const } : c,
      ),
    };
  }
  return {
    ...schema,
    columns: [...schema.columns, { name: column, type: 'id', role: 'id', nullable: false }],
  };
}

function labelsOf(y: Uint8Array, idx: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(idx.length);
  for (let i = 0; i < idx.length; i++) out[i] = y[idx[i]!]!;
  return out;
}

function countClasses(y: Uint8Array): [number, number] {
  let pos = 0;
  for (let i = 0; i < y.length; i++) pos += y[i]!;
  return [y.length - pos, pos];
}

/**
 * Ingest (read + validate data.path and test_data against one schema) and split into train, validation
 * and test parts, deterministically for a seed. Throws InputError for missing/invalid data, a validation
 * column that is not 0/1, or a part left without both classes.
 */
export async function prepareData(config: PipelineConfig): Promise<PreparedData> {
  const d = config.data;
  const policy = d.invalid_rows;
  const validColumn = d.valid_column;
  let schema: DatasetSchema;
  let main: Awaited<ReturnType<typeof readCsvTable>>;
  if (d.schema !== undefined) {
    let base = resolveSchema(d.schema, []);
    const unknown = [...d.ignore, ...d.ids].filter((n) => !base.columns.some((c) => c.name === n));
    if (unknown.length)
      throw new InputError(`data.ignore/ids: schema ${base.name} has no column(s) ${unknown.join(', ')}`);
    const ignore = new Set(d.ignore);
    if (ignore.has(base.target)) throw new InputError(`data.ignore: ${base.target} is the target`);
    base = {
      ...base,
      columns: base.columns.map((c) =>
        ignore.has(c.name)
          ? { ...c, role: 'ignore' as const }
          : d.ids.includes(c.name)
            ? { ...c, type: 'id' as const, role: 'id' as const }
            : c,
      ),
    };
    if (validColumn) base = withValidColumn(base, validColumn);
    main = await readCsvTable(d.path, { schema: base, policy });
    schema = main.schema;
  } else {
    const ids = [...d.ids];
    if (validColumn && !ids.includes(validColumn)) ids.push(validColumn);
    main = await readCsvTable(d.path, {
      target: d.target!,
      positive: d.positive!,
      ignore: d.ignore,
      ids,
      types: d.types as Record<string, ColumnType>,
      policy,
    });
    schema = main.schema;
  }
  if (!main.y) throw new InputError(`${d.path}: no target column ${schema.target}`);
  const sha256 = [main.sha256];
  const rows = [main.rows];
  let droppedRows = main.droppedRows;

  // The model never sees the validation column, and a test file need not have it.
  const modelSchema: DatasetSchema = validColumn
    ? {
        ...schema,
        columns: schema.columns.map((c) => (c.name === validColumn ? { ...c, role: 'ignore' as const } : c)),
      }
    : schema;

  let trainPool: DataPart;
  let test: DataPart;
  let splitDescription: string;
  if (d.test_data !== undefined) {
    const t = await readCsvTable(d.test_data, { schema: modelSchema, policy });
    if (!t.y) throw new InputError(`${d.test_data}: no target column ${schema.target}`);
    sha256.push(t.sha256);
    rows.push(t.rows);
    droppedRows += t.droppedRows;
    trainPool = { table: main.table, y: main.y };
    test = { table: t.table, y: t.y };
    splitDescription = 'test = test_data';
  } else {
    const s = stratifiedSplit(main.y, { testFraction: d.test_fraction, seed: config.seed });
    trainPool = { table: takeRows(main.table, s.train), y: labelsOf(main.y, s.train) };
    test = { table: takeRows(main.table, s.test), y: labelsOf(main.y, s.test) };
    splitDescription = `test = stratified ${d.test_fraction} of data (seed ${config.seed})`;
  }

  let train: DataPart;
  let valid: DataPart;
  if (validColumn) {
    const mask = validationMask(trainPool.table, validColumn);
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < mask.length; i++) (mask[i] ? b : a).push(i);
    train = { table: takeRows(trainPool.table, a), y: labelsOf(trainPool.y, a) };
    valid = { table: takeRows(trainPool.table, b), y: labelsOf(trainPool.y, b) };
    splitDescription += `; validation = rows with ${validColumn}=1`;
  } else {
    // A different stream from the test split's, so the two splits are independent.
    const s = stratifiedSplit(trainPool.y, { testFraction: d.valid_fraction, seed: config.seed + 1 });
    train = { table: takeRows(trainPool.table, s.train), y: labelsOf(trainPool.y, s.train) };
    valid = { table: takeRows(trainPool.table, s.test), y: labelsOf(trainPool.y, s.test) };
    splitDescription += `; validation = stratified ${d.valid_fraction} of the rest (seed ${config.seed + 1})`;
  }
  for (const [name, part] of [
    ['training', train],
    ['validation', valid],
    ['test', test],
  ] as const) {
    const [neg, pos] = countClasses(part.y);
    if (neg === 0 || pos === 0)
      throw new InputError(
        `the ${name} set has ${part.y.length} rows with ${pos} positive and ${neg} negative: both classes are needed ` +
          `(positive label ${JSON.stringify(schema.positiveLabel)} of column ${schema.target})`,
      );
  }
  return { schema, modelSchema, train, valid, test, sha256, rows, droppedRows, splitDescription };
}
