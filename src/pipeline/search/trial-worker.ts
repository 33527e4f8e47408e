import { parentPort, workerData } from 'node:worker_threads';
import { runTrialJob, setupFactory, type TrialJob, type TrialSetup } from './trial-job.js';

/** Worker thread entry: fits the trials it is sent, one at a time, on the rows of its setup. */
const setup = workerData as TrialSetup;
const factory = await setupFactory(setup);
parentPort!.on('message', async (job: TrialJob | null) => {
  if (job === null) {
    parentPort!.close();
    return;
  }
  parentPort!.postMessage(await runTrialJob(factory, setup, job));
});
parentPort!.postMessage('ready');
