import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TASSEL_VERSION } from '../version.js';

/**
 * Where a run came from (code, environment, data), and the deterministic identity of its bundle:
 * the same data, config and seed give the same model UUID and creation time, hence identical bundle bytes.
 */

export interface Provenance {
  gitCommit: string | null;
  gitDirty: boolean | null;
  nodeVersion: string;
  tasselVersion: string;
  packageLockSha256: string | null;
}

/** The repository root of this package (where package.json is). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

function git(args: string[], cwd: string): string | null {
  try {
    return execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    }).trim();
  } catch {
    return null;
  }
}

/** Git commit and dirty flag of `cwd` (null when git or the repository is absent), versions, lock hash. */
export function collectProvenance(cwd: string = packageRoot()): Provenance {
  const commit = git(['rev-parse', 'HEAD'], cwd);
  const status = commit === null ? null : git(['status', '--porcelain', '--untracked-files=no'], cwd);
  const lock = join(packageRoot(), 'package-lock.json');
  return {
    gitCommit: commit,
    gitDirty: status === null ? null : status.length > 0,
    nodeVersion: process.version,
    tasselVersion: TASSEL_VERSION,
    packageLockSha256: existsSync(lock) ? sha256(readFileSync(lock)) : null,
  };
}

/** Hex SHA-256 of bytes or a string. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** JSON with object keys sorted at every level, so equal values always hash the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

/**
 * The bundle identity derived from what determines the model: data hash(es), the config that matters
 * for training (paths excluded, since moving a file does not change the model), the candidate and seed.
 * `createdAt` follows the reproducible-builds convention: SOURCE_DATE_EPOCH (seconds) when set, else the
 * fixed instant 2020-01-01T00:00:00Z, so two runs with the same inputs write identical MLmodel files; the
 * real wall-clock times live in the tracking run and the registry.
 */
export function deterministicIdentity(parts: {
  dataSha256: string[];
  config: unknown;
  candidate: unknown;
  seed: number;
}): { modelUuid: string; createdAt: Date; digest: string } {
  const digest = sha256(canonicalJson(parts));
  const h = digest.slice(0, 32).split('');
  h[12] = '5'; // a name-based UUID (RFC 4122 version 5 layout)
  h[16] = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  const s = h.join('');
  const modelUuid = `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  const createdAt =
    Number.isFinite(epoch) && epoch > 0 ? new Date(epoch * 1000) : new Date(Date.UTC(2020, 0, 1));
  return { modelUuid, createdAt, digest };
}
