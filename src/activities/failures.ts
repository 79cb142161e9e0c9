import { ApplicationFailure } from '@temporalio/activity';
import { isGrpcServiceError } from '@temporalio/client';
import { classifyNetworkError, ErrorKind, FetchFailure, type FailureKind } from '../fetch/errors.js';
import { BodyRejectedError, BodyRejection, InvalidKeyError, StorageError } from '../storage/errors.js';
import { failureDetails, isRetryable, readFailure } from '../model/failure-rules.js';
import type { BatchOutcome } from '../model/download-types.js';

/**
 * A classified download failure: the activity side of src/model/failure-rules.ts, adapted to
 * the activity SDK's ApplicationFailure. `type` is the failure kind, `nonRetryable` marks permanent
 * failures (by default what the rules say of the kind; the fetcher decides for its own failures),
 * `nextRetryDelay` carries the origin's Retry-After, and the details record the kind, attempt and
 * HTTP status the workflow turns into the resource's error.
 */
export function fail(
  kind: FailureKind,
  message: string,
  attempt: number,
  extra: { httpStatus?: number; retryAfterMs?: number; retryable?: boolean } = {},
): ApplicationFailure {
  const retryable = extra.retryable ?? isRetryable(kind, extra.httpStatus);
  return ApplicationFailure.create({
    type: kind,
    message,
    nonRetryable: !retryable,
    details: [failureDetails(kind, attempt, extra.httpStatus)],
    ...(retryable && extra.retryAfterMs !== undefined ? { nextRetryDelay: extra.retryAfterMs } : {}),
  });
}

/** Turns anything a download attempt threw into a classified ApplicationFailure. */
export function toFailure(
  err: unknown,
  url: string,
  bytesSoFar: number,
  expected: number | undefined,
  attempt: number,
): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof FetchFailure) {
    return fail(err.kind, err.message, attempt, {
      retryable: err.retryable,
      ...(err.extra.httpStatus !== undefined ? { httpStatus: err.extra.httpStatus } : {}),
      ...(err.extra.retryAfterMs !== undefined ? { retryAfterMs: err.extra.retryAfterMs } : {}),
    });
  }
  if (err instanceof BodyRejectedError) {
    return err.reason === BodyRejection.tooLarge
      ? fail(ErrorKind.tooLarge, err.message, attempt)
      : fail(ErrorKind.truncated, `${err.message} (${url})`, attempt);
  }
  if (err instanceof StorageError) return fail(ErrorKind.storage, err.message, attempt);
  if (err instanceof InvalidKeyError) return fail(ErrorKind.handler, err.message, attempt);
  // An error while the body streamed: short of Content-Length means truncated.
  const classified = classifyNetworkError(err, url);
  if (expected !== undefined && bytesSoFar < expected && classified.kind === 'connection') {
    return fail(ErrorKind.truncated, `body ended after ${bytesSoFar} of ${expected} bytes: ${classified.message}`, attempt);
  }
  return fail(classified.kind, classified.message, attempt, { retryable: classified.retryable });
}

/**
 * The outcome of a batch download that threw: `failed` for a permanent class, `retry` for the
 * rest (with Retry-After), `timeout` when the attempt's own time budget ran out.
 */
export function batchFailure(index: number, err: unknown, timedOut: boolean, budgetMs: number): BatchOutcome {
  if (timedOut) return { index, retry: { kind: ErrorKind.timeout, message: `download attempt took longer than ${budgetMs} ms` } };
  const failure = err instanceof ApplicationFailure ? err : fail(ErrorKind.storage, err instanceof Error ? err.message : String(err), 1);
  const read = readFailure(failure);
  // The kind as sent (maybe `connection`): the workflow maps it when the resource's attempts run out.
  const error = {
    kind: read.kind as ErrorKind,
    message: read.message,
    ...(read.httpStatus !== undefined ? { httpStatus: read.httpStatus } : {}),
  };
  if (failure.nonRetryable) return { index, failed: error };
  const delay = failure.nextRetryDelay;
  const retryAfterMs = typeof delay === 'number' ? delay : undefined;
  return { index, retry: { ...error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) } };
}

/** Failure types loadPage and failedTasks throw as non-retryable (retrying cannot fix them). */
export const LoadFailure = {
  corruptPage: 'corrupt_staged_page',
  missingPage: 'staged_page_missing',
  unexpected: 'load_failed',
} as const;

/**
 * What loadPage and failedTasks throw: storage and Temporal outages as they are (retried until
 * they answer), anything else as a non-retryable failure (a bug or bad data: retrying forever
 * would only hide it).
 */
export function ioFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure || err instanceof StorageError) return err;
  if (isGrpcServiceError(err) || isGrpcServiceError((err as { cause?: unknown } | undefined)?.cause)) return err;
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EAI_AGAIN|EMFILE|ENFILE|EBUSY|EIO)$/.test(code)) return err;
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return ApplicationFailure.create({
    type: LoadFailure.unexpected,
    message: message.slice(0, 1000),
    nonRetryable: true,
    ...(err instanceof Error ? { cause: err } : {}),
  });
}
