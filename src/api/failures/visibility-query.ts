import { JobStatus } from '../../model/constants.js';
import { SearchAttributes } from '../../model/search-attributes.js';
import { JOB_STATUS_CLAUSE, literal } from '../visibility.js';
import { WorkflowTypes } from '../../model/ids.js';

/** Every FetchBox job workflow run that is the last of its chain (continued-as-new runs left out). */
const JOB_RUNS = [`WorkflowType = '${WorkflowTypes.job}'`, `ExecutionStatus != 'ContinuedAsNew'`] as const;
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
