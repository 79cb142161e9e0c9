import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { jobWorkflowId } from '../../workflows/ids.js';
import { jobWorkflow, retrySignal } from '../../workflows/job-workflow.js';
import { JobStatus, type JobResult } from '../../workflows/job-types.js';
import { ApiError, ErrorCode } from '../api-error.js';
import type { JobContext } from './job-context.js';
import { describeJob, statusOf } from './job-status.js';
import type { RetryResult } from './job-views.js';
import { isAlreadyCompleted, isNotFound } from './temporal-errors.js';

/** A retry's signal raced the job's close; the caller looks at the job again. */
class JobClosedWhileSignaling extends Error {
  override readonly name = 'JobClosedWhileSignaling';
  constructor(
    readonly jobId: string,
    options: ErrorOptions,
  ) {
    super(`job ${jobId} closed while a retry signal was sent`, options);
  }
}

/**
 * Downloads the job's failed resources again. A running job gets a `retryFailed` signal (a
 * retry round runs after its current pass); a closed job with failures gets a new run of the
 * same workflow id that carries its counts and runs only the retry round.
 */
export async function retryJob(ctx: JobContext, jobId: string): Promise<RetryResult> {
  // A job can close between describe and signal: the signal then finds no running workflow
  // (not found / already completed), and the job is looked at again, now closed. Twice is enough
  // (a closed job does not become running again except by a retry, which answers 202 here too).
  for (let tries = 0; ; tries++) {
    try {
      return await retryOnce(ctx, jobId);
    } catch (err) {
      if (!(err instanceof JobClosedWhileSignaling)) throw err;
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
      await ctx.temporal(() => client.workflow.getHandle(jobWorkflowId(jobId)).signal(retrySignal));
    } catch (err) {
      if (isNotFound(err) || isAlreadyCompleted(err)) throw new JobClosedWhileSignaling(jobId, { cause: err });
      throw err;
    }
    return { status, retrying: true };
  }
  if (status !== JobStatus.completed && status !== JobStatus.completedWithFailures) {
    throw new ApiError(409, ErrorCode.jobNotRetryable, `job ${jobId} is ${status}; reset its workflow instead (docs/runbook.md)`, { status });
  }
  // The described run's result: a retry that started meanwhile must not be waited for.
  const closed = client.workflow.getHandle(jobWorkflowId(jobId), desc.runId, { followRuns: false });
  const result = (await ctx.temporal(() => closed.result())) as JobResult;
  const carry = result.resume.carry;
  if (!carry || carry.failedPages.length === 0) return { status, retrying: false };
  try {
    await ctx.temporal(() =>
      client.workflow.start(jobWorkflow, {
        workflowId: jobWorkflowId(jobId),
        taskQueue: config.temporal.taskQueue,
        args: [{ ...result.resume, carry: { ...carry, retryRequests: 1 } }],
        memo: desc.memo ?? {},
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        typedSearchAttributes: desc.typedSearchAttributes,
        staticSummary: `${result.handler} job ${jobId}: retry of ${carry.failed} failed resource${carry.failed === 1 ? '' : 's'}`,
      }),
    );
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err; // a concurrent retry won
  }
  return { status: JobStatus.running, retrying: true };
}
