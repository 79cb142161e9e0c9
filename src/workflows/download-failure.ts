import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { ErrorKind, type DownloadFailureDetails, type ResourceError } from './job-types.js';
import { MAX_MESSAGE_BYTES } from './page-budget.js';


/**
 * `text` cut so that its JSON string (escapes included) takes at most `maxBytes` UTF-8 bytes:
 * a state's message and content type have a fixed worst case, so a page's payload budget holds
 * whatever an origin sends. Pure string work, safe in workflow code (no Buffer).
 */
export function clipJson(text: string, maxBytes: number): string {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let n: number;
    let units = 1;
    if (c === 0x22 || c === 0x5c || c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) n = 2;
    else if (c < 0x20) n = 6;
    else if (c < 0x80) n = 1;
    else if (c < 0x800) n = 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n = 4;
      units = 2;
    } else if (c >= 0xd800 && c <= 0xdfff) n = 6; // a lone surrogate is escaped as \uXXXX
    else n = 3;
    if (bytes + n > maxBytes) return text.slice(0, i);
    bytes += n;
    i += units - 1;
  }
  return text;
}

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
 * `attemptsWhenExhausted` is the attempt count the activity's retry policy allows (with the
 * attempts made before it): when Temporal says the maximum was reached, that many were made, even
 * when the last ones timed out and so carry no attempt number of their own.
 */
export function downloadFailure(err: unknown, attemptsSoFar: number, attemptsWhenExhausted?: number): { error: ResourceError; attempts: number } {
  let cause: unknown = err;
  let exhausted = false;
  if (err instanceof ActivityFailure) {
    cause = err.cause;
    exhausted = err.retryState === 'MAXIMUM_ATTEMPTS_REACHED' || err.retryState === 'TIMEOUT';
    if (err.retryState === 'MAXIMUM_ATTEMPTS_REACHED' && attemptsWhenExhausted !== undefined) {
      attemptsSoFar = Math.max(attemptsSoFar, attemptsWhenExhausted);
    }
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
        message: clipJson(cause.message, MAX_MESSAGE_BYTES),
        ...(details.httpStatus !== undefined ? { httpStatus: details.httpStatus } : {}),
      },
    };
  }
  if (cause instanceof TimeoutFailure) {
    return { attempts: attemptsSoFar, error: { kind: ErrorKind.timeout, message: `download attempt ${cause.timeoutType} timeout` } };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { attempts: attemptsSoFar, error: { kind: ErrorKind.storage, message: clipJson(message, MAX_MESSAGE_BYTES) } };
}
