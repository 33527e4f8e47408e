import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { parse } from 'csv-parse';
import { InputError } from '../errors.js';
import type { SchemaOptions } from './builtin-schemas.js';
import { createCsvSplitter } from './csv-split.js';
import { resolveSchema } from './builtin-schemas.js';
import type { ColumnType, DatasetSchema } from './schema.js';
import { isRequiredInput, targetColumn } from './schema.js';
import type { Table } from './table.js';
import type { ValidationIssue, ValidationPolicy } from './validate.js';
import { DataValidationError, createRowCoercer } from './validate.js';

/** How to read and validate a CSV file. Give `schema`, or `target` + `positive` (types are then inferred). */
export interface ReadOptions {
  /** A schema, or 'builtin:course-completion'. */
  schema?: DatasetSchema | 'builtin:course-completion';
  /** Target column (for an inferred schema). */
  target?: string;
  /** Positive label; with a schema it overrides the schema's positiveLabel (it must be one of its allowed values). */
  positive?: string;
  /** Columns to leave out (role 'ignore'); with a given schema too. Names absent from the file are fine. */
  ignore?: string[];
  /** Identifier columns (role 'id'); with a given schema too. */
  ids?: string[];
  /** Declared column types (inferred schema only: with a schema this is an InputError). */
  types?: Record<string, ColumnType>;
  /** Default 'fail': any issue throws DataValidationError. */
  policy?: ValidationPolicy;
  /** Issues kept (and listed in errors); default 50. */
  maxIssues?: number;
  /** Whether the target column must be present and valid; default true. */
  requireTarget?: boolean;
  /** Rows used to infer column types; default 2000. */
  sampleRows?: number;
  /** CSV parser: 'fast' (default, the built-in splitter) or 'csv-parse' (the reference implementation). */
  parser?: 'fast' | 'csv-parse';
}

/** A read, validated table. */
export interface ReadResult {
  table: Table;
  schema: DatasetSchema;
  /** 1 = positive, 0 = negative; null when requireTarget is false and the file has no target column. */
  y: Uint8Array | null;
  /** Issues found (up to maxIssues); empty under policy 'fail' (which throws instead). */
  issues: ValidationIssue[];
  /** Total number of issues (may exceed issues.length). */
  issueCount: number;
  droppedRows: number;
  /** Data rows in the file (header not counted), kept or not. */
  rows: number;
  /** sha256 of the file's bytes, hex. */
  sha256: string;
  /** Header columns the schema does not know; they are not read. */
  ignoredColumns: string[];
  /** For every table row, the 0-based data row of the file it came from. */
  sourceRows: Uint32Array;
}

/** Rows the file probably holds, from its size and the sample's average row length (sizes columns once). */
function estimateRows(fileBytes: number, header: string[], sample: string[][]): number {
  const rows = sample.length ? sample : [header];
  let chars = 0;
  for (const r of rows) for (const c of r) chars += c.length + 1;
  return Math.ceil((fileBytes / Math.max(chars / rows.length, 1)) * 1.02) + 16;
}

async function openCheck(path: string): Promise<number> {
  try {
    const st = await fsp.stat(path);
    if (st.isDirectory()) throw new InputError(`${path}: is a directory, expected a CSV file`);
    return st.size;
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`${path}: file not found`);
    throw new InputError(`${path}: cannot read (${code ?? String(e)})`);
  }
}

/** Applies ReadOptions.positive to a given schema, checking it against the target's allowed values. */
function withPositive(schema: DatasetSchema, positive: string | undefined, path: string): DatasetSchema {
  if (positive === undefined || positive === schema.positiveLabel) return schema;
  const target = targetColumn(schema);
  if (target.allowed && !target.allowed.includes(positive)) {
    throw new InputError(
      `${path}: unknown positive label ${JSON.stringify(positive)} for target column ${schema.target}; its values are ${target.allowed.map((v) => JSON.stringify(v)).join(', ')}`,
    );
  }
  const others = target.allowed?.filter((v) => v !== positive);
  return { ...schema, positiveLabel: positive, negativeLabel: others?.length === 1 ? others[0] : undefined };
}

