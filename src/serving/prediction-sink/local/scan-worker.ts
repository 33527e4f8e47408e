import { parentPort, Worker, workerData } from 'node:worker_threads';
import { ColumnsBuilder, type PackedColumns, packColumns, unpackColumns } from '../columns.js';
import type { ColumnField, ColumnReadOptions, PredictionColumns } from '../port.js';
import { type ScanFilter, type SegmentSpan, scanSegments } from './segment-scanner.js';

/**
 * Part of a columnar read of the local log on a worker thread: the worker rebuilds the fields from their recipe,
 * scans its segments and posts the columns back (typed arrays transferred), so a large read uses two cores.
 */

/** What the worker scans. */
export interface ScanJob {
  files: string[];
  filter: ScanFilter;
  recipe: NonNullable<ColumnReadOptions['fieldsRecipe']>;
  requestIds: boolean;
}

interface ScanReply {
  packed?: PackedColumns;
  spans?: Array<[string, SegmentSpan]>;
  error?: string;
}

// The worker runs TypeScript sources through tsx when this file is TypeScript (a clone, tests), compiled
// JavaScript otherwise (the built package): an eval'd bootstrap, since a worker inherits no loader hooks.
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  const { moduleUrl, tsxApiUrl } = workerData.bootstrap;
  if (tsxApiUrl) (await import(tsxApiUrl)).register();
  await (await import(moduleUrl)).runScanWorker();
})().catch((err) => {
  console.error('tassel scan worker failed:', err);
  process.exit(1);
});
`;

/**
 * Scans `job` on a worker thread: its columns and the segments' spans, or null when the worker could not do it
 * (the caller then scans those segments itself).
 */
export function scanInWorker(
  job: ScanJob,
): Promise<{ columns: PredictionColumns; spans: Array<[string, SegmentSpan]> } | null> {
  const here = import.meta.url;
  const typescript = here.endsWith('.ts');
  const bootstrap = { moduleUrl: here, tsxApiUrl: typescript ? import.meta.resolve('tsx/esm/api') : null };
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = new Worker(BOOTSTRAP, { eval: true, workerData: { bootstrap, job }, execArgv: [] });
    } catch {
      resolve(null);
      return;
    }
    let settled = false;
    const settle = (value: Awaited<ReturnType<typeof scanInWorker>>) => {
      if (settled) return;
      settled = true;
      resolve(value);
      void worker.terminate();
    };
    worker.on('message', (reply: ScanReply) =>
      settle(reply.packed ? { columns: unpackColumns(reply.packed), spans: reply.spans ?? [] } : null),
    );
    worker.on('error', () => settle(null));
    worker.on('exit', () => settle(null));
  });
}

/** The worker's side: scans the job in its workerData and posts the columns back. */
export async function runScanWorker(): Promise<void> {
  const job = (workerData as { job: ScanJob }).job;
  try {
    const mod = (await import(job.recipe.module)) as Record<string, (args: unknown) => ColumnField[]>;
    const fields = mod[job.recipe.exportName]!(job.recipe.args);
    const builder = new ColumnsBuilder(fields, { requestIds: job.requestIds });
    const spans: Array<[string, SegmentSpan]> = [];
    await scanSegments(job.files, job.filter, builder, undefined, (file, span) => spans.push([file, span]));
    const { packed, transfer } = packColumns(builder.finish());
    parentPort!.postMessage({ packed, spans } satisfies ScanReply, transfer);
  } catch (error) {
    parentPort!.postMessage({ error: String(error) } satisfies ScanReply);
  }
}
