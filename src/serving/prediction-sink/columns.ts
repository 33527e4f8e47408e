import type { ColumnField, PredictionColumns } from './port.js';

/** What a row needs from a record (the sink's PredictionRecord and the monitor's both fit). */
export interface RecordLike {
  time: string | number;
  probability: number | null;
  request_id: string;
  inputs: Record<string, unknown> | null;
}

/**
 * Fills {@link PredictionColumns} row by row: growable typed columns, a row is staged then committed (kept) or
 * discarded (filtered out), fields absent from a row are parsed as `undefined` (missing) at commit. Written once
 * for the local segment scanner and for any adapter read record by record.
 */
export class ColumnsBuilder {
  n = 0;
  private capacity = 1024;
  private time = new Float64Array(this.capacity);
  private probability = new Float64Array(this.capacity);
  private readonly numeric: (Float64Array | null)[];
  private readonly text: (Array<string | null> | null)[];
  private readonly invalid: number[][];
  private readonly requestIds: string[] | null;
  /** Per field: 1 once the staged row has a value, 2 when that value is invalid. */
  private readonly state: Uint8Array;
  /** Per field: its numberRange, checked inline (ranged[j] = 1 when it has one). */
  private readonly ranged: Uint8Array;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  private readonly integer: Uint8Array;

  constructor(
    readonly fields: readonly ColumnField[],
    options: { requestIds?: boolean } = {},
  ) {
    this.numeric = fields.map((f) => (f.numeric ? new Float64Array(this.capacity) : null));
    this.text = fields.map((f) => (f.numeric ? null : []));
    this.invalid = fields.map(() => []);
    this.requestIds = options.requestIds ? [] : null;
    this.state = new Uint8Array(fields.length);
    this.ranged = Uint8Array.from(fields, (f) => (f.numeric && f.numberRange ? 1 : 0));
    this.min = Float64Array.from(fields, (f) => f.numberRange?.min ?? Number.NaN);
    this.max = Float64Array.from(fields, (f) => f.numberRange?.max ?? Number.NaN);
    this.integer = Uint8Array.from(fields, (f) => (f.numberRange?.integer ? 1 : 0));
  }

  /** Whether rows keep their request id. */
  get wantsRequestIds(): boolean {
    return this.requestIds !== null;
  }

  /** Stages the row's served time, probability and request id. */
  stageRow(time: number, probability: number, requestId: string | null): void {
    if (this.n === this.capacity) this.grow();
    this.time[this.n] = time;
    this.probability[this.n] = probability;
    if (this.requestIds !== null) this.requestIds[this.n] = requestId ?? '';
  }

  /** Stages field `j`'s JSON value (the last one wins when a row repeats a field, as JSON.parse does). */
  setValue(j: number, value: unknown): void {
    this.setParsed(j, this.fields[j]!.parse(value));
  }

  /** Stages field `j`'s JSON number (no boxing when the field has `numberRange` or `parseNumber`). */
  setNumber(j: number, value: number): void {
    const num = this.numeric[j];
    if (this.ranged[j] === 1 && num !== null) {
      if (this.n === this.capacity) this.grow();
      const ok =
        value - value === 0 &&
        !(value < this.min[j]!) &&
        !(value > this.max[j]!) &&
        (this.integer[j] === 0 || Number.isInteger(value));
      this.numeric[j]![this.n] = ok ? value : Number.NaN;
      this.state[j] = ok ? 1 : 2;
      return;
    }
    const f = this.fields[j]!;
    if (f.parseNumber === undefined || num === null) {
      this.setValue(j, value);
      return;
    }
    if (this.n === this.capacity) this.grow();
    const parsed = f.parseNumber(value);
    if (parsed === undefined) {
      this.state[j] = 2;
      this.numeric[j]![this.n] = Number.NaN;
    } else {
      this.state[j] = 1;
      this.numeric[j]![this.n] = parsed;
    }
  }

  /** Stages field `j`'s already parsed value (undefined = invalid). */
  setParsed(j: number, parsed: number | string | null | undefined): void {
    if (this.n === this.capacity) this.grow();
    const f = this.fields[j]!;
    let bad = parsed === undefined;
    if (bad) parsed = f.numeric ? Number.NaN : null;
    else if (!f.nullable && (parsed === null || (typeof parsed === 'number' && Number.isNaN(parsed))))
      bad = true;
    this.state[j] = bad ? 2 : 1;
    const num = this.numeric[j];
    if (num !== null) num[this.n] = parsed as number;
    else this.text[j]![this.n] = parsed as string | null;
  }

  /** Keeps the staged row (fields it lacks are missing). */
  commit(): void {
    const state = this.state;
    for (let j = 0; j < state.length; j++) {
      if (state[j] === 0) this.setValue(j, undefined);
      if (state[j] === 2) this.invalid[j]!.push(this.n);
      state[j] = 0;
    }
    this.n++;
  }

  /** Forgets the staged row. */
  discard(): void {
    this.state.fill(0);
  }

  /** Stages and commits one record of the record-by-record read. */
  addRecord(r: RecordLike): void {
    const t = typeof r.time === 'number' ? r.time : Date.parse(r.time);
    const p = typeof r.probability === 'number' ? r.probability : Number.NaN;
    this.stageRow(t, p, r.request_id);
    const inputs = r.inputs !== null && typeof r.inputs === 'object' ? r.inputs : {};
    for (let j = 0; j < this.fields.length; j++) this.setValue(j, inputs[this.fields[j]!.name]);
    this.commit();
  }

  finish(): PredictionColumns {
    const n = this.n;
    const columns = new Map<string, Float64Array | Array<string | null>>();
    const invalid = new Map<string, number[]>();
    this.fields.forEach((f, j) => {
      const num = this.numeric[j];
      if (num !== null) columns.set(f.name, num.slice(0, n));
      else {
        const t = this.text[j]!;
        t.length = n;
        columns.set(f.name, t);
      }
      invalid.set(f.name, this.invalid[j]!);
    });
    if (this.requestIds !== null) this.requestIds.length = n;
    return {
      n,
      time: this.time.slice(0, n),
      probability: this.probability.slice(0, n),
      requestIds: this.requestIds,
      columns,
      invalid,
    };
  }

  /** Makes room for `rows` rows in all (a reader's estimate: one allocation instead of repeated doubling). */
  reserve(rows: number): void {
    if (rows > this.capacity) this.grow(Math.ceil(rows));
  }

  private grow(to = 2 * this.capacity): void {
    this.capacity = to;
    const bigger = (a: Float64Array) => {
      const b = new Float64Array(this.capacity);
      b.set(a);
      return b;
    };
    this.time = bigger(this.time);
    this.probability = bigger(this.probability);
    for (let j = 0; j < this.numeric.length; j++) {
      const a = this.numeric[j];
      if (a) this.numeric[j] = bigger(a);
    }
  }
}

/** Columns of records read one by one (adapters without a columnar read). */
export async function columnsOfRecords(
  records: AsyncIterable<RecordLike> | Iterable<RecordLike>,
  fields: readonly ColumnField[],
  options: { requestIds?: boolean } = {},
): Promise<PredictionColumns> {
  const builder = new ColumnsBuilder(fields, options);
  for await (const r of records) builder.addRecord(r);
  return builder.finish();
}
