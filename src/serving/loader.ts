import { fetchBundle, messageOf, pruneCache, StageError } from './bundle-cache.js';
import { createFallbackModel, priorFromTags } from './fallback.js';
import type { ServingMetrics } from './metrics.js';
import type { ModelHolder } from './model-holder.js';
import type { ModelSource, ResolvedModel } from './model-source.js';
import type { RecordValidatorOptions } from './record-validator.js';
import type { ServedModel } from './served-model.js';

/** Minimal logger the loader reports to (pino's shape). */
export interface LoaderLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Options of {@link createModelLoader}. */
export interface ModelLoaderOptions {
  source: ModelSource;
  holder: ModelHolder;
  /** Turns a bundle folder into a servable model (throws for a corrupt or unknown bundle). */
  load: (dir: string, resolved: ResolvedModel & { checksum: string }) => Promise<ServedModel> | ServedModel;
  /** Local cache of downloaded bundles: `<cacheDir>/<name>/<version>-<checksum>/`. */
  cacheDir: string;
  metrics?: ServingMetrics;
  logger?: LoaderLogger;
  /** Class prior for the fallback when neither a last good model nor the version's tags give one. */
  fallbackPrior?: number;
  /** Retry delays while no real model serves: starts at `initialMs`, doubles up to `maxMs` (with jitter). */
  retry?: { initialMs?: number; maxMs?: number };
  /** How often to re-resolve when the source cannot push changes (or as a safety net); 0 = never. Default 30 s. */
  pollIntervalMs?: number;
  /** Predictions run on a fresh model before it serves; default 3. */
  warmups?: number;
  /** Cached versions kept per model (the serving one included); older ones are deleted. Default 3. */
  keepCached?: number;
  validatorOptions?: RecordValidatorOptions;
}

/** Keeps the holder serving the model the source names, swapping in new versions as they appear. */
export interface ModelLoader {
  /** First load (or the fallback when it fails); resolves once something serves. Starts watching. */
  start(): Promise<void>;
  /** Re-resolves now and swaps if the URI names another version; true when a new model was swapped in. */
  refresh(): Promise<boolean>;
  /** Stops watching, polling and retrying. */
  stop(): void;
  /** The last load problem, if any (for logs and tests). */
  readonly lastError: string | null;
  /** Milliseconds per step of the last successful load: resolve, download (+ checksum), load, warm. */
  readonly lastTimings: { resolve: number; download: number; load: number; warm: number } | null;
}

/**
 * The loader/watcher: resolve the URI -> download into the cache (keyed by version and checksum) -> load ->
 * warm with a few predictions -> swap atomically. A version that fails any step never replaces a working model;
 * with nothing working the fallback prior model serves while the loader retries with backoff.
 */
export function createModelLoader(options: ModelLoaderOptions): ModelLoader {
  const { source, holder, metrics, logger } = options;
  const initialMs = options.retry?.initialMs ?? 500;
  const maxMs = options.retry?.maxMs ?? 30_000;
  const pollIntervalMs = options.pollIntervalMs ?? 30_000;
  let stopped = false;
  let lastError: string | null = null;
  let lastTimings: ModelLoader['lastTimings'] = null;
  let pollTimer: NodeJS.Timeout | null = null;
  let stopWatch: (() => void) | null = null;
  let lastResolved: ResolvedModel | null = null;
  /** Key of the version serving now, and of the last version that failed (not retried until it changes). */
  let servingKey: string | null = null;
  let failedKey: string | null = null;
  let failedAt = 0;

  async function attempt(): Promise<boolean> {
    const t0 = performance.now();
    const resolved = await resolveStage(source);
    lastResolved = resolved;
    const key = keyOf(resolved);
    const working = holder.current !== null && !holder.current.fallback;
    if (key === servingKey && working) return false;
    // a version that failed is not fetched again on every event, only after the longest retry delay
    if (key === failedKey && working && Date.now() - failedAt < maxMs) return false;
    try {
      const loaded = await loadVersion(options, resolved, performance.now() - t0);
      holder.swap(loaded.model);
      lastTimings = loaded.timings;
      if (!resolved.localDir) void pruneCache(loaded.dir, options.keepCached ?? 3);
      servingKey = key;
      failedKey = null;
      lastError = null;
      const { name, version } = resolved;
      logger?.info({ name, version, checksum: loaded.checksum, ms: lastTimings }, 'model swapped in');
      return true;
    } catch (e) {
      failedKey = key;
      failedAt = Date.now();
      throw e;
    }
  }

  async function runOnce(): Promise<boolean> {
    try {
      const swapped = await attempt();
      backoff.reset();
      return swapped;
    } catch (e) {
      // a refresh in flight when the service stops fails for the expected reason (tracking went first):
      // neither a warning nor a fallback swap on the way out
      if (stopped) return false;
      lastError = messageOf(e);
      if (!reportFailure(e, holder, metrics, logger)) {
        const fallback = fallbackFor(options, lastResolved, lastError);
        if (fallback !== null) holder.swap(fallback);
        if (!stopped) backoff.schedule();
      }
      return false;
    }
  }

  const refresh = coalesce(runOnce, () => stopped);
  const backoff = createBackoff(initialMs, maxMs, () => void refresh());

  return {
    get lastError() {
      return lastError;
    },
    get lastTimings() {
      return lastTimings;
    },
    async start() {
      await refresh();
      if (stopped) return;
      if (source.watch) stopWatch = source.watch(() => void refresh());
      if (pollIntervalMs > 0) {
        pollTimer = setInterval(() => void refresh(), pollIntervalMs);
        pollTimer.unref();
      }
    },
    refresh,
    stop() {
      stopped = true;
      stopWatch?.();
      backoff.cancel();
      if (pollTimer) clearInterval(pollTimer);
    },
  };
}

