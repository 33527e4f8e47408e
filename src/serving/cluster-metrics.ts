import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

const REQUEST = 'tassel:cluster-metrics-request';
const REPLY = 'tassel:cluster-metrics-reply';

interface MetricsRequest {
  type: typeof REQUEST;
  id: number;
}
interface MetricsReply {
  type: typeof REPLY;
  id: number;
  text?: string;
  error?: string;
}

/**
 * In the primary of `tassel serve --workers N`: answers a worker's request for the metrics of the whole
 * service by collecting every worker's registry (prom-client's AggregatorRegistry over the cluster IPC channel)
 * and sending back one exposition. Why: a scrape lands on whichever worker accepted the connection, and a
 * per-worker answer would make every counter jump between scrapes. Series keep their `worker` label, so no
 * information is summed away.
 */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    const m = message as Partial<MetricsRequest> | null;
    if (m?.type !== REQUEST || typeof m.id !== 'number') return;
    const id = m.id;
    aggregator.clusterMetrics().then(
      (text) => {
        if (worker.isConnected()) worker.send({ type: REPLY, id, text } satisfies MetricsReply);
      },
      (err: unknown) => {
        if (worker.isConnected())
          worker.send({
            type: REPLY,
            id,
            error: String((err as Error)?.message ?? err),
          } satisfies MetricsReply);
      },
    );
  });
}

/** Options of {@link createClusterMetricsRenderer}. */
export interface ClusterMetricsRendererOptions {
  /** This worker's registry: the one the primary collects, and the answer when the primary does not reply. */
  registry: Registry;
  /** How long to wait for the primary's aggregate before answering with this worker's own metrics; default 3 s. */
  timeoutMs?: number;
}

/**
 * In a cluster worker: renders /metrics as the whole service's (every worker's series, from the primary), or
 * this worker's own when the primary cannot answer in time (a scrape never fails for it).
 */
export function createClusterMetricsRenderer(options: ClusterMetricsRendererOptions): () => Promise<string> {
  const { registry } = options;
  const timeoutMs = options.timeoutMs ?? 3_000;
  // the worker side of prom-client's cluster protocol: it answers the primary from these registries
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  const pending = new Map<number, (text: string | null) => void>();
  let next = 0;
  process.on('message', (message: unknown) => {
    const m = message as Partial<MetricsReply> | null;
    if (m?.type !== REPLY || typeof m.id !== 'number') return;
    const resolve = pending.get(m.id);
    if (resolve) resolve(typeof m.text === 'string' ? m.text : null);
  });
  return async () => {
    if (!process.send || !process.connected) return registry.metrics();
    const id = next++;
    const text = await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(null);
      }, timeoutMs);
      pending.set(id, (t) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(t);
      });
      process.send!({ type: REQUEST, id } satisfies MetricsRequest);
    });
    return text ?? registry.metrics();
  };
}
