import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { TASSEL_VERSION } from '../version.js';
import { canonicalJson, packageRoot, sha256 } from './provenance.js';

/**
 * What a pipeline run is made of, as one digest: the data (sha256 of every input file's bytes), the config
 * that determines the model (paths, names, gate and tracking settings excluded) and the code (Tassel's
 * version and git state, the lockfile, the user's candidate and feature-step modules). Stored on every
 * registered version as the tag {@link FINGERPRINT_TAG}, so a run whose fingerprint equals the production
 * version's would only rebuild the same model, and is skipped (see PipelineConfig.gate.on_unchanged).
 */

/** The version tag holding a run's fingerprint digest. */
export const FINGERPRINT_TAG = 'tassel.fingerprint';

/** The code a run trains with. */
export interface CodeVersion {
  tassel_version: string;
  /** HEAD of Tassel's repository, null outside a git checkout (an installed package). */
  git_commit: string | null;
  /** sha256 of `git diff HEAD` when tracked files have uncommitted changes, else null. */
  git_diff_sha256: string | null;
  package_lock_sha256: string | null;
  /** sha256 of each user module (custom candidates, feature steps), by file name. */
  modules: Record<string, string>;
}

/** A run's fingerprint: the digest and the parts it was computed from (for messages and the run's tags). */
export interface RunFingerprint {
  digest: string;
  data_sha256: string[];
  config: unknown;
  code: CodeVersion;
}

function git(args: string[], cwd: string): string | null {
  try {
    return execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch {
    return null;
  }
}

/** sha256 of a file's bytes, streamed (the same value the CSV reader reports as the data's sha256). */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The code version of this Tassel and of the user's `modules` (paths of custom candidate and feature-step
 * files). `root` is Tassel's package root (default: this package).
 */
export function collectCodeVersion(modules: readonly string[] = [], root = packageRoot()): CodeVersion {
  const commit = git(['rev-parse', 'HEAD'], root)?.trim() || null;
  const diff = commit === null ? null : git(['diff', 'HEAD', '--no-ext-diff', '--binary'], root);
  const lock = join(root, 'package-lock.json');
  const moduleHashes: Record<string, string> = {};
  for (const m of [...modules].sort()) moduleHashes[basename(m)] = sha256(readFileSync(m));
  return {
    tassel_version: TASSEL_VERSION,
    git_commit: commit,
    git_diff_sha256: diff ? sha256(diff) : null,
    package_lock_sha256: existsSync(lock) ? sha256(readFileSync(lock)) : null,
    modules: moduleHashes,
  };
}

/** The fingerprint of a run from its parts; equal parts give an equal digest, any change a different one. */
export function computeFingerprint(parts: {
  dataSha256: readonly string[];
  config: unknown;
  code: CodeVersion;
}): RunFingerprint {
  const body = { data_sha256: [...parts.dataSha256], config: parts.config, code: parts.code };
  return { digest: sha256(canonicalJson(body)), ...body };
}

/** What the pipeline does when the production version was built from the same data, config and code. */
export type UnchangedPolicy = 'skip' | 'record';

/**
 * The production version this run would only reproduce, or null: its {@link FINGERPRINT_TAG} equals the
 * run's digest. Versions registered before fingerprints existed have no tag and never match.
 */
export function unchangedProduction(
  fingerprint: RunFingerprint,
  production: { version: string; tags: Record<string, string> } | null,
): { version: string } | null {
  if (!production) return null;
  return production.tags[FINGERPRINT_TAG] === fingerprint.digest ? { version: production.version } : null;
}
