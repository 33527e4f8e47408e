import type { PredictionRecord } from '../port.js';

/**
 * A batch request's line in the local log: what its rows share once, then per row its probability, its label (one
 * `0`/`1` character each in `labels`) and its inputs, in order. It stands for the records
 * `{request_id: "<request_id>/<i>", time, model_name, model_version, inputs: rows[i], probability:
 * probabilities[i], label: labels[i], fallback, route}`, the lines a batch was logged as before (still read).
 */
export interface BatchLine {
  request_id: string;
  time: string;
  model_name: string;
  model_version: string | null;
  probabilities: number[];
  labels: string;
  rows: Record<string, unknown>[];
  fallback: boolean;
  route: string;
}

/** Whether a parsed log line is a {@link BatchLine} (it has a `rows` array), not one record. */
export function isBatchLine(value: object): value is BatchLine {
  return Array.isArray((value as { rows?: unknown }).rows);
}

/**
 * The records of a parsed {@link BatchLine}. A row whose probability or label is missing gets NaN / 0, and a row
 * that is not an object null inputs, as a hand-edited line may have; an absent request id gives ids `/<i>`.
 */
export function batchLineRecords(line: BatchLine): PredictionRecord[] {
  const id = typeof line.request_id === 'string' ? line.request_id : '';
  const probabilities = Array.isArray(line.probabilities) ? line.probabilities : [];
  const labels = typeof line.labels === 'string' ? line.labels : '';
  return line.rows.map((row, i) => ({
    request_id: `${id}/${i}`,
    time: line.time,
    model_name: line.model_name,
    model_version: line.model_version,
    inputs: (row !== null && typeof row === 'object' && !Array.isArray(row) ? row : null) as Record<
      string,
      unknown
    >,
    probability: typeof probabilities[i] === 'number' ? probabilities[i]! : Number.NaN,
    label: labels[i] === '1' ? 1 : 0,
    fallback: line.fallback,
    route: line.route,
  }));
}
