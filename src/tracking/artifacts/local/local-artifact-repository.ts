import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { InputError, TasselError } from '../../../errors.js';
import { ByteLimit } from '../limit.js';
import { DEFAULT_MAX_ARTIFACT_BYTES, joinArtifactPath, normalizeArtifactPath } from '../paths.js';
import type { ArtifactRepository, ArtifactRepositoryOptions, FileInfo } from '../types.js';

/** Options of {@link createLocalArtifactRepository}. */
export interface LocalArtifactRepositoryOptions extends ArtifactRepositoryOptions {
  /** `file:///abs/path`, `file:./rel` or a plain path. */
  uri: string;
}

const TEMP_PREFIX = '.tassel-upload-';

/** The directory a `file:` URI or plain path names (`file:///./x` and `file:./x` are relative to cwd). */
export function localPathOf(uri: string): string {
  if (!uri.startsWith('file:')) return resolve(uri);
  if (uri.startsWith('file:///./') || uri.startsWith('file://./'))
    return resolve(uri.replace(/^file:\/\/\/?/, ''));
  if (uri.startsWith('file://')) return fileURLToPath(uri);
  return resolve(uri.slice('file:'.length));
}

/**
 * Artifacts in a local directory. Uploads go to a hidden temp file beside the target and are renamed
 * into place, so readers never see a partial file; content is streamed, never buffered whole.
 */
export function createLocalArtifactRepository(options: LocalArtifactRepositoryOptions): ArtifactRepository {
  const root = localPathOf(options.uri);
  const max = options.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
  const rootUri = `file://${root}`;
  const full = (rel: string) => (rel ? join(root, rel) : root);

  return {
    rootUri,
    async put(path, body) {
      const rel = normalizeArtifactPath(path);
      if (!rel) throw new InputError('Invalid path: an artifact needs a file name.');
      const target = full(rel);
      await mkdir(dirname(target), { recursive: true }).catch((e: NodeJS.ErrnoException) => {
        throw e.code === 'EEXIST' || e.code === 'ENOTDIR'
          ? new InputError(`Invalid path '${rel}': a parent is a file.`)
          : e;
      });
      const existing = await stat(target).catch(() => undefined);
      if (existing?.isDirectory()) throw new InputError(`Invalid path '${rel}': it is a directory.`);
      const temp = join(dirname(target), `${TEMP_PREFIX}${randomUUID()}`);
      const limit = new ByteLimit(max);
      const source = body instanceof Readable ? body : Readable.from([Buffer.from(body)]);
      const out = createWriteStream(temp, { flags: 'wx' });
      try {
        await pipeline(source, limit, out);
        await rename(temp, target);
      } catch (e) {
        // The file may still be being opened when the pipeline fails: wait for the close, then remove it.
        if (!out.closed) await new Promise<void>((r) => out.once('close', () => r()));
        await unlink(temp).catch(() => {});
        throw e;
      }
      return { size: limit.bytes };
    },
    async get(path) {
      const rel = normalizeArtifactPath(path);
      const st = await stat(full(rel)).catch(() => undefined);
      if (!st?.isFile())
        throw new TasselError('RESOURCE_DOES_NOT_EXIST', `Artifact '${rel}' does not exist.`);
      return { stream: createReadStream(full(rel)), size: st.size };
    },
    async list(path) {
      const rel = normalizeArtifactPath(path);
      const dir = full(rel);
      const st = await stat(dir).catch(() => undefined);
      if (!st?.isDirectory()) return [];
      const entries = await readdir(dir, { withFileTypes: true });
      const out: FileInfo[] = [];
      for (const e of entries) {
        if (e.name.startsWith(TEMP_PREFIX)) continue;
        const p = joinArtifactPath(rel, e.name);
        if (e.isDirectory()) out.push({ path: p, is_dir: true });
        else if (e.isFile())
          out.push({ path: p, is_dir: false, file_size: (await stat(join(dir, e.name))).size });
      }
      return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },
    async delete(path) {
      const rel = normalizeArtifactPath(path);
      if (!rel) throw new InputError('Invalid path: refusing to delete the artifact root.');
      const st = await stat(full(rel)).catch(() => undefined);
      if (!st) throw new TasselError('RESOURCE_DOES_NOT_EXIST', `Artifact '${rel}' does not exist.`);
      await rm(full(rel), { recursive: true, force: true });
    },
  };
}