const keyOf = (r: ResolvedModel) => `${r.name}\0${r.version ?? ''}\0${r.checksum ?? ''}\0${r.localDir ?? ''}`;

/** The version the source names now (a failure is the `resolve` stage's). */
async function resolveStage(source: ModelSource): Promise<ResolvedModel> {
  try {
    return await source.resolve();
  } catch (e) {
    throw new StageError('resolve', `cannot resolve ${source.description}: ${messageOf(e)}`, { cause: e });
  }
}

/** Fetch, load and warm one resolved version; each failure is a StageError naming its stage. */
async function loadVersion(options: ModelLoaderOptions, resolved: ResolvedModel, resolveMs: number) {
  const t1 = performance.now();
  const { dir, checksum } = await fetchBundle(options.source, options.cacheDir, resolved);
  const t2 = performance.now();
  const what = `${resolved.name} version ${resolved.version}`;
  let model: ServedModel;
  try {
    model = await options.load(dir, { ...resolved, checksum });
  } catch (e) {
    throw new StageError('load', `cannot load ${what}: ${messageOf(e)}`, { cause: e });
  }
  const t3 = performance.now();
  try {
    warm(model, options.warmups ?? 3);
  } catch (e) {
    throw new StageError('warm', `${what} failed its warm-up: ${messageOf(e)}`, { cause: e });
  }
  const timings = { resolve: resolveMs, download: t2 - t1, load: t3 - t2, warm: performance.now() - t3 };
  return { model, dir, checksum, timings };
}

/** A few predictions on an empty record and a zero vector: a model that throws or answers outside [0, 1] fails. */
function warm(model: ServedModel, warmups: number): void {
  const record: Record<string, unknown> = {};
  const vector = new Float64Array(model.width);
  for (let i = 0; i < warmups; i++) {
    const p = model.scoreRecord(record);
    const q = model.scoreVector(vector);
    if (!(p >= 0 && p <= 1) || !(q >= 0 && q <= 1)) throw new Error(`warm-up prediction gave ${p} / ${q}`);
  }
}

/** Counts and logs a failed attempt; true when a real model keeps serving (so no fallback is needed). */
function reportFailure(
  e: unknown,
  holder: ModelHolder,
  metrics: ServingMetrics | undefined,
  logger: LoaderLogger | undefined,
): boolean {
  const stage = e instanceof StageError ? e.stage : 'load';
  metrics?.countLoadFailure(stage);
  const working = holder.current !== null && !holder.current.fallback;
  logger?.[working ? 'warn' : 'error'](
    { stage, err: messageOf(e) },
    working
      ? 'new model version not loaded; the current one keeps serving'
      : 'no model loaded; fallback serving',
  );
  return working;
}

/**
 * The fallback model for `reason`, or null when the same fallback already serves. Its prior: the last good
 * model's, else the version's tags, else the configured one, else 0.5.
 */
function fallbackFor(
  options: ModelLoaderOptions,
  lastResolved: ResolvedModel | null,
  reason: string,
): ServedModel | null {
  const { holder, source } = options;
  const last = holder.lastGood;
  const tagged = priorFromTags(lastResolved?.tags);
  const { prior, priorSource } = last
    ? { prior: last.prior, priorSource: 'last-good-model' }
    : tagged !== undefined
      ? { prior: tagged, priorSource: 'version-tags' }
      : options.fallbackPrior !== undefined
        ? { prior: options.fallbackPrior, priorSource: 'configuration' }
        : { prior: 0.5, priorSource: 'default (no prior known)' };
  const current = holder.current;
  if (current?.fallback && current.reason === reason && current.prior === prior) return null;
  return createFallbackModel({
    reason,
    prior,
    priorSource,
    identity: last?.identity ?? {
      name: lastResolved?.name ?? source.description,
      version: lastResolved?.version ?? null,
      runId: lastResolved?.runId ?? null,
      uri: lastResolved?.uri ?? source.description,
    },
    threshold: last?.threshold,
    schema: last?.schema ?? null,
    width: last?.width,
    featureNames: last?.featureNames,
    validatorOptions: options.validatorOptions,
  });
}

/** Retries with exponential back-off (jittered ±20 %), from `initialMs` doubling up to `maxMs`. */
function createBackoff(initialMs: number, maxMs: number, retry: () => void) {
  let delay = initialMs;
  let timer: NodeJS.Timeout | null = null;
  return {
    /** Schedules one retry (unless one is pending) and doubles the next delay. */
    schedule() {
      if (timer) return;
      const wait = Math.round(delay * (0.8 + Math.random() * 0.4));
      delay = Math.min(maxMs, delay * 2);
      timer = setTimeout(() => {
        timer = null;
        retry();
      }, wait);
      timer.unref();
    },
    /** Back to the first delay (after a success). */
    reset() {
      delay = initialMs;
    },
    cancel() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}

/**
 * One run at a time: a call while a run is in progress asks for one more run after it (events arriving during
 * a load are not lost) and shares its promise; resolves true when any of the runs swapped a model.
 */
function coalesce(run: () => Promise<boolean>, stopped: () => boolean): () => Promise<boolean> {
  let running: Promise<boolean> | null = null;
  let again = false;
  return () => {
    if (stopped()) return Promise.resolve(false);
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let swapped = false;
      do {
        again = false;
        swapped = (await run()) || swapped;
      } while (again && !stopped());
      running = null;
      return swapped;
    })();
    return running;
  };
}
