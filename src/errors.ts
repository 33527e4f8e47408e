/**
 * The one catalog of error codes Tassel uses, with the HTTP status MLflow sends for each
 * (mlflow/exceptions.py ERROR_CODE_TO_HTTP_STATUS). Every layer throws {@link TasselError};
 * HTTP layers turn it into MLflow's `{error_code, message}` body, the CLI into an exit code.
 */
export const ERROR_STATUS = {
  INTERNAL_ERROR: 500,
  INVALID_STATE: 500,
  DATA_LOSS: 500,
  NOT_IMPLEMENTED: 501,
  TEMPORARILY_UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  REQUEST_LIMIT_EXCEEDED: 429,
  CANCELLED: 499,
  RESOURCE_EXHAUSTED: 429,
  ABORTED: 409,
  RESOURCE_CONFLICT: 409,
  ALREADY_EXISTS: 409,
  NOT_FOUND: 404,
  ENDPOINT_NOT_FOUND: 404,
  RESOURCE_DOES_NOT_EXIST: 404,
  PERMISSION_DENIED: 403,
  CUSTOMER_UNAUTHORIZED: 401,
  UNAUTHENTICATED: 401,
  BAD_REQUEST: 400,
  MALFORMED_REQUEST: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  INVALID_PARAMETER_VALUE: 400,
  /** Tassel-specific: a request body over the configured limit. */
  REQUEST_TOO_LARGE: 413,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Exit code of the CLI for problems with the user's input (bad data, bad flags). */
export const EXIT_USAGE = 2;
/** Exit code of the CLI for everything else that went wrong. */
export const EXIT_FAILURE = 1;
/** Exit code of `tassel pipeline run --fail-on-reject` when the gate did not pass the challenger. */
export const EXIT_GATE_REJECTED = 3;

/**
 * The command did its work, but its outcome must fail the process with `exitCode` (e.g. a gate rejection
 * under --fail-on-reject). The CLI prints `message` as one line, never a stack.
 */
export class CommandOutcomeError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'CommandOutcomeError';
    this.exitCode = exitCode;
  }
}

/** An error with an MLflow error code; `message` is safe to show to a caller. */
export class TasselError extends Error {
  readonly code: ErrorCode;
  /** Extra JSON fields sent along with error_code and message (as MLflow's json_kwargs). */
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TasselError';
    this.code = code;
    this.details = options?.details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  /** MLflow's wire form. */
  toJSON(): { error_code: ErrorCode; message: string } & Record<string, unknown> {
    return { error_code: this.code, message: this.message, ...(this.details ?? {}) };
  }
}

/** Raised for bad user input (files, flags, records): the CLI exits 2, HTTP answers 400. */
export class InputError extends TasselError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('INVALID_PARAMETER_VALUE', message, options);
    this.name = 'InputError';
  }
}

export const isTasselError = (e: unknown): e is TasselError => e instanceof TasselError;

/** HTTP status for any thrown value: catalogued errors keep theirs, anything else is a 500. */
export function statusOf(e: unknown): number {
  return isTasselError(e) ? e.status : 500;
}

/** The body to send for any thrown value; never leaks SQL, stack traces or driver messages. */
export function errorBody(e: unknown): { error_code: string; message: string } & Record<string, unknown> {
  if (isTasselError(e)) return e.toJSON();
  return { error_code: 'INTERNAL_ERROR', message: 'Internal error; see the server log for details.' };
}

/** Parse an MLflow error code name; unknown names map to INTERNAL_ERROR (as MLflow's client does). */
export function toErrorCode(name: unknown): ErrorCode {
  return typeof name === 'string' && name in ERROR_STATUS ? (name as ErrorCode) : 'INTERNAL_ERROR';
}
