import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { clipMessage, readFailure, recordedError } from '../model/failure-rules.js';
import { ErrorKind } from '../model/constants.js';
import { type ResourceError } from '../model/job-types.js';

/**
 * Turns a failed `downloadResource` call into the resource's recorded error and attempt count:
 * the workflow side of failure-rules.ts, adapted to the workflow SDK's failure classes.
 * Retryable classes that ran out of attempts keep their kind when it says what to fix (timeout,
 * truncated, storage); HTTP 5xx/429 and connection errors become `retries_exhausted`.
 * `attemptsWhenExhausted` is the attempt count the activity's retry policy allows (with the
 * attempts made before it): when Temporal says the maximum was reached, that many were made, even
 * when the last ones timed out and so carry no attempt number of their own.
 */
export function downloadFailure(
  err: unknown,
  attemptsSoFar: number,
  attemptsWhenExhausted?: number,
): { error: ResourceError; attempts: number } {
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
    const failure = readFailure(cause);
    return { attempts: failure.attempt ?? attemptsSoFar, error: recordedError(failure, exhausted) };
  }
  if (cause instanceof TimeoutFailure) {
    return { attempts: attemptsSoFar, error: { kind: ErrorKind.timeout, message: `download attempt ${cause.timeoutType} timeout` } };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { attempts: attemptsSoFar, error: { kind: ErrorKind.storage, message: clipMessage(message) } };
}
