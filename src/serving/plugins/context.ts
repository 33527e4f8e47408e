import type { FastifyPluginAsync } from 'fastify';
import type { ServingMetrics } from '../metrics.js';
import type { ModelHolder } from '../model-holder.js';
import type { PredictionSink } from '../prediction-sink/port.js';
import { ErrorResponse } from '../schemas.js';
import type { Scoring } from '../scoring.js';

/**
 * What the route plugins of one serving app may use. Nothing in it changes after start except the model inside
 * the holder (swapped by the loader); each plugin declares the part it needs as its typed options.
 */
export interface ServingContext {
  /** The model to score with (the loader swaps models in it). */
  holder: ModelHolder;
  /** The one scoring step (score, fallback, count, log) the routes and the fast lane share. */
  scoring: Scoring;
  metrics: ServingMetrics;
  /** Most records in one batch request. */
  batchCap: number;
  /** Answer /health/ready with 503 while the fallback serves. */
  failReadyOnFallback: boolean;
  /** The prediction log (null when off): /feedback stores outcomes through it. */
  sink: PredictionSink | null;
  /** The input field /feedback's entity ids refer to by default (else the served model's id column). */
  entityField: string | undefined;
  /** Renders GET /metrics (this app's registry, or the whole cluster's from a worker). */
  renderMetrics: () => Promise<string>;
  /** The admin routes' token and what else must hear of a change (the other workers). */
  admin: AdminSettings;
}

/** What the admin routes (PUT /admin/prediction-log) need besides the sink. */
export interface AdminSettings {
  /** The bearer token admin writes need; null = admin writes are refused. */
  token: string | null;
  /** Called after this process's sample rate changed through the API (a cluster worker tells the others). */
  onSampleRate?: (rate: number) => void;
}

/** A route plugin taking the named part of the serving context as its options. */
export type ServingPlugin<K extends keyof ServingContext> = FastifyPluginAsync<Pick<ServingContext, K>>;

/** The error responses a JSON route documents. */
export const JSON_ERRORS = { 400: ErrorResponse, 413: ErrorResponse, 503: ErrorResponse };
