import { CursorSigner } from '../cursor.js';
import { isSearchAttributeNotRegistered } from '../../temporal/search-attributes-setup.js';
import type { JobServiceDeps } from './job-views.js';
import { isTemporalUnavailable } from '../../temporal/grpc-errors.js';
import { ApiError, ErrorCode } from '../api-error.js';

/** The 503 a crawler gets when Temporal cannot be reached, so it retries later. */
export function temporalUnavailable(err: unknown): ApiError {
  return new ApiError(503, ErrorCode.temporalUnavailable, `Temporal is unavailable; retry later (${(err as Error).message})`);
}

/** Temporal refused a FetchBox search attribute: not registered, or registered a moment ago. */
export function searchAttributesNotReady(): ApiError {
  return new ApiError(
    503,
    ErrorCode.temporalUnavailable,
    "FetchBox's search attributes are not registered in the Temporal namespace yet; start a `fetchbox worker` (it registers them) or register them (docs/deployment.md), then retry",
  ).retryAfter(1);
}

/** One Temporal call, bounded by a deadline, with outages turned into the API's 503s. */
export type TemporalCall = <T>(fn: () => Promise<T>, ms?: number) => Promise<T>;

/** What every job module works with: the service's dependencies, its bounded Temporal call and the cursor signer. */
export interface JobContext {
  deps: JobServiceDeps;
  temporal: TemporalCall;
  /** Signs the listings' cursors: keyed by `api.cursorSecret`, else a random key of this process. */
  cursors: CursorSigner;
}

/**
 * Builds the context the job modules share. Each Temporal call is bounded so a crawler gets a
 * prompt 503 rather than the SDK's long retries.
 */
export function createJobContext(deps: JobServiceDeps): JobContext {
  const temporal: TemporalCall = async (fn, ms = deps.config.api.temporalTimeoutMs) => {
    try {
      return await deps.client.connection.withDeadline(Date.now() + ms, fn);
    } catch (err) {
      if (isTemporalUnavailable(err)) throw temporalUnavailable(err);
      if (isSearchAttributeNotRegistered(err)) throw searchAttributesNotReady();
      throw err;
    }
  };
  const secret = deps.config.api.cursorSecret;
  return { deps, temporal, cursors: secret ? CursorSigner.fromSecret(secret) : CursorSigner.random() };
}
