import type { ErrorKind, JobStatus } from '../../model/constants.js';
import { ApiError, ErrorCode } from '../api-error.js';
import type { JobContext } from '../jobs/job-context.js';
import { failedStates, latestStatus, listRuns, openFailedJob, type VisibleRun } from '../failures/failed-jobs.js';
import { fanOut } from '../fan-out.js';
import { failedJobsQuery, KIND_FILTER_STATUS, retryCandidatesQuery } from '../failures/visibility-query.js';

/** A `POST /retries` filter (at least one field; times ISO 8601 in UTC). */
export interface RetryFilter {
  status?: JobStatus;
  handler?: string;
  since?: string;
  kind?: ErrorKind;
}

/**
 * Bounds of matching a filter: jobs one request may retry, visibility rows read (a retried job's
 * earlier runs are rows too), job pages read to check a `kind`, and Temporal calls in flight.
 */
export const RetryBounds = {
  maxMatched: 1000,
  visibilityPageSize: 1000,
  maxRunsListed: 5000,
  kindPageReads: 2000,
  concurrency: 8,
} as const;

function tooMany(what: string): ApiError {
  return new ApiError(
    400,
    ErrorCode.invalidRequest,
    `the filter ${what}; narrow it (since, handler, status, kind) or send jobIds, at most ${RetryBounds.maxMatched} per request`,
    { maxMatched: RetryBounds.maxMatched },
  );
}

/** Newest run per job, in visibility order, over every page of `query` (bounded). */
async function newestRuns(ctx: JobContext, query: string): Promise<VisibleRun[]> {
  const runs = new Map<string, VisibleRun>();
  let token: string | null = null;
  let listed = 0;
  do {
    const page: Awaited<ReturnType<typeof listRuns>> = await listRuns(ctx, query, {
      ...(token ? { token } : {}),
      pageSize: RetryBounds.visibilityPageSize,
    });
    listed += page.runs.length;
    for (const run of page.runs) if (!runs.has(run.jobId)) runs.set(run.jobId, run);
    if (runs.size > RetryBounds.maxMatched) throw tooMany(`matches more than ${RetryBounds.maxMatched} jobs`);
    if (listed > RetryBounds.maxRunsListed && page.next) throw tooMany(`lists more than ${RetryBounds.maxRunsListed} job runs`);
    token = page.next;
  } while (token);
  return [...runs.values()];
}

/** True when the job's latest run has a failed resource of `kind` (stops at the first one found). */
async function hasFailureOfKind(ctx: JobContext, run: VisibleRun, kind: ErrorKind, charge: () => void): Promise<boolean> {
  const job = await openFailedJob(ctx, run);
  for (const page of job?.failedPages ?? []) {
    charge();
    if ((await failedStates(ctx, job!, page)).some((s) => s.error?.kind === kind)) return true;
  }
  return false;
}

/**
 * The jobIds a filter matches, newest first. Without `kind`: visibility (jobs with failed resources,
 * of the status and handler, closed, or running and started, at or after `since`), each job's latest
 * run only. With `kind`: the dead-letter view's jobs (completed with failures) that have at least one
 * failed resource of that kind, read from their failed pages (at most RetryBounds.kindPageReads).
 * More than RetryBounds.maxMatched jobs is `400 invalid_request`: narrow the filter.
 */
export async function matchRetryTargets(ctx: JobContext, filter: RetryFilter): Promise<string[]> {
  if (filter.kind !== undefined) {
    if (filter.status !== undefined && filter.status !== KIND_FILTER_STATUS) {
      throw new ApiError(
        400,
        ErrorCode.invalidRequest,
        `kind matches ${KIND_FILTER_STATUS} jobs only (their failures are final); leave out status or use ${KIND_FILTER_STATUS}`,
      );
    }
    const kind = filter.kind;
    const runs = await newestRuns(ctx, failedJobsQuery(filter));
    let reads = 0;
    const charge = () => {
      if (++reads > RetryBounds.kindPageReads) throw tooMany(`needs more than ${RetryBounds.kindPageReads} job pages read to check kind`);
    };
    let failure: unknown;
    const matches = await fanOut(
      runs,
      RetryBounds.concurrency,
      (run) => hasFailureOfKind(ctx, run, kind, charge).catch((err: unknown) => ((failure ??= err), false)),
      () => failure !== undefined,
    );
    if (failure !== undefined) throw failure;
    return runs.filter((_, i) => matches[i]).map((r) => r.jobId);
  }
  const runs = await newestRuns(ctx, retryCandidatesQuery(filter));
  let failure: unknown;
  // A job retried since its listed run (a newer run, running or closed) is not what the filter matched.
  const current = await fanOut(
    runs,
    RetryBounds.concurrency,
    (run) => latestStatus(ctx, run).catch((err: unknown) => ((failure ??= err), undefined)),
    () => failure !== undefined,
  );
  if (failure !== undefined) throw failure;
  return runs.filter((_, i) => current[i] !== undefined).map((r) => r.jobId);
}