/** A schema copy with the listed columns' roles changed (the target cannot be ignored or made an id). */
function withRoles(schema: DatasetSchema, ignore: string[] = [], ids: string[] = []): DatasetSchema {
  if (!ignore.length && !ids.length) return schema;
  const clash = [...ignore, ...ids].find((c) => c === schema.target);
  if (clash) throw new InputError(`${clash} is the target column; it cannot be ignored or an identifier`);
  const drop = new Set(ignore);
  const id = new Set(ids);
  return {
    ...schema,
    columns: schema.columns.map((c) =>
      drop.has(c.name) ? { ...c, role: 'ignore' } : id.has(c.name) ? { ...c, type: 'id', role: 'id' } : c,
    ),
  };
}

/**
 * Streams a CSV file (csv-parse: quoted fields, BOM, CRLF) into a typed columnar table, validating every cell
 * against the schema. Throws InputError for a missing/empty file, a missing target or feature column, a positive
 * label that never occurs, and DataValidationError (an InputError) for cell issues under policy 'fail'.
 */
export async function readCsvTable(path: string, options: ReadOptions = {}): Promise<ReadResult> {
  const fileBytes = await openCheck(path);
  const requireTarget = options.requireTarget ?? true;
  const sampleSize = options.sampleRows ?? 2000;
  const hash = createHash('sha256');

  let header: string[] | null = null;
  let schema: DatasetSchema | null = null;
  let coercer: ReturnType<typeof createRowCoercer> | null = null;
  const sample: string[][] = [];
  let rows = 0;
  let ignoredColumns: string[] = [];

  const setup = () => {
    const h = header!;
    if (options.schema !== undefined) {
      const base = typeof options.schema === 'string' ? resolveSchema(options.schema, h) : options.schema;
      if (options.types && Object.keys(options.types).length) {
        throw new InputError(`column types cannot be declared for schema ${base.name}; it fixes them`);
      }
      schema = withRoles(withPositive(base, options.positive, path), options.ignore, options.ids);
    } else if (options.target !== undefined && options.positive !== undefined) {
      const so: SchemaOptions = { target: options.target, positive: options.positive };
      if (options.ignore) so.ignore = options.ignore;
      if (options.ids) so.ids = options.ids;
      if (options.types) so.types = options.types;
      try {
        schema = resolveSchema(so, h, sample);
      } catch (e) {
        if (e instanceof InputError) throw new InputError(`${path}: ${e.message}`);
        throw e;
      }
    } else if (options.target !== undefined || options.positive !== undefined) {
      throw new InputError(
        'give both a target column and a positive label (--target COL --positive VALUE), or a schema',
      );
    } else {
      throw new InputError(
        'no schema: give --schema builtin:course-completion or --target COL --positive VALUE',
      );
    }
    const s = schema!;
    const inHeader = new Set(h);
    if (!inHeader.has(s.target) && requireTarget) {
      throw new InputError(
        `${path}: missing target column ${JSON.stringify(s.target)} in the header (line 1); columns found: ${h.join(', ')}`,
      );
    }
    // Optional features and identifiers may be left out (as MLflow's optional signature columns); a
    // required feature may not.
    const missing = s.columns.filter((c) => isRequiredInput(c) && !inHeader.has(c.name));
    if (missing.length) {
      throw new InputError(
        `${path}: the header (line 1) lacks column${missing.length > 1 ? 's' : ''} ${missing.map((c) => c.name).join(', ')} required by schema ${s.name}`,
      );
    }
    const known = new Set(s.columns.map((c) => c.name));
    ignoredColumns = h.filter((n) => !known.has(n));
    const readSchema = inHeader.has(s.target)
      ? s
      : { ...s, columns: s.columns.filter((c) => c.name !== s.target) };
    coercer = createRowCoercer(
      readSchema,
      {
        policy: options.policy ?? 'fail',
        requireTarget: requireTarget && inHeader.has(s.target),
        maxIssues: options.maxIssues ?? 50,
        expectedRows: estimateRows(fileBytes, h, sample),
      },
      h,
    );
    for (const r of sample) feed(r);
    sample.length = 0;
  };

  const feed = (record: string[]) => {
    if (record.length !== header!.length) {
      coercer!.rowIssue('*', `${record.length} fields`, `${header!.length} fields as in the header`);
    }
    coercer!.addCells(record);
  };

  const onRecord = (record: string[]) => {
    if (header === null) {
      header = record.map((s) => s.trim());
      const dup = header.find((n, i) => header!.indexOf(n) !== i);
      if (dup !== undefined)
        throw new InputError(`${path}: column ${JSON.stringify(dup)} appears twice in the header`);
      return;
    }
    rows++;
    if (coercer) feed(record);
    else {
      sample.push(record.slice());
      if (sample.length >= sampleSize) setup();
    }
  };

  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    if ((options.parser ?? 'fast') === 'fast') {
      const onFields = (text: string, bounds: Int32Array, count: number) => {
        if (!coercer) {
          const cells: string[] = new Array(count);
          for (let k = 0; k < count; k++) cells[k] = text.slice(bounds[2 * k]!, bounds[2 * k + 1]!);
          onRecord(cells);
          return;
        }
        rows++;
        if (count !== header!.length) {
          coercer.rowIssue('*', `${count} fields`, `${header!.length} fields as in the header`);
        }
        coercer.addFields(text, bounds, count);
      };
      const splitter = createCsvSplitter(onRecord, path, onFields);
      const decoder = new StringDecoder('utf8');
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hash.update(chunk);
        splitter.push(decoder.write(chunk));
      }
      splitter.push(decoder.end());
      splitter.end();
    } else {
      const parser = parse({ bom: true, relax_column_count: true, skip_empty_lines: true });
      stream.on('data', (chunk) => hash.update(chunk));
      stream.on('error', (e) => parser.destroy(e));
      stream.pipe(parser);
      for await (const record of parser as AsyncIterable<string[]>) onRecord(record);
    }
  } catch (e) {
    stream.destroy();
    if (e instanceof InputError) throw e;
    const err = e as { code?: string; message?: string };
    if (err.code === 'ENOENT') throw new InputError(`${path}: file not found`);
    if (typeof err.code === 'string' && err.code.startsWith('CSV_')) {
      throw new InputError(`${path}: malformed CSV: ${err.message}`);
    }
    throw e;
  }
  if (header === null) throw new InputError(`${path}: the file is empty (no header row, no data)`);
  if (rows === 0) throw new InputError(`${path}: the file is empty: a header but no data rows`);
  if (!coercer) setup();
  const result = (coercer as unknown as ReturnType<typeof createRowCoercer>).finish();
  const s = schema as unknown as DatasetSchema;
  if ((options.policy ?? 'fail') === 'fail' && result.issueCount > 0) {
    throw new DataValidationError(path, result.issues, result.issueCount);
  }
  if (result.y && requireTarget && result.table.nRows > 0) {
    let positives = 0;
    for (let i = 0; i < result.y.length; i++) positives += result.y[i]!;
    if (positives === 0) {
      const col = result.table.columns[s.target] as (string | null)[];
      const seen = [...new Set(col.slice(0, 10_000))].filter((v) => v !== null).slice(0, 10);
      throw new InputError(
        `${path}: unknown positive label ${JSON.stringify(s.positiveLabel)}: it never occurs in target column ${s.target} (values seen: ${seen.map((v) => JSON.stringify(v)).join(', ')})`,
      );
    }
  }
  return {
    table: result.table,
    schema: s,
    y: result.y,
    issues: result.issues,
    issueCount: result.issueCount,
    droppedRows: result.droppedRows,
    rows,
    sha256: hash.digest('hex'),
    ignoredColumns,
    sourceRows: result.sourceRows,
  };
}
