import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { ErrorKind, type DownloadFailureDetails, type ResourceError } from './job-types.js';

/** Longest error message kept in a resource's state (the ledger stays compact). */
const MAX_MESSAGE = 500;

/**
 * The kind recorded when a retryable failure ran out of attempts: timeout, truncated and storage
 * say what to fix and stay; HTTP 5xx/429 and connection errors become `retries_exhausted`.
 */
export function exhaustedKind(kind: string): ErrorKind {
  const known = (Object.values(ErrorKind) as string[]).includes(kind) ? (kind as ErrorKind) : ErrorKind.retriesExhausted;
  return known === ErrorKind.timeout || known === ErrorKind.truncated || known === ErrorKind.storage ? known : ErrorKind.retriesExhausted;
}

/**
 * Turns a failed `downloadResource` call into the resource's recorded error and attempt count.
 * Retryable classes that ran out of attempts keep their kind when it says what to fix (timeout,
 * truncated, storage); HTTP 5xx/429 and connection errors become `retries_exhausted`.
 */
export function downloadFailure(err: unknown, attemptsSoFar: number): { error: ResourceError; attempts: number } {
  let cause: unknown = err;
  let exhausted = false;
  if (err instanceof ActivityFailure) {
    cause = err.cause;
    exhausted = err.retryState === 'MAXIMUM_ATTEMPTS_REACHED' || err.retryState === 'TIMEOUT';
  }
  if (cause instanceof ApplicationFailure) {
    const details = (cause.details?.[0] ?? {}) as Partial<DownloadFailureDetails>;
    const raw = details.kind ?? cause.type ?? ErrorKind.storage;
    const known = (Object.values(ErrorKind) as string[]).includes(raw) ? (raw as ErrorKind) : ErrorKind.retriesExhausted;
    const keepsKind = known === ErrorKind.timeout || known === ErrorKind.truncated || known === ErrorKind.storage;
    const kind = exhausted && !keepsKind ? ErrorKind.retriesExhausted : known;
    return {
      attempts: details.attempt ?? attemptsSoFar,
      error: {
        kind,
        message: cause.message.slice(0, MAX_MESSAGE),
        ...(details.httpStatus !== undefined ? { httpStatus: details.httpStatus } : {}),
      },
    };
  }
  if (cause instanceof TimeoutFailure) {
    return { attempts: attemptsSoFar, error: { kind: ErrorKind.timeout, message: `download attempt ${cause.timeoutType} timeout` } };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { attempts: attemptsSoFar, error: { kind: ErrorKind.storage, message: message.slice(0, MAX_MESSAGE) } };
}
