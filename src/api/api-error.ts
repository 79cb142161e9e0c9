import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';

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
  misdirectedRequest: 'misdirected_request',
  temporalUnavailable: 'temporal_unavailable',
  storageUnavailable: 'storage_unavailable',
  internalError: 'internal_error',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The one error body shape: `{"error": {"code", "message", "details"?}}`; a 400 whose `details`
 * had to leave issues out also says how many (`moreIssues`).
 */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown; moreIssues?: number };
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
    readonly moreIssues?: number,
  ) {
    super(message);
  }

  /** Seconds a client should wait before retrying, sent as `Retry-After` (a 503 that clears by itself). */
  retryAfterSeconds?: number;

  /** Sets {@link retryAfterSeconds}; returns the error, for `throw new ApiError(…).retryAfter(1)`. */
  retryAfter(seconds: number): this {
    this.retryAfterSeconds = seconds;
    return this;
  }

  body(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details !== undefined ? { details: this.details } : {}),
        ...(this.moreIssues ? { moreIssues: this.moreIssues } : {}),
      },
    };
  }
}

/** Most issues a 400 lists in `details`; the answer stays small whatever the manifest holds. */
export const MAX_LISTED_ISSUES = 100;
/** Longest `path` or `message` of one listed issue (a header name or an unknown key can be huge). */
const MAX_ISSUE_TEXT = 256;

function clip(text: string): string {
  return text.length <= MAX_ISSUE_TEXT ? text : `${text.slice(0, MAX_ISSUE_TEXT - 1)}…`;
}

/**
 * A `400` with `details` listing at most {@link MAX_LISTED_ISSUES} `{path, message}` issues, each
 * clipped to a few hundred characters; `moreIssues` counts the issues left out (plus `omitted`,
 * issues a validator only counted).
 */
export function issuesError(code: ErrorCode, message: string, issues: readonly { path: string; message: string }[], omitted = 0): ApiError {
  const listed = issues.slice(0, MAX_LISTED_ISSUES).map((issue) => ({ path: clip(issue.path), message: clip(issue.message) }));
  return new ApiError(400, code, message, listed, omitted + Math.max(0, issues.length - MAX_LISTED_ISSUES));
}

/** Marks the issue that counts the issues a validator left out of its error (see MAX_LISTED_ISSUES). */
export const OMITTED_ISSUES = 'fetchbox_omitted_issues';

/** One validation problem as the API reports it: a path (array form) and a message. */
export interface PathIssue {
  path: PropertyKey[];
  message: string;
}

/**
 * A zod issue as the issues a `400`'s `details` lists: an unknown field becomes one issue per
 * field, at that field's own path (`resouces`, `resources.0.ur`), because the contract's
 * `details` lists each bad field path; zod reports them as one issue at the parent's path.
 */
export function issuePaths(issue: z.core.$ZodIssue): PathIssue[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...issue.path, key], message: `unknown field ${JSON.stringify(key)}` }));
  }
  return [{ path: issue.path, message: issue.message }];
}

/**
 * The `400` of a failed zod validation: each issue as `{path, message}` (dotted path, `(body)` for
 * the root), plus the issues a validator only counted (an {@link OMITTED_ISSUES} issue: the
 * resources schema keeps at most 100 and counts the rest). Every route's validation answers
 * through this: the app's `defaultHook` and the submit route's manifest check.
 */
export function validationError(error: z.ZodError, code: ErrorCode, message: string): ApiError {
  let omitted = 0;
  const issues: { path: string; message: string }[] = [];
  for (const issue of error.issues) {
    const count = issue.code === 'custom' ? (issue.params as Record<string, unknown> | undefined)?.[OMITTED_ISSUES] : undefined;
    if (typeof count === 'number') omitted += count;
    else for (const { path, message } of issuePaths(issue)) issues.push({ path: path.map(String).join('.') || '(body)', message });
  }
  return issuesError(code, message, issues, omitted);
}
