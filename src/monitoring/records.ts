import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type {
  ColumnField,
  ColumnReadOptions,
  PredictionColumns,
  PredictionReader,
} from '../serving/prediction-sink/port.js';
import { batchLineRecords, isBatchLine } from '../serving/prediction-sink/local/batch-line.js';
import { compactLineRecords, type ShapeTable } from '../serving/prediction-sink/local/compact-line.js';
import { openPredictionStore } from '../serving/prediction-sink/registry.js';

/**
 * What the monitor reads: logged predictions and the outcomes attached to them. A small port, so the monitor
 * works the same over the serving service's prediction log (local files or PostgreSQL) or any other store.
 */

/** One logged prediction. */
export interface PredictionRecord {
  request_id: string;
  /** When it was served (ISO 8601 or epoch milliseconds). */
  time: string | number;
  model_name: string;
  model_version: string | null;
  /** The raw input fields as the caller sent them. */
  inputs: Record<string, unknown>;
  /** P(y = 1); null when the request was refused. */
  probability: number | null;
  /** The predicted label (0/1). */
  label: number | null;
  /** True when validation refused the request (counted by data quality, never scored). */
  refused?: boolean;
}

/** An outcome attached by request id or by entity id (e.g. Student_ID). */
export interface OutcomeRecord {
  request_id?: string;
  /** The input field the entity id refers to (absent: the monitor's entity_field). */
  entity_field?: string;
  entity_id?: string;
  /** 1 = positive outcome. */
  outcome: 0 | 1;
  time?: string | number;
}

/** Which predictions to read. */
export interface PredictionQuery {
  model_name: string;
  /** One version; all versions when absent. */
  model_version?: string;
  /** Served at or after (epoch ms). */
  since?: number;
  /** Served before (epoch ms). */
  until?: number;
}

/** The monitor's source of predictions and outcomes. */
export interface PredictionSource {
  /** Matching predictions, oldest first. */
  predictions(query: PredictionQuery): AsyncIterable<PredictionRecord>;
  /**
   * The same predictions decoded straight into columns of the given fields (optional: the local segment store
   * has it; without it the monitor builds the columns from `predictions`).
   */
  predictionColumns?(
    query: PredictionQuery,
    fields: readonly ColumnField[],
    options?: ColumnReadOptions,
  ): Promise<PredictionColumns>;
  /** Outcomes known so far (the latest per id wins). */
  outcomes(): AsyncIterable<OutcomeRecord>;
}

/** Epoch milliseconds of a record time. */
export const timeOf = (t: string | number): number => (typeof t === 'number' ? t : Date.parse(t));

interface LegacyEntry {
  ts: string;
  route: string;
  request_id?: string;
  model: { name: string; version: string | null; fallback?: boolean };
  request: unknown;
  response: unknown;
}

/**
 * The records in one line of the serving prediction log's JSONL format (src/serving/prediction-log.ts):
 * /predict gives one, /predict/batch and /invocations one per record; vector requests (no raw fields) none.
 * `shapes` are the shapes of the file's compact rows (see compact-line.ts), which its shape lines add to.
 */
export function recordsFromLogLine(
  line: string,
  lineNo: number,
  shapes: ShapeTable = new Map(),
): PredictionRecord[] {
  let e: LegacyEntry;
  try {
    e = JSON.parse(line) as LegacyEntry;
  } catch {
    return [];
  }
  if (!e || typeof e !== 'object') return [];
  const compact = compactLineRecords(e, shapes);
  if (compact !== null) return compact;
  if (isBatchLine(e)) return batchLineRecords(e);
  if ('inputs' in e && 'probability' in e) return [e as unknown as PredictionRecord];
  if (!e.model) return [];
  const base = { time: e.ts, model_name: e.model.name, model_version: e.model.version };
  const id = e.request_id ?? `line-${lineNo}`;
  const res = e.response as Record<string, unknown> | null;
  if (e.route === '/predict') {
    const req = e.request as Record<string, unknown>;
    if (!req || typeof req !== 'object' || 'features' in req || !res) return [];
    return [
      {
        ...base,
        request_id: id,
        inputs: req,
        probability: Number(res.probability),
        label: Number(res.label),
      },
    ];
  }
  const req = e.request as { records?: unknown[] } | unknown[];
  const records = Array.isArray(req) ? req : Array.isArray(req?.records) ? req.records : null;
  const preds = (res?.predictions ?? null) as Array<{ probability: number; label: number }> | null;
  if (!records || !preds || records.length !== preds.length) return [];
  return records.map((r, i) => ({
    ...base,
    request_id: `${id}/${i}`,
    inputs: r as Record<string, unknown>,
    probability: Number(preds[i]!.probability),
    label: Number(preds[i]!.label),
  }));
}

