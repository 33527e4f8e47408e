import { parentPort, workerData } from 'node:worker_threads';
import { isTasselError } from '../../errors.js';
import { createDatabase } from '../sql/database.js';
import { createSqlTrackingStore } from './sql-tracking-store.js';
import type { SearchRunsRequest } from './types.js';

/** What the pool passes to each read worker. */
export interface ReadWorkerData {
  backendStoreUri: string;
  defaultArtifactRoot: string;
  maxResultsCap?: number;
  busyTimeoutMs?: number;
  /** This worker's bound on cached run JSON (see SqlTrackingStoreOptions.runCacheBytes). */
  runCacheBytes?: number;
}

/** A request from the pool, and the worker's answer. */
export interface ReadRequest {
  id: number;
  method: 'searchRunsWire';
  args: [SearchRunsRequest];
}
export interface ReadReply {
  id: number;
  result?: unknown;
  error?: { code?: string; message: string; details?: Record<string, unknown> };
}

/**
 * The body of one read worker (see sqlite-read-pool.ts): its own connection to the same SQLite file (WAL lets
 * readers run beside the writer), the same store code, answering searches posted by the pool.
 */
export async function runReadWorker(): Promise<void> {
  const data = workerData as ReadWorkerData;
  const port = parentPort!;
  const database = await createDatabase(data.backendStoreUri, { busyTimeoutMs: data.busyTimeoutMs });
  const store = await createSqlTrackingStore({
    database,
    defaultArtifactRoot: data.defaultArtifactRoot,
    maxResultsCap: data.maxResultsCap,
    runCacheBytes: data.runCacheBytes,
    migrate: false,
  });
  port.on('message', (request: ReadRequest) => {
    const run = async () => {
      if (request.method !== 'searchRunsWire' || !store.searchRunsWire)
        throw new Error(`no ${request.method}`);
      return store.searchRunsWire(...request.args);
    };
    run().then(
      (result) => port.postMessage({ id: request.id, result } satisfies ReadReply),
      (err: unknown) => {
        const error = isTasselError(err)
          ? { code: err.code, message: err.message, details: err.details }
          : { message: String((err as Error)?.message ?? err) };
        port.postMessage({ id: request.id, error } satisfies ReadReply);
      },
    );
  });
  port.postMessage({ ready: true });
}
