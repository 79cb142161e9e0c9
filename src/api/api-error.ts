import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Machine-readable error codes the API answers with (the contract's, plus `internal_error`). */
export const ErrorCode = {
  invalidManifest: 'invalid_manifest',
  invalidRequest: 'invalid_request',
  unknownHandler: 'unknown_handler',
  jobConflict: 'job_conflict',
  jobNotFound: 'job_not_found',
  jobNotRunning: 'job_not_running',
  jobNotRetryable: 'job_not_retryable',
  notFound: 'not_found',
  payloadTooLarge: 'payload_too_large',
  unsupportedMediaType: 'unsupported_media_type',
  rateLimited: 'rate_limited',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  temporalUnavailable: 'temporal_unavailable',
  storageUnavailable: 'storage_unavailable',
  internalError: 'internal_error',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The one error body shape: `{"error": {"code", "message", "details"?}}`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

/**
 * An error with its HTTP status and code; thrown anywhere in a request and turned into the
 * error body by the app's single `onError`.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  body(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.details !== undefined ? { details: this.details } : {}) } };
  }
}
