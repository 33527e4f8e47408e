import { LiveResponse, ReadyResponse } from '../schemas.js';
import type { ServingPlugin } from './context.js';

/** GET /health/live, GET /health/ready and MLflow's GET /ping. */
export const healthRoutes: ServingPlugin<'holder' | 'failReadyOnFallback'> = async (app, options) => {
  const { holder, failReadyOnFallback } = options;

  app.get('/ping', { schema: { hide: true } }, (_request, reply) => {
    // MLflow's scoring server answers GET /ping; load balancers configured for it keep working
    reply.status(holder.current === null ? 503 : 200).send('\n');
  });

  app.get(
    '/health/live',
    { schema: { tags: ['ops'], summary: 'The process is up', response: { 200: LiveResponse } } },
    () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['ops'],
        summary: 'Whether the service can answer: ok, loading or degraded (fallback serving)',
        description:
          '200 for ok and degraded (503 for degraded with --fail-ready-on-fallback); 503 while loading.',
        response: { 200: ReadyResponse, 503: ReadyResponse },
      },
    },
    (_request, reply) => {
      const model = holder.current;
      const state = holder.state;
      const status = state === 'loading' || (state === 'degraded' && failReadyOnFallback) ? 503 : 200;
      const body: Record<string, unknown> = { status: state };
      if (model) {
        body.model = {
          name: model.identity.name,
          version: model.identity.version,
          run_id: model.identity.runId,
          fallback: model.fallback,
        };
        if (model.reason !== undefined) body.reason = model.reason;
      }
      reply.status(status).send(body);
    },
  );
};
