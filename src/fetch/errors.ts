import type { FailureKind } from '../workflows/failure-rules.js';
import { ErrorKind } from '../workflows/constants.js';

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
