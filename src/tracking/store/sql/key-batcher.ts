/** Options for {@link createKeyBatcher}. */
export interface KeyBatcherOptions<V> {
  /** Loads the values of several keys at once; a key it leaves out of the map has no value. */
  loadMany(keys: string[]): Promise<Map<string, V>>;
  /**
   * Keys per call of `loadMany` (default 32): a batch runs on one database connection, so a turn with
   * many keys goes out as a few batches that the database can run on several cores.
   */
  maxBatch?: number;
}

/** Loads one key's value, sharing one `loadMany` call with the other keys asked for meanwhile. */
export interface KeyBatcher<V> {
  load(key: string): Promise<V | undefined>;
}

/**
 * Coalesces single-key loads made in the same turn of the event loop into one `loadMany` call (as
 * DataLoader does): the keys asked for while a turn's ready sockets are handled go out together when it
 * ends (setImmediate). Under many concurrent runs/get this is one database round trip for several
 * requests instead of one each. A failed call rejects every load of its batch.
 */
export function createKeyBatcher<V>(options: KeyBatcherOptions<V>): KeyBatcher<V> {
  const maxBatch = options.maxBatch ?? 32;
  type Waiter = { resolve: (v: V | undefined) => void; reject: (e: unknown) => void };
  let pending = new Map<string, Waiter[]>();
  let scheduled = false;

  async function run(batch: Map<string, Waiter[]>): Promise<void> {
    try {
      const values = await options.loadMany([...batch.keys()]);
      for (const [key, waiters] of batch) for (const w of waiters) w.resolve(values.get(key));
    } catch (e) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(e);
    }
  }

  function flush(): void {
    scheduled = false;
    const all = pending;
    pending = new Map();
    let batch = new Map<string, Waiter[]>();
    for (const [key, waiters] of all) {
      batch.set(key, waiters);
      if (batch.size === maxBatch) {
        void run(batch);
        batch = new Map();
      }
    }
    if (batch.size) void run(batch);
  }

  return {
    load(key) {
      return new Promise<V | undefined>((resolve, reject) => {
        const waiters = pending.get(key);
        if (waiters) waiters.push({ resolve, reject });
        else pending.set(key, [{ resolve, reject }]);
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}
