import type { ErrorKind } from '../../model/constants.js';
import type { ResourceError } from '../../model/job-types.js';

/**
 * What `GET /failures` filters on. Times are ISO 8601 (normalized to UTC by the route); `since` and
 * `until` bound the close time of the job run that holds the failure, `handler` and `kind` match
 * exactly, `host` matches the resource URL's host case-insensitively.
 */
export interface FailureFilter {
  since?: string;
  until?: string;
  handler?: string;
  kind?: ErrorKind;
  host?: string;
}

/** One failed resource of the dead-letter view: where it belongs, what it was, why it failed. */
export interface FailureItem {
  jobId: string;
  handler: string;
  /** The resource's id within its job. */
  id: string;
  url: string;
  key: string;
  /** Attempts over every round (first pass and retries). */
  attempts: number;
  error: ResourceError;
  /** When the failure was final: the close time of the job run that recorded it (ISO 8601). */
  when: string;
  /** The job's page (0-based) that holds the resource. */
  page: number;
}

/** A page of the dead-letter view; `next` is the opaque cursor of the following page, if any. */
export interface FailureListing {
  items: FailureItem[];
  next: string | null;
}
