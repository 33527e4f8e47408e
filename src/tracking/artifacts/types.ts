import type { Readable } from 'node:stream';

/** One entry of an artifact listing, as MLflow's FileInfo: `path` relative to the repository root. */
export interface FileInfo {
  path: string;
  is_dir: boolean;
  /** Bytes; absent for directories. */
  file_size?: number;
}

/** Options every artifact repository takes. */
export interface ArtifactRepositoryOptions {
  /** Largest single artifact accepted, in bytes (default 5 GiB); larger uploads fail with 413 and leave nothing. */
  maxArtifactBytes?: number;
}

/**
 * The artifact store port. Paths are relative, `/`-separated; `..`, absolute paths and NUL bytes are
 * rejected with INVALID_PARAMETER_VALUE before anything is touched. Writes are atomic: a reader sees the
 * old object or the whole new one. Content moves as streams and is never held whole in memory.
 */
export interface ArtifactRepository {
  /** The URI this repository is rooted at (e.g. `file:///data/artifacts`, `s3://bucket/prefix`). */
  readonly rootUri: string;
  /** Writes one artifact from a stream or buffer; returns the bytes written. */
  put(path: string, body: Readable | Uint8Array): Promise<{ size: number }>;
  /** Opens one artifact for reading; RESOURCE_DOES_NOT_EXIST when there is no such file. */
  get(path: string): Promise<{ stream: Readable; size: number }>;
  /** The direct children of a directory (`''` = root), sorted by path; empty when it does not exist. */
  list(path?: string): Promise<FileInfo[]>;
  /** Deletes a file or a whole directory; RESOURCE_DOES_NOT_EXIST when nothing is there. */
  delete(path: string): Promise<void>;
}
