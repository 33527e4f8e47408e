import type { ColumnSpec, DatasetSchema } from '../data/schema.js';
import type { ColumnData, RawRecord, Table } from '../data/table.js';
import { compileSchema } from '../data/validate.js';
import { InputError } from '../errors.js';

/**
 * Feature steps: user-supplied code (a module referenced from the pipeline config) that derives or overwrites
 * columns of each record before the fitted feature transform. A step may learn state from the training rows
 * (`fit`, JSON state stored in the model bundle) and maps one record at a time (`transform`), so training,
 * evaluation, `tassel predict` and serving run exactly the same code on exactly the same values.
 */

/** A value a step reads: numbers, strings (categories, ids, dates as `YYYY-MM-DD`), booleans, or null = missing. */
export type FeatureValue = number | string | boolean | null;

/**
 * One record as a step sees it: every feature and id column of the input schema (numeric/integer: number,
 * boolean: true/false, date: `YYYY-MM-DD`, categorical/id: string; missing: null), plus the outputs of the
 * steps before it. Never the target.
 */
export type FeatureRecord = Readonly<Record<string, FeatureValue>>;

/** A column a step writes: a new one, or an existing feature column it overwrites. */
export interface FeatureStepOutput {
  name: string;
  /** numeric: number or null (NaN = missing); categorical: string or null. */
  kind: 'numeric' | 'categorical';
}

/** What `fit` gets besides the training rows. */
export interface FeatureStepFitContext<P = Record<string, unknown>> {
  params: P;
  /** The 0/1 labels of the training rows, in row order (e.g. for target encoding). */
  labels: ArrayLike<number>;
  /** The pipeline's seed. */
  seed: number;
}

/** What `transform` gets besides the record. */
export interface FeatureStepContext<S = unknown, P = Record<string, unknown>> {
  params: P;
  /** What `fit` returned, after a JSON round trip (exactly what the bundle stores); null without `fit`. */
  state: S;
}

/**
 * The interface a feature step module exports (as `default`, as `featureStep`, or as its only such export).
 * Keep the module self-contained (imports of node built-ins and installed packages only; `import type` is
 * fine): its file alone is copied into the model bundle.
 */
export interface FeatureStep<S = unknown, P = Record<string, unknown>> {
  /** The columns `transform` returns, or a function of the params giving them. */
  outputs: readonly FeatureStepOutput[] | ((params: P) => readonly FeatureStepOutput[]);
  /** Learns state from the training split only; must return JSON-serialisable data. */
  fit?(rows: readonly FeatureRecord[], context: FeatureStepFitContext<P>): S | Promise<S>;
  /** Returns a value for every declared output of this record (null = missing), and nothing else. */
  transform(row: FeatureRecord, context: FeatureStepContext<S, P>): Record<string, number | string | null>;
}

/** A step ready to run: its code, params and fitted state. */
export interface FittedFeatureStep {
  name: string;
  step: FeatureStep;
  params: Record<string, unknown>;
  state: unknown;
  outputs: FeatureStepOutput[];
}

/** Whether a module export looks like a {@link FeatureStep}. */
export const isFeatureStep = (x: unknown): x is FeatureStep =>
  !!x &&
  typeof x === 'object' &&
  typeof (x as FeatureStep).transform === 'function' &&
  (Array.isArray((x as FeatureStep).outputs) || typeof (x as FeatureStep).outputs === 'function');

const OUTPUT_KINDS = new Set(['numeric', 'categorical']);

