import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createFallbackModel, priorFromTags } from './fallback.js';
import type { ServingMetrics } from './metrics.js';
import type { ModelHolder } from './model-holder.js';
import { checksumDirectory, type ModelSource, type ResolvedModel } from './model-source.js';
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

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100) || '_';

class StageError extends Error {
  constructor(
    readonly stage: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

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
  const warmups = options.warmups ?? 3;
  let stopped = false;
  let lastError: string | null = null;
  let lastTimings: ModelLoader['lastTimings'] = null;
  let retryDelay = initialMs;
  let retryTimer: NodeJS.Timeout | null = null;
  let pollTimer: NodeJS.Timeout | null = null;
  let stopWatch: (() => void) | null = null;
  let running: Promise<boolean> | null = null;
  let again = false;
  let lastResolved: ResolvedModel | null = null;
  /** Key of the version serving now, and of the last version that failed (not retried until it changes). */
  let servingKey: string | null = null;
  let failedKey: string | null = null;
  let failedAt = 0;

  const keyOf = (r: ResolvedModel) =>
    `${r.name}\0${r.version ?? ''}\0${r.checksum ?? ''}\0${r.localDir ?? ''}`;

  async function fetchBundle(resolved: ResolvedModel): Promise<{ dir: string; checksum: string }> {
    if (resolved.localDir) {
      return {
        dir: resolved.localDir,
        checksum: resolved.checksum ?? (await checksumDirectory(resolved.localDir)),
      };
    }
    const modelDir = join(options.cacheDir, safe(resolved.name));
    await mkdir(modelDir, { recursive: true });
    const versionPart = safe(resolved.version ?? 'unversioned');
    if (resolved.checksum) {
      const known = join(modelDir, `${versionPart}-${resolved.checksum.slice(0, 16)}`);
      if (await isCompleteCacheEntry(known, resolved.checksum))
        return { dir: known, checksum: resolved.checksum };
    }
    // download into a private temporary folder, then rename: concurrent workers never see half a bundle
    const tmp = await mkdtemp(join(modelDir, '.download-'));
    try {
      await source.download(resolved, tmp);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw new StageError(
        'download',
        `download of ${resolved.name} version ${resolved.version} failed: ${messageOf(e)}`,
        {
          cause: e,
        },
      );
    }
    const checksum = await checksumDirectory(tmp);
    const final = join(modelDir, `${versionPart}-${checksum.slice(0, 16)}`);
    if (await isCompleteCacheEntry(final, checksum)) {
      await rm(tmp, { recursive: true, force: true });
      return { dir: final, checksum };
    }
    await writeFile(join(tmp, '.tassel-checksum'), checksum);
    await rm(final, { recursive: true, force: true });
    try {
      await rename(tmp, final);
    } catch (e) {
      // another worker renamed the same version first: use its copy if complete
      await rm(tmp, { recursive: true, force: true });
      if (!(await isCompleteCacheEntry(final, checksum))) throw e;
    }
    return { dir: final, checksum };
  }

  async function isCompleteCacheEntry(dir: string, checksum: string): Promise<boolean> {
    const s = await stat(dir).catch(() => null);
    if (!s?.isDirectory()) return false;
    const stored = await readFile(join(dir, '.tassel-checksum'), 'utf8').catch(() => null);
    return stored === checksum;
  }

  /** Deletes all but the newest `keepCached` cache entries of the model (never `serving`, never downloads). */
  async function pruneCache(serving: string): Promise<void> {
    const modelDir = dirname(serving);
    try {
      const entries = await readdir(modelDir, { withFileTypes: true });
      const dated = await Promise.all(
        entries
          .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
          .map(async (e) => ({
            path: join(modelDir, e.name),
            mtime: (await stat(join(modelDir, e.name))).mtimeMs,
          })),
      );
      dated.sort((a, b) => b.mtime - a.mtime);
      for (const old of dated.slice(options.keepCached ?? 3)) {
        if (old.path !== serving) await rm(old.path, { recursive: true, force: true });
      }
    } catch {
      // another worker pruned first, or the folder is not ours to list: the cache only grows a little
    }
  }

  function warm(model: ServedModel): void {
    const record: Record<string, unknown> = {};
    const vector = new Float64Array(model.width);
    for (let i = 0; i < warmups; i++) {
      const p = model.scoreRecord(record);
      const q = model.scoreVector(vector);
      if (!(p >= 0 && p <= 1) || !(q >= 0 && q <= 1)) throw new Error(`warm-up prediction gave ${p} / ${q}`);
    }
  }

  function fallbackPrior(): { prior: number; source: string } {
    const last = holder.lastGood;
    if (last) return { prior: last.prior, source: 'last-good-model' };
    const tagged = priorFromTags(lastResolved?.tags);
    if (tagged !== undefined) return { prior: tagged, source: 'version-tags' };
    if (options.fallbackPrior !== undefined) return { prior: options.fallbackPrior, source: 'configuration' };
    return { prior: 0.5, source: 'default (no prior known)' };
  }

  function serveFallback(reason: string): void {
    const last = holder.lastGood;
    const { prior, source: priorSource } = fallbackPrior();
    const current = holder.current;
    if (current?.fallback && current.reason === reason && current.prior === prior) return;
    holder.swap(
      createFallbackModel({
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
      }),
    );
  }

  async function attempt(): Promise<boolean> {
    let resolved: ResolvedModel;
    const t0 = performance.now();
    try {
      resolved = await source.resolve();
    } catch (e) {
      throw new StageError('resolve', `cannot resolve ${source.description}: ${messageOf(e)}`, { cause: e });
    }
    lastResolved = resolved;
    const key = keyOf(resolved);
    if (key === servingKey && holder.current && !holder.current.fallback) return false;
    // a version that failed is not fetched again on every event, only after the longest retry delay
    if (key === failedKey && holder.current && !holder.current.fallback && Date.now() - failedAt < maxMs)
      return false;
    try {
      const t1 = performance.now();
      const { dir, checksum } = await fetchBundle(resolved);
      const t2 = performance.now();
      let model: ServedModel;
      try {
        model = await options.load(dir, { ...resolved, checksum });
      } catch (e) {
        throw new StageError(
          'load',
          `cannot load ${resolved.name} version ${resolved.version}: ${messageOf(e)}`,
          {
            cause: e,
          },
        );
      }
      const t3 = performance.now();
      try {
        warm(model);
      } catch (e) {
        throw new StageError(
          'warm',
          `${resolved.name} version ${resolved.version} failed its warm-up: ${messageOf(e)}`,
          {
            cause: e,
          },
        );
      }
      const t4 = performance.now();
      holder.swap(model);
      lastTimings = { resolve: t1 - t0, download: t2 - t1, load: t3 - t2, warm: t4 - t3 };
      if (!resolved.localDir) void pruneCache(dir);
      servingKey = key;
      failedKey = null;
      lastError = null;
      logger?.info(
        { name: resolved.name, version: resolved.version, checksum, ms: lastTimings },
        'model swapped in',
      );
      return true;
    } catch (e) {
      failedKey = key;
      failedAt = Date.now();
      throw e;
    }
  }

  function scheduleRetry(): void {
    if (stopped || retryTimer) return;
    const delay = Math.round(retryDelay * (0.8 + Math.random() * 0.4));
    retryDelay = Math.min(maxMs, retryDelay * 2);
    retryTimer = setTimeout(() => {
      retryTimer = null;
      void refresh();
    }, delay);
    retryTimer.unref();
  }

  async function runOnce(): Promise<boolean> {
    try {
      const swapped = await attempt();
      retryDelay = initialMs;
      return swapped;
    } catch (e) {
      const stage = e instanceof StageError ? e.stage : 'load';
      lastError = messageOf(e);
      metrics?.countLoadFailure(stage);
      const working = holder.current !== null && !holder.current.fallback;
      logger?.[working ? 'warn' : 'error'](
        { stage, err: messageOf(e) },
        working
          ? 'new model version not loaded; the current one keeps serving'
          : 'no model loaded; fallback serving',
      );
      if (!working) {
        serveFallback(lastError);
        scheduleRetry();
      }
      return false;
    }
  }

  function refresh(): Promise<boolean> {
    if (stopped) return Promise.resolve(false);
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let swapped = false;
      do {
        again = false;
        swapped = (await runOnce()) || swapped;
      } while (again && !stopped);
      running = null;
      return swapped;
    })();
    return running;
  }

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
      if (retryTimer) clearTimeout(retryTimer);
      if (pollTimer) clearInterval(pollTimer);
    },
  };
}
