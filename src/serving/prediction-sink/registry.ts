import { InputError } from '../../errors.js';
import { createLocalPredictionStore } from './local/local-prediction-store.js';
import type { PredictionStore } from './port.js';
import { createPostgresPredictionStore } from './postgres/postgres-prediction-store.js';

/** Options every store factory receives (each uses what applies to it). */
export interface OpenPredictionStoreOptions {
  /** Local segments: rotate past this many bytes (default 64 MiB). */
  maxSegmentBytes?: number;
  /** Local segments: rotate after this long in ms (default 1 hour). */
  maxSegmentAgeMs?: number;
  /** Local segments: write predictions with O_DIRECT where the file system allows it (default true). */
  directIo?: boolean;
  /** PostgreSQL schema (created if missing); overrides `?schema=` in the URI. */
  schema?: string;
}

type Factory = (uri: string, options: OpenPredictionStoreOptions) => Promise<PredictionStore>;

const postgres: Factory = (uri, o) => createPostgresPredictionStore({ uri, schema: o.schema });
const local: Factory = async (uri, o) =>
  createLocalPredictionStore({
    dir: uri.replace(/^file:(\/\/)?/i, ''),
    maxSegmentBytes: o.maxSegmentBytes,
    maxSegmentAgeMs: o.maxSegmentAgeMs,
    directIo: o.directIo,
  });

/** URI scheme -> prediction store. A plain path (no scheme) is a local folder of segments. */
export const PREDICTION_STORE_SCHEMES: Readonly<Record<string, Factory>> = {
  file: local,
  postgresql: postgres,
  postgres,
};

/**
 * Opens the prediction store a URI names: a folder path or `file:` URI (local segment files), or
 * `postgresql://user@host:port/db[?schema=name]` (also `postgres://`). An unknown scheme is an InputError
 * listing the known ones.
 */
export function openPredictionStore(
  uri: string,
  options: OpenPredictionStoreOptions = {},
): Promise<PredictionStore> {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri);
  if (!m || /^[a-zA-Z]$/.test(m[1]!)) return local(uri, options);
  const factory = PREDICTION_STORE_SCHEMES[m[1]!.toLowerCase()];
  if (!factory) {
    throw new InputError(
      `no prediction store for '${uri.replace(/\/\/[^@/]*@/, '//')}'. Known schemes: ${Object.keys(PREDICTION_STORE_SCHEMES).join(', ')} (and plain paths).`,
    );
  }
  return factory(uri, options);
}
