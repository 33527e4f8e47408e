import { Worker } from 'node:worker_threads';
import { type ErrorCode, TasselError } from '../../errors.js';
import type { ReadReply, ReadRequest, ReadWorkerData } from './sqlite-read-worker.js';
import type { SearchRunsRequest, TrackingStore } from './types.js';

/** Options of {@link createSqliteReadPool}. */
export interface SqliteReadPoolOptions extends ReadWorkerData {
  /** Worker threads (each with its own read connection); at least 1. */
  size: number;
  /** A worker that has not answered within this long is abandoned for that request (default 60 s). */
  timeoutMs?: number;
}

/** Worker threads that run run searches on their own SQLite connections, off the server's event loop. */
export interface SqliteReadPool {
  /** Runs a search on the least busy ready worker; `null` when no worker is ready (the caller runs it). */
  searchRunsWire(req: SearchRunsRequest): Promise<{ runs: string[]; next_page_token?: string }> | null;
  /** Resolves once a worker is ready (true) or every worker failed to start (false). */
  ready(): Promise<boolean>;
  /** Stops the workers; pending searches are rejected. */
  close(): Promise<void>;
}

interface PoolWorker {
  worker: Worker;
  ready: boolean;
  inFlight: number;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
  owner: PoolWorker;
}

// The worker thread runs TypeScript sources through tsx when this file is TypeScript (a clone, tests),
// compiled JavaScript otherwise (the built package): eval'd bootstrap, since a worker inherits no loader hooks.
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  const { moduleUrl, tsxApiUrl } = workerData.__bootstrap;
  const mod = tsxApiUrl
    ? await (await import(tsxApiUrl)).tsImport(moduleUrl, moduleUrl)
    : await import(moduleUrl);
  await mod.runReadWorker();
})().catch((err) => {
  console.error('tassel read worker failed to start:', err);
  process.exit(1);
});
`;

/**
 * Starts `size` worker threads, each opening the SQLite file read-side and running the same store code, so
 * run searches (the heaviest reads: a filtered, ordered page of runs rendered to MLflow's JSON) run in
 * parallel on other cores instead of queueing on the server's one event loop. WAL mode lets them read beside
 * the writer; each search sees the last committed state, as any reader does. Writes never go here.
 *
 * Workers start in the background; until one is ready (or when all died), `searchRunsWire` returns null and the
 * caller answers from its own store, so the pool never delays or fails a request by being absent.
 */
export function createSqliteReadPool(options: SqliteReadPoolOptions): SqliteReadPool {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const here = import.meta.url;
  const typescript = here.endsWith('.ts');
  const moduleUrl = new URL(typescript ? './sqlite-read-worker.ts' : './sqlite-read-worker.js', here).href;
  const tsxApiUrl = typescript ? import.meta.resolve('tsx/esm/api') : null;
  const data: ReadWorkerData & { __bootstrap: unknown } = {
    backendStoreUri: options.backendStoreUri,
    defaultArtifactRoot: options.defaultArtifactRoot,
    maxResultsCap: options.maxResultsCap,
    busyTimeoutMs: options.busyTimeoutMs,
    runCacheBytes: options.runCacheBytes,
    __bootstrap: { moduleUrl, tsxApiUrl },
  };
  const workers: PoolWorker[] = [];
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let closed = false;
  let settleReady: (ok: boolean) => void = () => {};
  const readyPromise = new Promise<boolean>((resolve) => {
    settleReady = resolve;
  });

  const failPending = (owner: PoolWorker, why: string) => {
    for (const [id, p] of pending) {
      if (p.owner !== owner) continue;
      clearTimeout(p.timer);
      pending.delete(id);
      p.reject(new Error(why));
    }
  };

  for (let i = 0; i < Math.max(1, options.size); i++) {
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData: data, execArgv: [] });
    const entry: PoolWorker = { worker, ready: false, inFlight: 0 };
    worker.unref();
    worker.on('message', (message: ReadReply | { ready: true }) => {
      if ('ready' in message) {
        entry.ready = true;
        settleReady(true);
        return;
      }
      const p = pending.get(message.id);
      if (!p) return;
      pending.delete(message.id);
      clearTimeout(p.timer);
      entry.inFlight--;
      if (message.error) {
        const e = message.error;
        p.reject(
          e.code
            ? new TasselError(e.code as ErrorCode, e.message, { details: e.details })
            : new Error(e.message),
        );
      } else p.resolve(message.result);
    });
    const dead = (why: string) => {
      entry.ready = false;
      const at = workers.indexOf(entry);
      if (at >= 0) workers.splice(at, 1);
      failPending(entry, why);
      if (workers.length === 0) settleReady(false);
    };
    worker.on('error', (err) => dead(`read worker failed: ${err.message}`));
    worker.on('exit', (code) => dead(`read worker exited with code ${code}`));
    workers.push(entry);
  }

  return {
    searchRunsWire(req) {
      if (closed) return null;
      let best: PoolWorker | null = null;
      for (const w of workers) if (w.ready && (best === null || w.inFlight < best.inFlight)) best = w;
      if (best === null) return null;
      const owner = best;
      const id = nextId++;
      owner.inFlight++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          owner.inFlight--;
          reject(new Error(`read worker did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, owner });
        owner.worker.postMessage({ id, method: 'searchRunsWire', args: [req] } satisfies ReadRequest);
      });
    },
    ready: () => readyPromise,
    async close() {
      closed = true;
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}

/**
 * The store with run searches sent to the read pool. A search the pool cannot take (no worker ready) or that
 * fails for a reason other than the request itself (a worker died or timed out) runs on the store itself;
 * errors about the request (bad filter, max_results...) come back as the store would throw them.
 */
export function withReadPool(store: TrackingStore, pool: SqliteReadPool): TrackingStore {
  const local = store.searchRunsWire?.bind(store);
  if (!local) return store;
  return {
    ...store,
    async searchRunsWire(req) {
      const remote = pool.searchRunsWire(req);
      if (remote === null) return local(req);
      try {
        return await remote;
      } catch (err) {
        if (err instanceof TasselError) throw err;
        return local(req);
      }
    },
  };
}
