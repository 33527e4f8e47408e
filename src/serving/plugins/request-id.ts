import fp from 'fastify-plugin';

/**
 * Echoes the request id (Fastify's `request.id`, set by `genReqId` from request-id.ts) as `x-request-id` on
 * every response, errors and 404s included. Root-level (fastify-plugin) so every route has it.
 */
export const requestIdPlugin = fp(
  async (app) => {
    app.addHook('onRequest', (request, reply, done) => {
      reply.header('x-request-id', request.id);
      done();
    });
  },
  { name: 'tassel-serving-request-id' },
);