async function* readLines(file: string): AsyncGenerator<string> {
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of rl) if (line.trim() !== '') yield line;
}

/** JSONL files of a path: the file itself, or the folder's *.jsonl files in name order (rotated segments). */
function jsonlFiles(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .map((f) => join(path, f));
}

/** Options of {@link createJsonlPredictionSource}. */
export interface JsonlSourceOptions {
  /** The prediction log: one JSONL file or a folder of JSONL segments. */
  log: string;
  /** Outcome files (JSONL of OutcomeRecord), optional. */
  outcomes?: string;
}

/** A PredictionSource over JSONL prediction logs (today's serving log format, or PredictionRecord lines). */
export function createJsonlPredictionSource(options: JsonlSourceOptions): PredictionSource {
  return {
    async *predictions(query) {
      let lineNo = 0;
      for (const file of jsonlFiles(options.log)) {
        const shapes: ShapeTable = new Map();
        for await (const line of readLines(file)) {
          lineNo++;
          for (const r of recordsFromLogLine(line, lineNo, shapes)) {
            if (r.model_name !== query.model_name) continue;
            if (query.model_version !== undefined && r.model_version !== query.model_version) continue;
            const t = timeOf(r.time);
            if (query.since !== undefined && !(t >= query.since)) continue;
            if (query.until !== undefined && !(t < query.until)) continue;
            yield r;
          }
        }
      }
    },
    async *outcomes() {
      if (!options.outcomes) return;
      for (const file of jsonlFiles(options.outcomes)) {
        for await (const line of readLines(file)) {
          try {
            const o = JSON.parse(line) as OutcomeRecord;
            if (o && (o.outcome === 0 || o.outcome === 1)) yield o;
          } catch {
            // a torn last line of a file being written is skipped
          }
        }
      }
    },
  };
}

/**
 * A PredictionSource over the serving service's prediction log reader (src/serving/prediction-sink: local
 * segment files or PostgreSQL), so the monitor reads exactly what `tassel serve --prediction-log` wrote and
 * the outcomes POST /feedback and `tassel monitor labels` attached.
 */
export function createReaderPredictionSource(reader: PredictionReader): PredictionSource {
  const readerQuery = (query: PredictionQuery) => ({
    modelName: query.model_name,
    ...(query.model_version !== undefined ? { modelVersion: query.model_version } : {}),
    ...(query.since !== undefined ? { since: query.since } : {}),
    ...(query.until !== undefined ? { until: query.until } : {}),
  });
  const columnar = reader.readPredictionColumns?.bind(reader);
  return {
    async *predictions(query) {
      for await (const r of reader.readPredictions(readerQuery(query))) yield r;
    },
    ...(columnar
      ? { predictionColumns: (query, fields, options) => columnar(readerQuery(query), fields, options) }
      : {}),
    async *outcomes() {
      for await (const o of reader.readOutcomes()) yield o;
    },
  };
}

/** A source and how to let go of it. */
export interface OpenedPredictionSource {
  source: PredictionSource;
  description: string;
  close(): Promise<void>;
}

/**
 * Opens the prediction log a URI names: a `*.jsonl` file (the older serving log format, or PredictionRecord lines),
 * else the serving prediction store (a folder of segments, `file:` or `postgresql://` URI). Outcomes from an extra
 * JSONL file are added when given.
 */
export async function openPredictionSource(
  uri: string,
  extraOutcomes?: string,
): Promise<OpenedPredictionSource> {
  if (/\.jsonl$/i.test(uri) && existsSync(uri) && !statSync(uri).isDirectory()) {
    return {
      source: createJsonlPredictionSource({
        log: uri,
        ...(extraOutcomes ? { outcomes: extraOutcomes } : {}),
      }),
      description: uri,
      close: async () => {},
    };
  }
  const store = await openPredictionStore(uri);
  const base = createReaderPredictionSource(store);
  const extra = extraOutcomes ? createJsonlPredictionSource({ log: '', outcomes: extraOutcomes }) : null;
  return {
    source: extra
      ? {
          predictions: (q) => base.predictions(q),
          ...(base.predictionColumns ? { predictionColumns: base.predictionColumns } : {}),
          async *outcomes() {
            yield* base.outcomes();
            yield* extra.outcomes();
          },
        }
      : base,
    description: store.description,
    close: () => store.close(),
  };
}
