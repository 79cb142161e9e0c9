import { WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { jobWorkflowId, WorkflowTypes } from '../../model/ids.js';
import type { jobWorkflow } from '../../workflows/job-workflow.js';
import { retryUpdate } from '../../model/messages.js';
import { JobStatus, RETRY_REFUSED } from '../../model/constants.js';
import { type JobResult } from '../../model/job-types.js';
import { ApiError, ErrorCode } from '../api-error.js';
import type { JobContext } from '../jobs/job-context.js';
import { retryPriority } from '../submit/job-priority.js';
import { describeJob, statusOf } from '../jobs/job-status.js';
import type { RetryResult } from '../jobs/job-views.js';
import { isAlreadyCompleted, isNotFound } from '../../temporal/grpc-errors.js';

/** A retry's Update raced the job's close; the caller looks at the job again. */
class JobClosedWhileUpdating extends Error {
  override readonly name = 'JobClosedWhileUpdating';
  constructor(
    readonly jobId: string,
    options: ErrorOptions,
  ) {
    super(`job ${jobId} closed while a retry Update was sent`, options);
  }
}

/**
 * Downloads the job's failed resources again, through the job workflow's `retry` Update. A running
 * job records the request (a retry round runs after its current pass); a closed job with failures
 * gets the Update with a start (Update-With-Start): a new run of the same workflow id whose input is
 * the closed run's `resume` as it returned it, and whose handler records the request, so only the
 * retry round runs. Answers what the Update answered, or `retrying: false` for a closed job with
 * nothing failed. 409 job_not_retryable for a job that ended otherwise, or that the Update's
 * validator refuses (being canceled, failing).
 */
export async function retryJob(ctx: JobContext, jobId: string): Promise<RetryResult> {
  // A job can close between describe and Update: the Update then finds no running workflow
  // (not found / already completed), and the job is looked at again, now closed. Twice is enough
  // (a closed job does not become running again except by a retry, which answers 202 here too).
  for (let tries = 0; ; tries++) {
    try {
      return await retryOnce(ctx, jobId);
    } catch (err) {
      if (!(err instanceof JobClosedWhileUpdating)) throw err;
      // Closed under us three times: retry runs keep starting and closing; one is under way.
      if (tries >= 2) return { status: JobStatus.running, retrying: true };
    }
  }
}

async function retryOnce(ctx: JobContext, jobId: string): Promise<RetryResult> {
  const { client, config } = ctx.deps;
  const desc = await describeJob(ctx, jobId);
  const status = statusOf(desc);
  if (status === JobStatus.running) {
    try {
      return await ctx.temporal(() => client.workflow.getHandle(jobWorkflowId(jobId)).executeUpdate(retryUpdate));
    } catch (err) {
      if (isNotFound(err) || isAlreadyCompleted(err)) throw new JobClosedWhileUpdating(jobId, { cause: err });
      throw refusal(err) ?? err;
    }
  }
  if (status !== JobStatus.completed && status !== JobStatus.completedWithFailures) {
    throw new ApiError(409, ErrorCode.jobNotRetryable, `job ${jobId} is ${status}; reset its workflow instead (docs/runbook.md)`, {
      status,
    });
  }
  // The described run's result: a retry that started meanwhile must not be waited for.
  const closed = client.workflow.getHandle(jobWorkflowId(jobId), desc.runId, { followRuns: false });
  const result = (await ctx.temporal(() => closed.result())) as JobResult;
  const carry = result.resume.carry;
  if (!carry || carry.failedPages.length === 0) return { status, retrying: false };
  // USE_EXISTING: a retry run a concurrent request started takes this Update too (the requests
  // coalesce into its round); ALLOW_DUPLICATE: otherwise a new run of the closed job's id starts.
  const startWorkflowOperation = new WithStartWorkflowOperation<typeof jobWorkflow>(WorkflowTypes.job, {
    workflowId: jobWorkflowId(jobId),
    taskQueue: config.temporal.taskQueue,
    args: [result.resume],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    // The job's priority and fairness key carry over to the retry run (and so to its pages and activities).
    priority: retryPriority(desc.priority, config.api.fairnessWeights),
    memo: desc.memo ?? {},
    typedSearchAttributes: desc.typedSearchAttributes,
    staticSummary: `${result.handler} job ${jobId}: retry of ${carry.failed} failed resource${carry.failed === 1 ? '' : 's'}`,
  });
  try {
    return await ctx.temporal(() => client.workflow.executeUpdateWithStart(retryUpdate, { startWorkflowOperation }));
  } catch (err) {
    throw refusal(err) ?? err;
  }
}

/** The 409 for an Update the job's validator refused; undefined for any other error. */
function refusal(err: unknown): ApiError | undefined {
  if (!(err instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure) || cause.type !== RETRY_REFUSED) return undefined;
  const status = (cause.details?.[0] as { status?: JobStatus } | undefined)?.status ?? JobStatus.running;
  return new ApiError(409, ErrorCode.jobNotRetryable, `${cause.message} (docs/jobs.md)`, { status });
}
