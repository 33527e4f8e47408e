import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.js';

/** One concrete model version a URI resolved to. */
export interface ResolvedModel {
  /** Registered model name (or the bundle folder's name). */
  name: string;
  /** Registered version, or null for a local bundle. */
  version: string | null;
  runId: string | null;
  /** The URI as given (models:/NAME@ALIAS, a folder...). */
  uri: string;
  /** Tags of the registered version (the fallback reads the class prior from them). */
  tags?: Record<string, string>;
  /** A content checksum known before download (e.g. of a local folder); else computed after download. */
  checksum?: string;
  /** When set, the bundle is already on local disk here and need not be downloaded. */
  localDir?: string;
}

/**
 * Where the service gets its model from: a registry URI (models:/..., runs:/...) through the tracking client,
 * or a local bundle folder. The loader only needs these three operations.
 */
export interface ModelSource {
  /** A description for logs and errors. */
  readonly description: string;
  /** Resolves the URI to the version it names now; throws when the registry is unreachable or the name unknown. */
  resolve(): Promise<ResolvedModel>;
  /** Downloads the resolved version's bundle files into `dir` (an empty folder that exists). */
  download(resolved: ResolvedModel, dir: string): Promise<void>;
  /**
   * Calls `onChange` whenever the URI may resolve to another version (alias moved, new version), until the
   * returned function is called. Optional: without it the loader polls.
   */
  watch?(onChange: () => void): () => void;
}

/** sha256 over the relative paths and contents of every file under `dir` (sorted), as hex. */
export async function checksumDirectory(dir: string): Promise<string> {
  const files: string[] = [];
  const walk = async (sub: string) => {
    const entries = await readdir(join(dir, sub), { withFileTypes: true });
    for (const e of entries) {
      const rel = sub ? `${sub}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(rel);
      else if (e.isFile()) files.push(rel);
    }
  };
  await walk('');
  files.sort();
  const hash = createHash('sha256');
  for (const rel of files) {
    hash.update(rel);
    hash.update('\0');
    hash.update(await readFile(join(dir, rel)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** A bundle folder on local disk (a path or a file:// URI); "versions" are its content checksums. */
export function createLocalModelSource(uri: string): ModelSource {
  const dir = uri.startsWith('file:') ? fileURLToPath(uri) : resolvePath(uri);
  return {
    description: `local bundle ${dir}`,
    async resolve() {
      const s = await stat(dir).catch(() => null);
      if (!s?.isDirectory()) throw new InputError(`model bundle folder ${dir} does not exist`);
      return {
        name: basename(dir),
        version: null,
        runId: null,
        uri,
        checksum: await checksumDirectory(dir),
        localDir: dir,
      };
    },
    async download() {
      // already local: the loader reads localDir
    },
  };
}

/** True when `uri` names a registry model or run artifact rather than a local folder. */
export const isRegistryUri = (uri: string): boolean => /^(models|runs):/i.test(uri);
