import { WorkflowNotFoundError, isGrpcServiceError } from '@temporalio/client';

/** gRPC status codes FetchBox reacts to (numeric, as @grpc/grpc-js defines them). */
export const GrpcStatus = { INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, UNAVAILABLE: 14 } as const;

/** True for errors that mean Temporal could not be reached (as opposed to a refusal). */
export function isTemporalUnavailable(err: unknown): boolean {
  if (isGrpcServiceError(err)) {
    return ([GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.RESOURCE_EXHAUSTED] as number[]).includes(err.code);
  }
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (cause && isGrpcServiceError(cause)) return isTemporalUnavailable(cause);
  return err instanceof Error && /ECONNREFUSED|UNAVAILABLE|Failed to connect|connection/i.test(err.message);
}

/** No such workflow (or run): a job that does not exist, or a page run that never started. */
export function isNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || (isGrpcServiceError(err) && err.code === GrpcStatus.NOT_FOUND);
}

/** A signal or Update found the workflow already closed ("workflow execution already completed"). */
export function isAlreadyCompleted(err: unknown): boolean {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  const message = err instanceof Error ? err.message : '';
  return /already completed|already finished/i.test(message) || (cause !== undefined && cause !== err && isAlreadyCompleted(cause));
}
