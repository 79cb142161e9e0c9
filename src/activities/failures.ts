import { ApplicationFailure } from '@temporalio/activity';
import { ErrorKind, FetchFailure, type FailureKind } from '../fetch/errors.js';
import { classifyNetworkError } from '../fetch/fetcher.js';
import { BodyRejectedError, BodyRejection, InvalidKeyError, StorageError } from '../storage/errors.js';
import { clipJson } from '../workflows/download-failure.js';
import type { BatchOutcome, DownloadFailureDetails } from '../workflows/job-types.js';
import { MAX_MESSAGE_BYTES } from '../workflows/page-budget.js';

/**
 * A classified download failure: `type` is the failure kind, `nonRetryable` marks permanent
 * failures, `nextRetryDelay` carries the origin's Retry-After, and the details record the kind,
 * attempt and HTTP status the workflow turns into the resource's error.
 */
export function fail(
  kind: FailureKind,
  message: string,
  retryable: boolean,
  attempt: number,
  extra: { httpStatus?: number; retryAfterMs?: number } = {},
): ApplicationFailure {
  const details: DownloadFailureDetails = {
    kind,
    attempt,
    ...(extra.httpStatus !== undefined ? { httpStatus: extra.httpStatus } : {}),
  };
  return ApplicationFailure.create({
    type: kind,
    message,
    nonRetryable: !retryable,
    details: [details],
    ...(retryable && extra.retryAfterMs !== undefined ? { nextRetryDelay: extra.retryAfterMs } : {}),
  });
}

/** Turns anything a download attempt threw into a classified ApplicationFailure. */
export function toFailure(err: unknown, url: string, bytesSoFar: number, expected: number | undefined, attempt: number): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof FetchFailure) {
    return fail(err.kind, err.message, err.retryable, attempt, {
      ...(err.extra.httpStatus !== undefined ? { httpStatus: err.extra.httpStatus } : {}),
      ...(err.extra.retryAfterMs !== undefined ? { retryAfterMs: err.extra.retryAfterMs } : {}),
    });
  }
  if (err instanceof BodyRejectedError) {
    return err.reason === BodyRejection.tooLarge
      ? fail(ErrorKind.tooLarge, err.message, false, attempt)
      : fail(ErrorKind.truncated, `${err.message} (${url})`, true, attempt);
  }
  if (err instanceof StorageError) return fail(ErrorKind.storage, err.message, true, attempt);
  if (err instanceof InvalidKeyError) return fail(ErrorKind.handler, err.message, false, attempt);
  // An error while the body streamed: short of Content-Length means truncated.
  const classified = classifyNetworkError(err, url);
  if (expected !== undefined && bytesSoFar < expected && classified.kind === 'connection') {
    return fail(ErrorKind.truncated, `body ended after ${bytesSoFar} of ${expected} bytes: ${classified.message}`, true, attempt);
  }
  return fail(classified.kind, classified.message, classified.retryable, attempt);
}

/**
 * The outcome of a batch download that threw: `failed` for a permanent class, `retry` for the
 * rest (with Retry-After), `timeout` when the attempt's own time budget ran out.
 */
export function batchFailure(index: number, err: unknown, timedOut: boolean, budgetMs: number): BatchOutcome {
  if (timedOut) return { index, retry: { kind: ErrorKind.timeout, message: `download attempt took longer than ${budgetMs} ms` } };
  const failure = err instanceof ApplicationFailure ? err : fail(ErrorKind.storage, err instanceof Error ? err.message : String(err), true, 1);
  const details = (failure.details?.[0] ?? {}) as Partial<DownloadFailureDetails>;
  const error = {
    kind: (details.kind ?? failure.type ?? ErrorKind.storage) as ErrorKind,
    message: clipJson(failure.message, MAX_MESSAGE_BYTES),
    ...(details.httpStatus !== undefined ? { httpStatus: details.httpStatus } : {}),
  };
  if (failure.nonRetryable) return { index, failed: error };
  const delay = failure.nextRetryDelay;
  const retryAfterMs = typeof delay === 'number' ? delay : undefined;
  return { index, retry: { ...error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) } };
}
