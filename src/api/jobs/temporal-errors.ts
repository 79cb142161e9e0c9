import { ApiError, ErrorCode } from '../api-error.js';

// The classification of Temporal's errors lives in src/temporal/grpc-errors.ts (the ledger reader
// uses it too); the API's routes import it from here beside the ApiErrors built from it.
export { isAlreadyCompleted, isNotFound, isTemporalUnavailable } from '../../temporal/grpc-errors.js';

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
