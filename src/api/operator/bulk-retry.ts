import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { JobStatus } from '../../model/constants.js';
import { ApiError } from '../api-error.js';
import type { JobContext } from '../jobs/job-context.js';
import { retryJob } from './retry-job.js';
import { fanOut } from '../fan-out.js';
import { matchRetryTargets, RetryBounds, type RetryFilter } from './retry-targets.js';

/** What a `POST /retries` asks: named jobs, or a filter; `dryRun` only reports the match. */
export type BulkRetryRequest = ({ jobIds: string[] } | { filter: RetryFilter }) & { dryRun?: boolean };

/** What became of one matched job. */
export const RetryOutcome = {
  /** A retry round is under way (`POST /jobs/{jobId}/retry` answered `retrying: true`). */
  retrying: 'retrying',
  /** The job had no failed resources left. */
  nothingToRetry: 'nothing_to_retry',
  /** Canceled, failed, terminated or timed out: `409 job_not_retryable`. */
  notRetryable: 'not_retryable',
  notFound: 'not_found',
  /** Temporal could not be reached; the fan-out stopped here. */
  unavailable: 'unavailable',
  /** Any other refusal or fault; `message` says what. */
  error: 'error',
  /** Not tried: the fan-out stopped (Temporal unavailable) before this job. */
  notAttempted: 'not_attempted',
  /** `dryRun`: the job matches; nothing was done. */
  matched: 'matched',
} as const;
export type RetryOutcome = (typeof RetryOutcome)[keyof typeof RetryOutcome];

/** One matched job and its outcome. */
export interface BulkRetryJob {
  jobId: string;
  outcome: RetryOutcome;
  status?: JobStatus;
  message?: string;
}

/** The answer: how many jobs matched, how many are retrying, the rest counted by outcome, and each job. */
export interface BulkRetryResult {
  /** Names this request in the API log, where its outcome is logged. */
  batchId: string;
  dryRun: boolean;
  matched: number;
  retried: number;
  skipped: Partial<Record<RetryOutcome, number>>;
  jobs: BulkRetryJob[];
}

/** One job's retry as an outcome; a 503 is kept to stop the fan-out (and answer 503 if nothing was retried). */
async function retryOne(ctx: JobContext, jobId: string, onUnavailable: (err: ApiError) => void): Promise<BulkRetryJob> {
  try {
    const { status, retrying } = await retryJob(ctx, jobId);
    return { jobId, outcome: retrying ? RetryOutcome.retrying : RetryOutcome.nothingToRetry, status };
  } catch (err) {
    if (!(err instanceof ApiError)) return { jobId, outcome: RetryOutcome.error, message: (err as Error).message };
    if (err.status === 404) return { jobId, outcome: RetryOutcome.notFound };
    if (err.status === 409) return { jobId, outcome: RetryOutcome.notRetryable, message: err.message };
    if (err.status === 503) {
      onUnavailable(err);
      return { jobId, outcome: RetryOutcome.unavailable, message: err.message };
    }
    return { jobId, outcome: RetryOutcome.error, message: err.message };
  }
}

/**
 * Retries every job a request matches through `retryJob` (the single-job retry, so each job gets
 * exactly what `POST /jobs/{jobId}/retry` gives it), RetryBounds.concurrency at a time, and answers
 * once every job has its outcome. A fan-out, not a Temporal batch operation: a batch signal reaches
 * running workflows only, while a closed job's retry starts a new run with its carried state.
 * Temporal unreachable: the fan-out stops (the rest `not_attempted`); with nothing retried, the 503.
 */
export async function bulkRetry(ctx: JobContext, request: BulkRetryRequest, logger?: Logger): Promise<BulkRetryResult> {
  const batchId = randomUUID();
  const jobIds = 'jobIds' in request ? [...new Set(request.jobIds)] : await matchRetryTargets(ctx, request.filter);
  const dryRun = request.dryRun === true;
  let unavailable: ApiError | undefined;
  const done = dryRun
    ? jobIds.map((jobId) => ({ jobId, outcome: RetryOutcome.matched }))
    : await fanOut(
        jobIds,
        RetryBounds.concurrency,
        (jobId) => retryOne(ctx, jobId, (err) => (unavailable ??= err)),
        () => unavailable !== undefined,
      );
  const jobs = done.map((job, i): BulkRetryJob => job ?? { jobId: jobIds[i]!, outcome: RetryOutcome.notAttempted });
  const retried = jobs.filter((j) => j.outcome === RetryOutcome.retrying).length;
  if (unavailable && retried === 0) throw unavailable;
  const skipped: Partial<Record<RetryOutcome, number>> = {};
  for (const j of jobs)
    if (j.outcome !== RetryOutcome.retrying && j.outcome !== RetryOutcome.matched) skipped[j.outcome] = (skipped[j.outcome] ?? 0) + 1;
  const result = { batchId, dryRun, matched: jobIds.length, retried, skipped, jobs };
  logger?.info(
    { batchId, dryRun, matched: result.matched, retried, skipped, by: 'jobIds' in request ? 'jobIds' : request.filter },
    'bulk retry',
  );
  return result;
}