/** The declared outputs of a step for its params, checked; throws InputError naming the step. */
export function resolveStepOutputs(
  name: string,
  step: FeatureStep,
  params: Record<string, unknown>,
): FeatureStepOutput[] {
  let declared: unknown;
  try {
    declared = typeof step.outputs === 'function' ? step.outputs(params) : step.outputs;
  } catch (e) {
    throw new InputError(`feature step "${name}": outputs(params) threw: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (!Array.isArray(declared) || declared.length === 0)
    throw new InputError(`feature step "${name}": outputs must be a non-empty array of {name, kind}`);
  const seen = new Set<string>();
  return declared.map((o: unknown, i) => {
    const out = o as FeatureStepOutput;
    if (!out || typeof out.name !== 'string' || out.name === '' || !OUTPUT_KINDS.has(out.kind))
      throw new InputError(
        `feature step "${name}": outputs[${i}] must be {name: string, kind: "numeric" | "categorical"}, got ${JSON.stringify(o)}`,
      );
    if (seen.has(out.name))
      throw new InputError(`feature step "${name}": output "${out.name}" is declared twice`);
    seen.add(out.name);
    return { name: out.name, kind: out.kind };
  });
}

/**
 * The schema the feature transform is fitted on: the input schema with every step output as a nullable feature
 * column (an overwritten column takes the output's kind). Throws InputError when a step writes the target, an
 * id or an ignored column.
 */
export function augmentSchema(
  schema: DatasetSchema,
  steps: ReadonlyArray<Pick<FittedFeatureStep, 'name' | 'outputs'>>,
): DatasetSchema {
  const columns: ColumnSpec[] = schema.columns.map((c) => ({ ...c }));
  for (const s of steps) {
    for (const o of s.outputs) {
      const type = o.kind === 'numeric' ? 'numeric' : 'categorical';
      const at = columns.findIndex((c) => c.name === o.name);
      if (at < 0) {
        columns.push({ name: o.name, type, role: 'feature', nullable: true });
        continue;
      }
      const existing = columns[at]!;
      if (existing.role !== 'feature')
        throw new InputError(
          `feature step "${s.name}": output "${o.name}" would overwrite the ${existing.role === 'target' ? 'target' : `${existing.role} column`} "${o.name}"; only feature columns may be overwritten`,
        );
      columns[at] = { name: o.name, type, role: 'feature', nullable: true };
    }
  }
  return { ...schema, columns };
}

/** Days since 1970-01-01 as `YYYY-MM-DD`. */
const isoDate = (days: number) => new Date(days * 86_400_000).toISOString().slice(0, 10);

/** The input columns a step sees: features and ids, never the target. */
const stepInputColumns = (schema: DatasetSchema): ColumnSpec[] =>
  schema.columns.filter((c) => c.role === 'feature' || c.role === 'id');

/** A table value (NaN / null = missing; booleans 0/1; dates as day numbers) as a step sees it. */
function fromStored(spec: ColumnSpec, v: number | string | null | undefined): FeatureValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (Number.isNaN(v)) return null;
  if (spec.type === 'boolean') return v === 1;
  if (spec.type === 'date') return isoDate(v);
  return v;
}

const describe = (v: unknown): string =>
  v === undefined ? 'nothing' : typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? String(v));

/**
 * Checks one transform result against the declared outputs; returns an error text, or null when it is good.
 * Numeric outputs: finite number, NaN or null; categorical: string or null.
 */
function checkResult(result: unknown, outputs: readonly FeatureStepOutput[]): string | null {
  if (!result || typeof result !== 'object' || Array.isArray(result))
    return `transform must return an object of its outputs, got ${describe(result)}`;
  const r = result as Record<string, unknown>;
  for (const o of outputs) {
    const v = r[o.name];
    if (v === null) continue;
    if (o.kind === 'numeric') {
      if (typeof v !== 'number' || v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY)
        return `output "${o.name}" must be a finite number or null, got ${describe(v)}`;
    } else if (typeof v !== 'string')
      return `output "${o.name}" must be a string or null, got ${describe(v)}`;
  }
  for (const k of Object.keys(r))
    if (!outputs.some((o) => o.name === k))
      return `transform returned "${k}", which is not among its declared outputs (${outputs.map((o) => o.name).join(', ')})`;
  return null;
}

/** Runs one step's transform on one record and checks the result; throws Error with `what` in the message. */
function runStep(s: FittedFeatureStep, record: FeatureRecord, what: () => string): Record<string, unknown> {
  let result: unknown;
  try {
    result = s.step.transform(record, { params: s.params, state: s.state });
  } catch (e) {
    throw new InputError(
      `feature step "${s.name}": transform threw on ${what()}: ${(e as Error)?.message ?? String(e)}`,
      { cause: e },
    );
  }
  const bad = checkResult(result, s.outputs);
  if (bad !== null) throw new InputError(`feature step "${s.name}": ${bad} (${what()})`);
  return result as Record<string, unknown>;
}

/** The rows of a table as step records (feature and id columns). */
export function tableToFeatureRecords(table: Table, schema: DatasetSchema): Record<string, FeatureValue>[] {
  const specs = stepInputColumns(schema).filter((c) => table.columns[c.name] !== undefined);
  const cols = specs.map((c) => table.columns[c.name]!);
  const rows: Record<string, FeatureValue>[] = new Array(table.nRows);
  for (let i = 0; i < table.nRows; i++) {
    const r: Record<string, FeatureValue> = {};
    for (let j = 0; j < specs.length; j++) r[specs[j]!.name] = fromStored(specs[j]!, cols[j]![i]);
    rows[i] = r;
  }
  return rows;
}

/** Plain objects with sorted keys and typed arrays as arrays: the JSON the bundle writes (canonicalJson). */
const canonicalReplacer = (_key: string, v: unknown): unknown => {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
  if (v && typeof v === 'object' && !Array.isArray(v))
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, (v as Record<string, unknown>)[k]]),
    );
  return v;
};

/**
 * A value after the round trip through the bundle's JSON (sorted keys, non-finite numbers null): training uses
 * exactly what serving will read back. Throws InputError naming `what` when it is not JSON.
 */
export function canonicalJsonValue(value: unknown, what: string): unknown {
  let text: string | undefined;
  try {
    text = JSON.stringify(value === undefined ? null : value, canonicalReplacer);
  } catch (e) {
    throw new InputError(`${what} is not JSON: ${(e as Error).message}`);
  }
  return JSON.parse(text ?? 'null');
}

/** One step to fit: its code, name and params. */
export interface FeatureStepToFit {
  name: string;
  step: FeatureStep;
  params: Record<string, unknown>;
}

/**
 * Fits the steps in order on the training rows (each step's `fit` sees the outputs of the steps before it) and
 * returns them fitted. Throws InputError naming the step for a throwing fit/transform or a bad value.
 */
export async function fitFeatureSteps(
  steps: readonly FeatureStepToFit[],
  table: Table,
  schema: DatasetSchema,
  labels: ArrayLike<number>,
  seed: number,
): Promise<FittedFeatureStep[]> {
  const rows = tableToFeatureRecords(table, schema);
  const fitted: FittedFeatureStep[] = [];
  for (const s of steps) {
    const outputs = resolveStepOutputs(s.name, s.step, s.params);
    augmentSchema(schema, [...fitted, { name: s.name, outputs }]);
    let state: unknown = null;
    if (typeof s.step.fit === 'function') {
      try {
        state = await s.step.fit(rows, { params: s.params, labels, seed });
      } catch (e) {
        throw new InputError(
          `feature step "${s.name}": fit threw on the training rows: ${(e as Error)?.message ?? String(e)}`,
          { cause: e },
        );
      }
      state = canonicalJsonValue(state, `feature step "${s.name}": the state fit returned`);
    }
    const f: FittedFeatureStep = { ...s, state, outputs };
    for (let i = 0; i < rows.length; i++) {
      const out = runStep(f, rows[i]!, () => `training row ${i + 1}`);
      Object.assign(rows[i]!, normaliseOutputs(out));
    }
    fitted.push(f);
  }
  return fitted;
}

/** NaN -> null, so later steps see one spelling of missing. */
function normaliseOutputs(out: Record<string, unknown>): Record<string, FeatureValue> {
  const r: Record<string, FeatureValue> = {};
  for (const [k, v] of Object.entries(out))
    r[k] = typeof v === 'number' && Number.isNaN(v) ? null : (v as FeatureValue);
  return r;
}

/** Applies fitted steps to tables (training, evaluation, batch scoring) and single records (serving). */
export interface FeatureStepRunner {
  readonly steps: readonly FittedFeatureStep[];
  /** The schema the feature transform reads: the input schema plus the steps' outputs. */
  readonly schema: DatasetSchema;
  /** The table with every step's outputs added or overwritten (`part` names the rows in error messages). */
  applyTable(table: Table, part?: string): Table;
  /** The raw record with every step's outputs added or overwritten, for the record encoder. */
  applyRecord(record: RawRecord): RawRecord;
}

/**
 * A runner for fitted steps over records of `schema` (the model's input schema). Raw records are read with the
 * same parsers as validation (so a step sees the same values at serving as in training); an unreadable value is
 * null.
 */
export function createFeatureStepRunner(
  schema: DatasetSchema,
  steps: readonly FittedFeatureStep[],
): FeatureStepRunner {
  const augmented = augmentSchema(schema, steps);
  const compiled = compileSchema(schema);
  const inputs = compiled.kept
    .map((spec, j) => ({ spec, parser: compiled.compiled[j]! }))
    .filter(({ spec }) => spec.role === 'feature' || spec.role === 'id');
  const allOutputs = new Map<string, FeatureStepOutput['kind']>();
  for (const s of steps) for (const o of s.outputs) allOutputs.set(o.name, o.kind);

  return {
    steps,
    schema: augmented,
    applyTable(table: Table, part = 'rows'): Table {
      const rows = tableToFeatureRecords(table, schema);
      for (const s of steps) {
        for (let i = 0; i < rows.length; i++) {
          const out = runStep(s, rows[i]!, () => `${part} row ${i + 1}`);
          Object.assign(rows[i]!, normaliseOutputs(out));
        }
      }
      const columns: Record<string, ColumnData> = { ...table.columns };
      const names = [...table.names];
      for (const [name, kind] of allOutputs) {
        if (kind === 'numeric') {
          const col = new Float64Array(rows.length);
          for (let i = 0; i < rows.length; i++) {
            const v = rows[i]![name];
            col[i] = typeof v === 'number' ? v : Number.NaN;
          }
          columns[name] = col;
        } else {
          const col: (string | null)[] = new Array(rows.length);
          for (let i = 0; i < rows.length; i++) {
            const v = rows[i]![name];
            col[i] = typeof v === 'string' ? v : null;
          }
          columns[name] = col;
        }
        if (!names.includes(name)) names.push(name);
      }
      return { nRows: table.nRows, names, columns };
    },
    applyRecord(record: RawRecord): RawRecord {
      const row: Record<string, FeatureValue> = {};
      for (const { spec, parser } of inputs) {
        const v = parser.parseValue(record[spec.name]);
        row[spec.name] = v === undefined ? null : fromStored(spec, v as number | string | null);
      }
      const merged: RawRecord = { ...record };
      for (const s of steps) {
        const out = normaliseOutputs(runStep(s, row, () => 'a record'));
        Object.assign(row, out);
        Object.assign(merged, out);
      }
      return merged;
    },
  };
}
