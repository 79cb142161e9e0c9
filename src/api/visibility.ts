/**
 * The pieces of Temporal's visibility query language the API's listings share (`GET /jobs`,
 * `GET /failures`, `POST /retries`): one status clause per contract status, string literals, and
 * visibility timestamps as ISO 8601. One place, so the listings cannot disagree on what a status means.
 */
import { JobStatus } from '../model/constants.js';
import { SearchAttributes } from '../model/search-attributes.js';

/** Visibility query clause for each contract status. */
export const JOB_STATUS_CLAUSE: Readonly<Record<JobStatus, string>> = {
  [JobStatus.running]: `ExecutionStatus = 'Running'`,
  [JobStatus.completed]: `ExecutionStatus = 'Completed' AND ${SearchAttributes.status.name} = 'completed'`,
  [JobStatus.completedWithFailures]: `ExecutionStatus = 'Completed' AND ${SearchAttributes.status.name} = 'completed_with_failures'`,
  [JobStatus.failed]: `ExecutionStatus = 'Failed'`,
  [JobStatus.canceled]: `ExecutionStatus = 'Canceled'`,
  [JobStatus.terminated]: `ExecutionStatus = 'Terminated'`,
  [JobStatus.timedOut]: `ExecutionStatus = 'TimedOut'`,
};

/** A string literal of the visibility query language. Callers pass validated values; quotes and backslashes are dropped anyway. */
export function literal(value: string): string {
  return `'${value.replace(/[\\']/g, '')}'`;
}

/** A visibility timestamp as ISO 8601, or undefined when absent. */
export function toIso(t: { seconds?: unknown; nanos?: number | null } | null | undefined): string | undefined {
  return t ? new Date(Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString() : undefined;
}
