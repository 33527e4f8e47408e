import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { checksumDirectory, type ModelSource, type ResolvedModel } from './model-source.js';

/** A failure of one loader stage (resolve, download, load, warm), counted by stage in the metrics. */
export class StageError extends Error {
  constructor(
    readonly stage: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100) || '_';

/**
 * The folder of a resolved version: its own local folder, or a cache entry `<cacheDir>/<name>/<version>-<checksum
 * prefix>/` downloaded into a private temporary folder and renamed, so concurrent workers never see half a
 * bundle. A complete entry (its stored checksum matches) is reused without downloading.
 */
export async function fetchBundle(
  source: ModelSource,
  cacheDir: string,
  resolved: ResolvedModel,
): Promise<{ dir: string; checksum: string }> {
  if (resolved.localDir) {
    return {
      dir: resolved.localDir,
      checksum: resolved.checksum ?? (await checksumDirectory(resolved.localDir)),
    };
  }
  const modelDir = join(cacheDir, safe(resolved.name));
  await mkdir(modelDir, { recursive: true });
  const versionPart = safe(resolved.version ?? 'unversioned');
  if (resolved.checksum) {
    const known = join(modelDir, `${versionPart}-${resolved.checksum.slice(0, 16)}`);
    if (await isCompleteCacheEntry(known, resolved.checksum))
      return { dir: known, checksum: resolved.checksum };
  }
  const tmp = await mkdtemp(join(modelDir, '.download-'));
  try {
    await source.download(resolved, tmp);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    const what = `download of ${resolved.name} version ${resolved.version} failed`;
    throw new StageError('download', `${what}: ${messageOf(e)}`, { cause: e });
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

/** Deletes all but the newest `keep` cache entries of the model (never `serving`, never downloads). */
export async function pruneCache(serving: string, keep: number): Promise<void> {
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
    for (const old of dated.slice(keep)) {
      if (old.path !== serving) await rm(old.path, { recursive: true, force: true });
    }
  } catch {
    // another worker pruned first, or the folder is not ours to list: the cache only grows a little
  }
}
