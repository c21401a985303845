/**
 * One error type for everything beatloom anticipates. `kind` decides the exit code in the CLI:
 * `usage` (bad input or config, exit 2), `failure` (something went wrong while working, exit 1),
 * `interrupted` (the user or a signal stopped us, exit 130).
 */
import type { ErrorCode } from './error-codes.js';

export type ErrorKind = 'usage' | 'failure' | 'interrupted';

export interface BeatloomErrorOptions {
  readonly hint?: string;
  readonly cause?: unknown;
  readonly kind?: ErrorKind;
}

export class BeatloomError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly kind: ErrorKind;

  constructor(code: ErrorCode, message: string, options: BeatloomErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BeatloomError';
    this.code = code;
    this.hint = options.hint;
    this.kind = options.kind ?? 'failure';
  }
}

/** Bad input from the user: a path, a flag value, a config file. Exit code 2. */
export function usageError(code: ErrorCode, message: string, hint?: string, cause?: unknown): BeatloomError {
  return new BeatloomError(code, message, { hint, cause, kind: 'usage' });
}

export class AbortedError extends BeatloomError {
  constructor(message = 'interrupted') {
    super('E_ABORTED', message, { kind: 'interrupted', hint: 'run the same command again to resume' });
    this.name = 'AbortedError';
  }
}

export function isAbortError(error: unknown): boolean {
  if (error instanceof AbortedError) return true;
  return error instanceof Error && (error.name === 'AbortError' || (error as { code?: unknown }).code === 'ABORT_ERR');
}

/** Throws an AbortedError when the signal has fired; call between units of work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError();
}

/** One line for a terminal: the message, then what to do. */
export function formatErrorLine(error: BeatloomError): string {
  return error.hint ? `${error.message} — ${error.hint}` : error.message;
}
