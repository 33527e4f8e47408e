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

  /** Forgets the rows committed after the first `n` (a line that turned out not to be what it seemed). */
  truncate(n: number): void {
    if (n >= this.n) return;
    for (const rows of this.invalid) while (rows.length > 0 && rows[rows.length - 1]! >= n) rows.pop();
    this.n = n;
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

  /**
   * The columns of the committed rows; after `head`'s rows when given (the older part of a read decoded
   * elsewhere, the same fields): each column is copied once into its final place.
   */
  finish(head?: PredictionColumns): PredictionColumns {
    const n = this.n;
    const h = head?.n ?? 0;
    const cut = (a: Float64Array, before: Float64Array | undefined) => {
      if (before === undefined || h === 0) return a.slice(0, n);
      const out = new Float64Array(h + n);
      out.set(before.subarray(0, h));
      out.set(a.subarray(0, n), h);
      return out;
    };
    const columns = new Map<string, Float64Array | Array<string | null>>();
    const invalid = new Map<string, number[]>();
    this.fields.forEach((f, j) => {
      const num = this.numeric[j];
      const before = head?.columns.get(f.name);
      if (num !== null) columns.set(f.name, cut(num, before as Float64Array | undefined));
      else {
        const t = this.text[j]!;
        t.length = n;
        columns.set(f.name, h > 0 ? (before as Array<string | null>).concat(t) : t);
      }
      const rows = this.invalid[j]!;
      invalid.set(f.name, h > 0 ? (head!.invalid.get(f.name) ?? []).concat(rows.map((r) => r + h)) : rows);
    });
    if (this.requestIds !== null) this.requestIds.length = n;
    return {
      n: h + n,
      time: cut(this.time, head?.time),
      probability: cut(this.probability, head?.probability),
      requestIds:
        this.requestIds !== null && h > 0
          ? (head!.requestIds ?? []).concat(this.requestIds)
          : this.requestIds,
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

/** {@link PredictionColumns} as a worker thread posts them: text columns as codes into a dictionary. */
export interface PackedColumns {
  n: number;
  time: Float64Array;
  probability: Float64Array;
  requestIds: string[] | null;
  columns: Array<[string, Float64Array | { dict: Array<string | null>; codes: Int32Array }]>;
  invalid: Array<[string, number[]]>;
}

/**
 * Packs columns for postMessage: typed arrays go in the transfer list (not copied), a text column of repeated
 * values becomes codes into a dictionary (a structured clone of a million strings costs more than the scan).
 */
export function packColumns(cols: PredictionColumns): { packed: PackedColumns; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = [];
  const own = (a: Float64Array | Int32Array) => {
    if (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength) transfer.push(a.buffer as ArrayBuffer);
    return a;
  };
  const columns: PackedColumns['columns'] = [];
  for (const [name, col] of cols.columns) {
    if (col instanceof Float64Array) {
      columns.push([name, own(col) as Float64Array]);
      continue;
    }
    const index = new Map<string | null, number>();
    const dict: Array<string | null> = [];
    const codes = new Int32Array(col.length);
    for (let i = 0; i < col.length; i++) {
      const v = col[i] ?? null;
      let code = index.get(v);
      if (code === undefined) {
        code = dict.length;
        index.set(v, code);
        dict.push(v);
      }
      codes[i] = code;
    }
    columns.push([name, { dict, codes: own(codes) as Int32Array }]);
  }
  return {
    packed: {
      n: cols.n,
      time: own(cols.time) as Float64Array,
      probability: own(cols.probability) as Float64Array,
      requestIds: cols.requestIds,
      columns,
      invalid: [...cols.invalid],
    },
    transfer,
  };
}

/** Columns of {@link packColumns}' result. */
export function unpackColumns(packed: PackedColumns): PredictionColumns {
  const columns = new Map<string, Float64Array | Array<string | null>>();
  for (const [name, col] of packed.columns) {
    if (col instanceof Float64Array) columns.set(name, col);
    else {
      const out = new Array<string | null>(col.codes.length);
      for (let i = 0; i < out.length; i++) out[i] = col.dict[col.codes[i]!]!;
      columns.set(name, out);
    }
  }
  return {
    n: packed.n,
    time: packed.time,
    probability: packed.probability,
    requestIds: packed.requestIds,
    columns,
    invalid: new Map(packed.invalid),
  };
}
