import type { Transaction } from 'kysely';
import type { AnyKysely } from './database.js';
import { type DbErrorMessages, isRetryableDbError, normalizeDbError } from './errors.js';

/** Options for {@link inTransaction}. */
export interface TransactionOptions extends DbErrorMessages {
  /** Attempts on serialization failures, deadlocks and SQLITE_BUSY (default 5). */
  attempts?: number;
}

/**
 * Runs `fn` in one transaction, retrying it on serialization failures and deadlocks with a short
 * randomised backoff, and normalising driver errors to the catalog (see {@link normalizeDbError}).
 */
export async function inTransaction<T>(
  db: AnyKysely,
  // biome-ignore lint/suspicious/noExplicitAny: spans every module's tables
  fn: (trx: Transaction<any>) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(fn);
    } catch (e) {
      if (attempt < attempts && isRetryableDbError(e)) {
        await new Promise((r) => setTimeout(r, 5 * 2 ** attempt * (0.5 + Math.random())));
        continue;
      }
      throw normalizeDbError(e, options);
    }
  }
}

/** Runs one statement (or a few) outside a transaction, normalising driver errors to the catalog. */
export async function withDbErrors<T>(fn: () => Promise<T>, messages: DbErrorMessages = {}): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw normalizeDbError(e, messages);
  }
}
