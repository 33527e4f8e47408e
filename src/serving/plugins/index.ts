import type { FastifyPluginAsync } from 'fastify';
import type { ServingContext } from './context.js';
import { explainRoutes } from './explain.js';
import { feedbackRoutes } from './feedback.js';
import { healthRoutes } from './health.js';
import { invocationsRoutes } from './invocations.js';
import { metricsRoute } from './metrics-route.js';
import { modelInfoRoutes } from './model-info.js';
import { predictRoutes } from './predict.js';
import { predictionLogAdminRoutes } from './prediction-log-admin.js';

export { bodyParserPlugin } from './body-parser.js';
export type { AdminSettings, ServingContext, ServingPlugin } from './context.js';
export { errorHandlerPlugin } from './error-handler.js';
export { openApiPlugin } from './openapi.js';
export { requestIdPlugin } from './request-id.js';
export { requestMetricsPlugin } from './request-metrics.js';

/**
 * The serving app's route plugins, registered in this order with the app's {@link ServingContext} as options
 * (each takes the part it declares). Each is encapsulated: it adds routes, nothing else leaks out.
 * Adding an endpoint = one file here exporting a `ServingPlugin` + one line in this list.
 */
export const ROUTE_PLUGINS: readonly FastifyPluginAsync<ServingContext>[] = [
  predictRoutes,
  explainRoutes,
  invocationsRoutes,
  healthRoutes,
  modelInfoRoutes,
  metricsRoute,
  feedbackRoutes,
  predictionLogAdminRoutes,
];
