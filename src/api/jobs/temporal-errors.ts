import { WorkflowNotFoundError, isGrpcServiceError } from '@temporalio/client';
import { ApiError, ErrorCode } from '../api-error.js';

/** gRPC status codes the service reacts to (numeric, as @grpc/grpc-js defines them). */
const grpcStatus = { DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, UNAVAILABLE: 14 } as const;

/** True for errors that mean Temporal could not be reached (as opposed to a refusal). */
export function isTemporalUnavailable(err: unknown): boolean {
  if (isGrpcServiceError(err)) {
    return ([grpcStatus.UNAVAILABLE, grpcStatus.DEADLINE_EXCEEDED, grpcStatus.RESOURCE_EXHAUSTED] as number[]).includes(err.code);
  }
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (cause && isGrpcServiceError(cause)) return isTemporalUnavailable(cause);
  return err instanceof Error && /ECONNREFUSED|UNAVAILABLE|Failed to connect|connection/i.test(err.message);
}

/** No such workflow (or run): a job that does not exist, or a page run that never started. */
export function isNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || (isGrpcServiceError(err) && err.code === grpcStatus.NOT_FOUND);
}

/** A signal found the workflow already closed ("workflow execution already completed"). */
export function isAlreadyCompleted(err: unknown): boolean {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  const message = err instanceof Error ? err.message : '';
  return /already completed|already finished/i.test(message) || (cause !== undefined && cause !== err && isAlreadyCompleted(cause));
}

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
