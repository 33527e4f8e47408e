import type { ServingPlugin } from './context.js';

/** GET /metrics: the Prometheus exposition (this process's, or the whole cluster's from a worker). */
export const metricsRoute: ServingPlugin<'metrics' | 'renderMetrics'> = async (app, options) => {
  const { metrics, renderMetrics } = options;
  app.get(
    '/metrics',
    { schema: { tags: ['ops'], summary: 'Prometheus metrics' } },
    async (_request, reply) => {
      reply.header('content-type', metrics.contentType);
      return renderMetrics();
    },
  );
};
