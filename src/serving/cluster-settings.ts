import cluster from 'node:cluster';

const SET = 'tassel:prediction-log-sample';
const ASK = 'tassel:prediction-log-sample-ask';

interface SampleMessage {
  type: typeof SET | typeof ASK;
  sample?: number;
}

const isSampleMessage = (m: unknown): m is SampleMessage =>
  typeof m === 'object' &&
  m !== null &&
  ((m as SampleMessage).type === SET || (m as SampleMessage).type === ASK);

/**
 * In the primary of `tassel serve --workers N`: relays a sample rate one worker took through
 * PUT /admin/prediction-log to every worker, the sender included, and hands the latest to a (re)started worker
 * that asks. Why the sender too: every worker then applies the changes in the primary's order, so two
 * concurrent changes end with every worker on the same rate.
 */
export function relayClusterSampleRate(): void {
  let latest: number | null = null;
  cluster.on('message', (worker, message: unknown) => {
    if (!isSampleMessage(message)) return;
    if (message.type === ASK) {
      if (latest !== null && worker.isConnected())
        worker.send({ type: SET, sample: latest } satisfies SampleMessage);
      return;
    }
    if (typeof message.sample !== 'number') return;
    latest = message.sample;
    for (const w of Object.values(cluster.workers ?? {}))
      if (w?.isConnected()) w.send({ type: SET, sample: latest } satisfies SampleMessage);
  });
}

/**
 * In a cluster worker: applies the rates the primary relays (and asks for the latest once, for a worker started
 * after a change), and returns the function that tells the primary of a change made through this worker's API.
 * Outside a cluster (no IPC channel) it does nothing.
 */
export function joinClusterSampleRate(apply: (rate: number) => void): (rate: number) => void {
  if (!process.send) return () => {};
  process.on('message', (message: unknown) => {
    if (isSampleMessage(message) && message.type === SET && typeof message.sample === 'number')
      apply(message.sample);
  });
  const send = (m: SampleMessage) => {
    if (process.connected) process.send!(m);
  };
  send({ type: ASK });
  return (rate) => send({ type: SET, sample: rate });
}
