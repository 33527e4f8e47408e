import { type ErrorCode, TasselError, isTasselError } from '../../errors.js';

/** Messages to use when a driver error of a given kind surfaces from one operation. */
export interface DbErrorMessages {
  /** Unique or primary-key violation (RESOURCE_ALREADY_EXISTS). */
  alreadyExists?: string;
  /** Foreign-key violation: the parent row is missing (RESOURCE_DOES_NOT_EXIST). */
  missingParent?: string;
}

const SQLITE_CODES: Record<string, ErrorCode> = {
  SQLITE_CONSTRAINT_UNIQUE: 'RESOURCE_ALREADY_EXISTS',
  SQLITE_CONSTRAINT_PRIMARYKEY: 'RESOURCE_ALREADY_EXISTS',
  SQLITE_CONSTRAINT_FOREIGNKEY: 'RESOURCE_DOES_NOT_EXIST',
  SQLITE_CONSTRAINT_NOTNULL: 'INVALID_PARAMETER_VALUE',
  SQLITE_CONSTRAINT_CHECK: 'INVALID_PARAMETER_VALUE',
  SQLITE_TOOBIG: 'INVALID_PARAMETER_VALUE',
  SQLITE_BUSY: 'TEMPORARILY_UNAVAILABLE',
  SQLITE_LOCKED: 'TEMPORARILY_UNAVAILABLE',
  SQLITE_FULL: 'RESOURCE_EXHAUSTED',
};

// PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const PG_CODES: Record<string, ErrorCode> = {
  '23505': 'RESOURCE_ALREADY_EXISTS',
  '23503': 'RESOURCE_DOES_NOT_EXIST',
  '23502': 'INVALID_PARAMETER_VALUE',
  '23514': 'INVALID_PARAMETER_VALUE',
  '22001': 'INVALID_PARAMETER_VALUE',
  '22003': 'INVALID_PARAMETER_VALUE',
  '22P02': 'INVALID_PARAMETER_VALUE',
  '40001': 'TEMPORARILY_UNAVAILABLE',
  '40P01': 'TEMPORARILY_UNAVAILABLE',
  '53300': 'TEMPORARILY_UNAVAILABLE',
  '57P01': 'TEMPORARILY_UNAVAILABLE',
  '57P03': 'TEMPORARILY_UNAVAILABLE',
  '57014': 'DEADLINE_EXCEEDED',
  '53100': 'RESOURCE_EXHAUSTED',
};

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
]);

const GENERIC: Partial<Record<ErrorCode, string>> = {
  RESOURCE_ALREADY_EXISTS: 'A resource with the same identifier already exists.',
  RESOURCE_DOES_NOT_EXIST: 'A referenced resource does not exist.',
  INVALID_PARAMETER_VALUE: 'A value is invalid for the database (too long, out of range or missing).',
  TEMPORARILY_UNAVAILABLE: 'The database is busy or unreachable; retry the request.',
  DEADLINE_EXCEEDED: 'The database did not answer in time.',
  RESOURCE_EXHAUSTED: 'The database is out of space or memory.',
};

/** The catalog code a driver error maps to, or undefined for errors that are not recognised. */
export function dbErrorCode(e: unknown): ErrorCode | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string') {
    if (/timeout exceeded when trying to connect|Connection terminated/i.test(String((e as Error).message))) {
      return 'TEMPORARILY_UNAVAILABLE';
    }
    return undefined;
  }
  if (code in SQLITE_CODES) return SQLITE_CODES[code];
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'TEMPORARILY_UNAVAILABLE';
  if (code.startsWith('SQLITE_CONSTRAINT')) return 'INVALID_PARAMETER_VALUE';
  if (code in PG_CODES) return PG_CODES[code];
  if (NETWORK_CODES.has(code)) return 'TEMPORARILY_UNAVAILABLE';
  return undefined;
}

/**
 * Turns a driver error into a {@link TasselError} from the catalog. The driver's own message (which may
 * quote SQL or values) is kept only as `cause`, never in the message a caller sees. TasselErrors pass
 * through; unrecognised errors become INTERNAL_ERROR.
 */
export function normalizeDbError(e: unknown, messages: DbErrorMessages = {}): TasselError {
  if (isTasselError(e)) return e;
  const code = dbErrorCode(e) ?? 'INTERNAL_ERROR';
  let message = GENERIC[code] ?? 'Internal database error; see the server log for details.';
  if (code === 'RESOURCE_ALREADY_EXISTS' && messages.alreadyExists) message = messages.alreadyExists;
  if (code === 'RESOURCE_DOES_NOT_EXIST' && messages.missingParent) message = messages.missingParent;
  return new TasselError(code, message, { cause: e });
}

/** True for errors worth retrying a whole transaction for (lock contention, serialization, deadlock). */
export function isRetryableDbError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const code = (e as { code?: unknown }).code;
  return (
    code === '40001' ||
    code === '40P01' ||
    (typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')))
  );
}
