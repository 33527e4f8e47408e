import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { InputError } from '../../errors.js';
import { attachOutcomes } from './feedback.js';
import type { FeedbackItem, FeedbackResult, PredictionStore } from './port.js';

/** Options of {@link importLabels}. */
export interface ImportLabelsOptions {
  /** CSV file with a header row. */
  file: string;
  /** The column holding the id: an entity id (e.g. Student_ID) or, with `byRequestId`, the request id. */
  idColumn: string;
  /** The column holding the outcome. */
  target: string;
  /** The target value counted as 1; default: 1/true/yes/y/t (case-insensitive), and 0/false/no/n/f as 0. */
  positive?: string;
  /** The ids are request ids (x-request-id) rather than entity ids. */
  byRequestId?: boolean;
  /** The input field the entity ids refer to in the log; default `idColumn`. */
  entityField?: string;
  /** Labels sent to the store per lookup; default 50,000. */
  chunkSize?: number;
}

/** Counts per status, the unknown ids (first 1,000) and rows skipped for an empty id or outcome. */
export interface ImportLabelsResult {
  rows: number;
  attached: number;
  updated: number;
  duplicate: number;
  unknown: number;
  unknownIds: string[];
  skipped: number;
}

const TRUE = new Set(['1', 'true', 'yes', 'y', 't']);
const FALSE = new Set(['0', 'false', 'no', 'n', 'f']);

/**
 * Attaches the outcomes of a CSV (`tassel monitor labels`) to logged predictions through the same rules as
 * POST /feedback (unknown ids reported, duplicates not stored again, corrections stored). Streams the file and
 * sends it in chunks, so a large label file is never held whole.
 */
export async function importLabels(
  store: PredictionStore,
  options: ImportLabelsOptions,
): Promise<ImportLabelsResult> {
  const result: ImportLabelsResult = {
    rows: 0,
    attached: 0,
    updated: 0,
    duplicate: 0,
    unknown: 0,
    unknownIds: [],
    skipped: 0,
  };
  const chunkSize = options.chunkSize ?? 50_000;
  const entityField = options.byRequestId ? undefined : (options.entityField ?? options.idColumn);
  const toOutcome = outcomeParser(options.positive);
  let chunk: FeedbackItem[] = [];
  const send = async () => {
    if (chunk.length === 0) return;
    count(result, await attachOutcomes(store, chunk, entityField));
    chunk = [];
  };
  const parser = createReadStream(options.file).pipe(
    parse({ columns: true, bom: true, skip_empty_lines: true }),
  );
  let checked = false;
  for await (const row of parser as AsyncIterable<Record<string, string>>) {
    if (!checked) {
      for (const c of [options.idColumn, options.target]) {
        if (!(c in row))
          throw new InputError(`${options.file}: no column "${c}" (columns: ${Object.keys(row).join(', ')})`);
      }
      checked = true;
    }
    result.rows++;
    const id = row[options.idColumn]?.trim() ?? '';
    const outcome = toOutcome(row[options.target] ?? '', result.rows);
    if (id === '' || outcome === null) {
      result.skipped++;
      continue;
    }
    chunk.push(options.byRequestId ? { request_id: id, outcome } : { entity_id: id, outcome });
    if (chunk.length >= chunkSize) await send();
  }
  await send();
  return result;
}

function outcomeParser(positive: string | undefined): (value: string, row: number) => 0 | 1 | null {
  return (value, row) => {
    const v = value.trim();
    if (v === '') return null;
    if (positive !== undefined) return v === positive ? 1 : 0;
    const lower = v.toLowerCase();
    if (TRUE.has(lower)) return 1;
    if (FALSE.has(lower)) return 0;
    throw new InputError(
      `row ${row}: outcome "${v}" is not 1/0, true/false or yes/no; name the positive value with --positive`,
    );
  };
}

function count(result: ImportLabelsResult, results: readonly FeedbackResult[]): void {
  for (const r of results) {
    result[r.status]++;
    if (r.status === 'unknown' && result.unknownIds.length < 1000) {
      result.unknownIds.push(r.request_id ?? r.entity_id ?? '');
    }
  }
}
