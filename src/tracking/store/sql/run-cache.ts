/**
 * Runs' wire JSON texts kept under the revision they were read at (see the `runs.revision` migration).
 * A text is served only for the same revision, read in the same statement as the run's page or looked
 * up just before, so a write committed by any server sharing the database makes the next read miss.
 * Bounded by the texts' total length; the least recently used go first.
 */
export interface RunCache {
  /** The run's text at `revision`, when held. */
  get(runId: string, revision: string): string | undefined;
  /** Keeps `text` as the run's text at `revision` unless a later revision is already held. */
  set(runId: string, revision: string, text: string): void;
  /** Characters held (the bound is on this). */
  readonly size: number;
}

/** Options of {@link createRunCache}. */
export interface RunCacheOptions {
  /** Total characters of the texts held (about bytes: the texts are mostly ASCII). */
  maxChars: number;
}

type Entry = { revision: string; text: string };

/** An LRU {@link RunCache}: a Map in use order (a hit moves its entry to the end). */
export function createRunCache(options: RunCacheOptions): RunCache {
  const entries = new Map<string, Entry>();
  let size = 0;

  function evict(): void {
    for (const [id, e] of entries) {
      if (size <= options.maxChars) return;
      entries.delete(id);
      size -= e.text.length;
    }
  }

  return {
    get(runId, revision) {
      const e = entries.get(runId);
      if (e === undefined || e.revision !== revision) return undefined;
      entries.delete(runId);
      entries.set(runId, e);
      return e.text;
    },
    set(runId, revision, text) {
      if (text.length > options.maxChars) return;
      const old = entries.get(runId);
      if (old !== undefined) {
        // Two reads of one run can finish out of order; the older text must not replace the newer.
        if (Number(old.revision) > Number(revision)) return;
        entries.delete(runId);
        size -= old.text.length;
      }
      entries.set(runId, { revision, text });
      size += text.length;
      evict();
    },
    get size() {
      return size;
    },
  };
}
