import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';

import fp from 'fastify-plugin';
import { TASSEL_VERSION } from '../../version.js';

/** Options of {@link openApiPlugin}. */
export interface OpenApiOptions {
  /** Serve Swagger UI at /docs (default true). /openapi.json is always served. */
  docs?: boolean;
}

/**
 * The OpenAPI 3.1 document at /openapi.json, built from the route schemas of every plugin registered after this
 * one, and Swagger UI at /docs. Root-level (fastify-plugin) so @fastify/swagger's onRoute hook sees every route.
 */
export const openApiPlugin = fp<OpenApiOptions>(
  async (app, options) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Tassel prediction service',
          description:
            'Course-completion predictions from the model the registry names. Errors are `{error_code, message}` ' +
            "as MLflow sends them. /invocations speaks MLflow's scoring protocol. Every response carries " +
            '`x-request-id` (the one the caller sent when it is 1-200 visible ASCII characters, else a new UUID). ' +
            'With `tassel serve --prediction-log [folder | postgresql://...]` (`--prediction-log-sample`, ' +
            '`--prediction-log-queue`, `--entity-field`) every prediction is recorded under its request id (batch ' +
            'rows as `<id>/<row>`) and POST /feedback attaches observed outcomes to them. PUT /admin/prediction-log ' +
            'changes the sample rate without a restart (with `--admin-token`, sent as a bearer token).',
          version: TASSEL_VERSION,
        },
        tags: [
          { name: 'predict', description: 'Predictions' },
          { name: 'ops', description: 'Health, model and metrics' },
          { name: 'monitoring', description: 'Ground truth for the prediction log' },
          { name: 'admin', description: 'Run-time settings (need the --admin-token bearer token)' },
        ],
        components: {
          securitySchemes: {
            adminToken: {
              type: 'http',
              scheme: 'bearer',
              description:
                'The token given to `tassel serve --admin-token` (or $TASSEL_SERVING_ADMIN_TOKEN).',
            },
          },
        },
      },
    });
    if (options.docs ?? true) await app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  },
  { name: 'tassel-serving-openapi' },
);
