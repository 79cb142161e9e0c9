import { JobStatus } from '../../workflows/job-types.js';
import { SearchAttributes } from '../../workflows/search-attributes.js';

/**
 * Visibility query clause for each contract status. (src/api/jobs/job-listing.ts keeps the same
 * map for `GET /jobs`; it should import this one.)
 */
export const JOB_STATUS_CLAUSE: Readonly<Record<JobStatus, string>> = {
  running: `ExecutionStatus = 'Running'`,
  completed: `ExecutionStatus = 'Completed' AND ${SearchAttributes.status.name} = 'completed'`,
  completed_with_failures: `ExecutionStatus = 'Completed' AND ${SearchAttributes.status.name} = 'completed_with_failures'`,
  failed: `ExecutionStatus = 'Failed'`,
  canceled: `ExecutionStatus = 'Canceled'`,
  terminated: `ExecutionStatus = 'Terminated'`,
  timed_out: `ExecutionStatus = 'TimedOut'`,
};

/** A string literal of the visibility query language. Callers pass validated values; quotes and backslashes are dropped anyway. */
export function literal(value: string): string {
  return `'${value.replace(/[\\']/g, '')}'`;
}

/** Every FetchBox job workflow run that is the last of its chain (continued-as-new runs left out). */
const JOB_RUNS = [`WorkflowType = 'jobWorkflow'`, `ExecutionStatus != 'ContinuedAsNew'`] as const;
/** Runs that recorded at least one failed resource. */
const WITH_FAILURES = `${SearchAttributes.failed.name} > 0`;

/**
 * The dead-letter view's jobs: runs that completed with failed resources (`FetchBoxResourcesFailed > 0`),
 * closed within [since, until], of one handler. Running jobs are left out (their failures may still be
 * retried by a round); canceled, failed, terminated and timed-out ones cannot be retried.
 */
export function failedJobsQuery(filter: { since?: string; until?: string; handler?: string }): string {
  const clauses: string[] = [...JOB_RUNS, `ExecutionStatus = 'Completed'`, WITH_FAILURES];
  if (filter.handler !== undefined) clauses.push(`${SearchAttributes.handler.name} = ${literal(filter.handler)}`);
  if (filter.since !== undefined) clauses.push(`CloseTime >= ${literal(filter.since)}`);
  if (filter.until !== undefined) clauses.push(`CloseTime <= ${literal(filter.until)}`);
  return clauses.join(' AND ');
}

/**
 * The jobs a `POST /retries` filter names: runs with failed resources (nothing else has anything to
 * retry), of a status and a handler, closed at or after `since` (running ones: started at or after).
 */
export function retryCandidatesQuery(filter: { status?: JobStatus; handler?: string; since?: string }): string {
  const clauses: string[] = [...JOB_RUNS, WITH_FAILURES];
  if (filter.status !== undefined) clauses.push(`(${JOB_STATUS_CLAUSE[filter.status]})`);
  if (filter.handler !== undefined) clauses.push(`${SearchAttributes.handler.name} = ${literal(filter.handler)}`);
  if (filter.since !== undefined) {
    const since = literal(filter.since);
    clauses.push(`(CloseTime >= ${since} OR (ExecutionStatus = 'Running' AND StartTime >= ${since}))`);
  }
  return clauses.join(' AND ');
}

/** The status a `kind` filter implies: only closed jobs with failures have final failure kinds. */
export const KIND_FILTER_STATUS = JobStatus.completedWithFailures;
