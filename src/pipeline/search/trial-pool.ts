import { Worker } from 'node:worker_threads';
import { TasselError } from '../../errors.js';
import type { ModelFactory } from '../../ml/model.js';
import {
  runTrialJob,
  setupFactory,
  sharedMatrix,
  type TrialJob,
  type TrialOutcome,
  type TrialSetup,
} from './trial-job.js';

/** Runs trial jobs: on worker threads, or in the calling thread for one worker. */
export interface TrialPool {
  /** Run the jobs (at most `workers` at a time); outcomes in job order. */
  run(jobs: readonly TrialJob[]): Promise<TrialOutcome[]>;
  close(): Promise<void>;
}

/**
 * The worker's entry point. From the TypeScript sources (tsx) the worker registers tsx itself first:
 * worker threads do not inherit a loader registered through tsx's API (as bin/tassel.js does).
 */
function workerSource(): { source: string; eval: true } {
  const here = import.meta.url;
  const fromTs = here.endsWith('.ts');
  const entry = new URL(fromTs ? './trial-worker.ts' : './trial-worker.js', here).href;
  const tsx = fromTs ? import.meta.resolve('tsx/esm/api') : null;
  const source = tsx
    ? `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`
    : `import(${JSON.stringify(entry)});`;
  return { source, eval: true };
}

function startWorker(setup: TrialSetup): Promise<Worker> {
  const { source } = workerSource();
  const worker = new Worker(source, { eval: true, workerData: setup });
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(new TasselError('INTERNAL_ERROR', `search worker: ${e.message}`));
    worker.once('error', onError);
    worker.once('message', (m) => {
      worker.off('error', onError);
      if (m === 'ready') resolve(worker);
      else reject(new TasselError('INTERNAL_ERROR', 'search worker: unexpected first message'));
    });
  });
}

function runOn(worker: Worker, job: TrialJob): Promise<TrialOutcome> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(new TasselError('INTERNAL_ERROR', `search worker: ${e.message}`));
    worker.once('error', onError);
    worker.once('message', (m: TrialOutcome) => {
      worker.off('error', onError);
      resolve(m);
    });
    worker.postMessage(job);
  });
}

/** A pool of `workers` threads (each fitting one trial at a time), or the calling thread when workers is 1. */
export async function createTrialPool(setup: TrialSetup, workers: number): Promise<TrialPool> {
  if (workers <= 1) {
    const factory: ModelFactory = await setupFactory(setup);
    return {
      async run(jobs) {
        const out: TrialOutcome[] = [];
        for (const job of jobs) out.push(await runTrialJob(factory, setup, job));
        return out;
      },
      close: async () => {},
    };
  }
  const shared: TrialSetup = {
    ...setup,
    matrices: {
      train: sharedMatrix(setup.matrices.train),
      valid: sharedMatrix(setup.matrices.valid),
      featureNames: setup.matrices.featureNames,
    },
  };
  const threads = await Promise.all(Array.from({ length: workers }, () => startWorker(shared)));
  return {
    async run(jobs) {
      const out: TrialOutcome[] = new Array(jobs.length);
      let next = 0;
      await Promise.all(
        threads.map(async (w) => {
          while (next < jobs.length) {
            const i = next++;
            out[i] = await runOn(w, jobs[i]!);
          }
        }),
      );
      return out;
    },
    async close() {
      await Promise.all(threads.map((w) => w.terminate()));
    },
  };
}
