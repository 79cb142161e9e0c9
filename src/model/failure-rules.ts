/**
 * How a failed download is classified and recorded: the failure kinds, which ones another attempt
 * may fix, the kind kept once attempts run out, the details a failure carries between activity and
 * workflow, and how long a recorded message may be. Pure (no I/O, no SDK classes), so workflow code
 * uses it as well: the activities (src/activities/failures.ts) and the page workflow
 * (src/workflows/download-failure.ts) only adapt it to their SDK's failure types.
 */
import { ErrorKind } from './constants.js';
import { type DownloadFailureDetails } from './download-types.js';
import { type ResourceError } from './job-types.js';
import { MAX_MESSAGE_BYTES } from './page-budget.js';

/**
 * Failure classes below the contract's kinds: `connection` is how a retryable network error
 * travels between attempts; once attempts run out it is reported as `retries_exhausted`.
 */
export type FailureKind = ErrorKind | 'connection';

/** HTTP statuses worth another attempt besides 5xx (the contract: 408, 425, 429 and 5xx). */
const RETRYABLE_HTTP_STATUSES: ReadonlySet<number> = new Set([408, 425, 429]);

/** Kinds another attempt may fix whatever the response; `http_status` depends on the status. */
const RETRYABLE_KINDS: ReadonlySet<FailureKind> = new Set<FailureKind>([
  'connection',
  ErrorKind.timeout,
  ErrorKind.truncated,
  ErrorKind.storage,
]);

/** Retryable kinds that keep their name when attempts run out: each says what to fix. */
const KEPT_WHEN_EXHAUSTED: ReadonlySet<ErrorKind> = new Set<ErrorKind>([ErrorKind.timeout, ErrorKind.truncated, ErrorKind.storage]);

/** Whether an HTTP answer with this status is worth another attempt: 408, 425, 429 and 5xx. */
export function isRetryableHttpStatus(status: number): boolean {
  return status >= 500 || RETRYABLE_HTTP_STATUSES.has(status);
}

/**
 * Whether another attempt may fix a failure of this kind: connection errors, timeouts, truncated
 * bodies and storage errors may; too large, blocked, invalid and handler failures may not; an
 * HTTP status failure may when its status is retryable ({@link isRetryableHttpStatus}).
 */
export function isRetryable(kind: FailureKind, httpStatus?: number): boolean {
  if (kind === ErrorKind.httpStatus) return httpStatus !== undefined && isRetryableHttpStatus(httpStatus);
  return RETRYABLE_KINDS.has(kind);
}

/** A kind as the contract names it: an unknown one (e.g. `connection`) reads as `retries_exhausted`. */
export function contractKind(kind: string): ErrorKind {
  return (Object.values(ErrorKind) as string[]).includes(kind) ? (kind as ErrorKind) : ErrorKind.retriesExhausted;
}

/**
 * The kind recorded when a retryable failure ran out of attempts: timeout, truncated and storage
 * say what to fix and stay; HTTP 5xx/429 and connection errors become `retries_exhausted`.
 */
export function exhaustedKind(kind: string): ErrorKind {
  const known = contractKind(kind);
  return KEPT_WHEN_EXHAUSTED.has(known) ? known : ErrorKind.retriesExhausted;
}

/**
 * `text` cut so that its JSON string (escapes included) takes at most `maxBytes` UTF-8 bytes:
 * a state's message and content type have a fixed worst case, so a page's payload budget holds
 * whatever an origin sends. Pure string work, safe in workflow code (no Buffer).
 */
export function clipJson(text: string, maxBytes: number): string {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let n: number;
    let units = 1;
    if (c === 0x22 || c === 0x5c || c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) n = 2;
    else if (c < 0x20) n = 6;
    else if (c < 0x80) n = 1;
    else if (c < 0x800) n = 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n = 4;
      units = 2;
    } else if (c >= 0xd800 && c <= 0xdfff)
      n = 6; // a lone surrogate is escaped as \uXXXX
    else n = 3;
    if (bytes + n > maxBytes) return text.slice(0, i);
    bytes += n;
    i += units - 1;
  }
  return text;
}

/** A recorded error message: clipped to {@link MAX_MESSAGE_BYTES} of JSON. */
export function clipMessage(message: string): string {
  return clipJson(message, MAX_MESSAGE_BYTES);
}

/** The details a classified failure carries (ApplicationFailure details[0]): kind, attempt, HTTP status. */
export function failureDetails(kind: FailureKind, attempt: number, httpStatus?: number): DownloadFailureDetails {
  return { kind, attempt, ...(httpStatus !== undefined ? { httpStatus } : {}) };
}

/** The parts of an ApplicationFailure the rules read (the activity and workflow SDKs' classes both have them). */
export interface FailureParts {
  type?: string | null | undefined;
  message: string;
  details?: readonly unknown[] | null | undefined;
}

/** What a classified failure says, read back: its kind as sent (maybe `connection`), clipped message, status, attempt. */
export interface ReadFailure {
  kind: string;
  message: string;
  httpStatus?: number;
  attempt?: number;
}

/**
 * Reads a classified failure back: the kind from its details (else its type, else `storage`: an
 * unclassified failure is FetchBox's own), the message clipped, the HTTP status and attempt when sent.
 */
export function readFailure(failure: FailureParts): ReadFailure {
  const details = (failure.details?.[0] ?? {}) as Partial<DownloadFailureDetails>;
  return {
    kind: details.kind ?? failure.type ?? ErrorKind.storage,
    message: clipMessage(failure.message),
    ...(details.httpStatus !== undefined ? { httpStatus: details.httpStatus } : {}),
    ...(details.attempt !== undefined ? { attempt: details.attempt } : {}),
  };
}

/**
 * The error a resource records for a failure: its contract kind, or, when its attempts ran out,
 * the {@link exhaustedKind}.
 */
export function recordedError(failure: ReadFailure, exhausted: boolean): ResourceError {
  return {
    kind: exhausted ? exhaustedKind(failure.kind) : contractKind(failure.kind),
    message: failure.message,
    ...(failure.httpStatus !== undefined ? { httpStatus: failure.httpStatus } : {}),
  };
}
