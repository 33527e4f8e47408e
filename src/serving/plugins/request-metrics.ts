import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ServingMetrics } from '../metrics.js';
import type { ModelHolder } from '../model-holder.js';

/** Options of {@link requestMetricsPlugin}. */
export interface RequestMetricsOptions {
  holder: ModelHolder;
  metrics: ServingMetrics;
}

/**
 * Feeds the service's metrics: every route registered after this plugin (in any plugin) gets an onResponse hook
 * with its request recorder bound at registration (no label lookup per request), and every model swap updates
 * the model gauges. Root-level (fastify-plugin) so its onRoute hook sees the routes of every later plugin.
 */
export const requestMetricsPlugin = fp<RequestMetricsOptions>(
  async (app, { holder, metrics }) => {
    if (holder.current) metrics.setModel(holder.current);
    const unsubscribe = holder.onSwap((next) => metrics.setModel(next));
    app.addHook('onClose', async () => {
      unsubscribe();
    });

    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const recorders = new Map(methods.map((m) => [m, metrics.routeRecorder(route.url, m)]));
      const single = recorders.size === 1 ? recorders.values().next().value! : null;
      const hook = (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
        (single ?? recorders.get(request.method))?.observe(reply.statusCode, reply.elapsedTime / 1000);
        done();
      };
      const existing = route.onResponse;
      route.onResponse =
        existing === undefined ? [hook] : [...(Array.isArray(existing) ? existing : [existing]), hook];
    });
  },
  { name: 'tassel-serving-request-metrics' },
);
