import { errors as undiciErrors } from 'undici';
import type { FailureKind } from '../model/failure-rules.js';
import { ErrorKind } from '../model/constants.js';

export { ErrorKind };
/** Re-exported so fetch code names the failure classes from one place (failure-rules.ts). */
export type { FailureKind };

/**
 * A download attempt that failed, classified: whether another attempt may help, and when.
 * Thrown by the fetcher and turned into a Temporal ApplicationFailure by the activity.
 */
export class FetchFailure extends Error {
  override readonly name = 'FetchFailure';
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly retryable: boolean,
    readonly extra: { url: string; httpStatus?: number; retryAfterMs?: number; cause?: unknown },
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
  }
}

/** The target resolved to an address FetchBox refuses (private, loopback, metadata...). */
export class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError';
  readonly code = 'FETCHBOX_BLOCKED_ADDRESS';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(`${host} resolves to ${address} (${range}), which is not allowed; add it to FETCHBOX_FETCH_ALLOW_CIDRS to permit it`);
  }
}

/** Maps an error thrown by undici while connecting or waiting for headers to a FetchFailure. */
export function classifyNetworkError(err: unknown, url: string): FetchFailure {
  if (err instanceof FetchFailure) return err;
  if (err instanceof BlockedAddressError || (err as { code?: string })?.code === 'FETCHBOX_BLOCKED_ADDRESS') {
    return new FetchFailure(ErrorKind.blockedAddress, (err as Error).message, false, { url, cause: err });
  }
  if (
    err instanceof undiciErrors.ConnectTimeoutError ||
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError
  ) {
    return new FetchFailure(ErrorKind.timeout, `${(err as Error).message} (${url})`, true, { url, cause: err });
  }
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new FetchFailure('connection', `${message} (${url})`, true, { url, cause: err });
}
