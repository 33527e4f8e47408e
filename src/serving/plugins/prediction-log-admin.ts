import type { FastifyRequest } from 'fastify';
import { TasselError } from '../../errors.js';
import { secretDigest, secretsEqual } from '../../tracking/auth/auth.js';
import type { PredictionSink } from '../prediction-sink/port.js';
import { ErrorResponse, PredictionLogState, PredictionLogUpdate } from '../schemas.js';
import type { ServingPlugin } from './context.js';

/**
 * GET /admin/prediction-log: the log's sample rate and counters. PUT /admin/prediction-log `{sample}`: a new
 * sample rate from the next request on, without a restart (turn logging down under load, or off and on); in a
 * `--workers` service every worker takes it (through `adminSettings.onSampleRate`). PUT needs the service's
 * admin token as a bearer token; without one configured it is refused (403), so an open port never lets a
 * caller switch monitoring off.
 */
export const predictionLogAdminRoutes: ServingPlugin<'sink' | 'admin'> = async (app, { sink, admin }) => {
  const expected = admin.token ? secretDigest(admin.token) : null;
  const state = () => stateOf(sink);
  app.get(
    '/admin/prediction-log',
    {
      schema: {
        tags: ['admin'],
        summary: "The prediction log's sample rate and counters (this process)",
        response: { 200: PredictionLogState },
      },
    },
    async () => state(),
  );
  app.put(
    '/admin/prediction-log',
    {
      schema: {
        tags: ['admin'],
        summary: 'Change the fraction of predictions logged, without a restart',
        description:
          'Takes effect from the next request; what is queued is still written. With --workers, every worker ' +
          'takes the new rate (and a restarted worker starts with it). Needs `Authorization: Bearer <token>` ' +
          'with the token given to `tassel serve --admin-token`; refused (403) when the service has none.',
        security: [{ adminToken: [] }],
        body: PredictionLogUpdate,
        response: {
          200: PredictionLogState,
          400: ErrorResponse,
          401: ErrorResponse,
          403: ErrorResponse,
          501: ErrorResponse,
        },
      },
    },
    async (request) => {
      authorize(request, expected);
      if (sink === null) {
        throw new TasselError(
          'NOT_IMPLEMENTED',
          'the prediction log is off, so it has no sample rate; start the service with --prediction-log',
        );
      }
      const { sample } = request.body as PredictionLogUpdate;
      sink.setSampleRate(sample);
      admin.onSampleRate?.(sink.sampleRate);
      request.log.warn({ sample: sink.sampleRate }, 'prediction log sample rate changed');
      return state();
    },
  );
};

/** 403 without a configured token; 401 for a missing or wrong bearer token. */
function authorize(request: FastifyRequest, expected: Buffer | null): void {
  if (expected === null) {
    throw new TasselError(
      'PERMISSION_DENIED',
      'admin routes are off: start the service with --admin-token (or $TASSEL_SERVING_ADMIN_TOKEN)',
    );
  }
  const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  if (m === null || !secretsEqual(m[1]!, expected))
    throw new TasselError('UNAUTHENTICATED', 'send the admin token as `Authorization: Bearer <token>`');
}

const stateOf = (sink: PredictionSink | null) =>
  sink === null
    ? { enabled: false, sample: 0, written: 0, dropped: 0, queued: 0 }
    : { enabled: true, sample: sink.sampleRate, ...sink.stats };
