import { jobWorkflowId } from '../../workflows/ids.js';
import { JobStatus } from '../../workflows/constants.js';
import { ApiError, ErrorCode } from '../api-error.js';
import type { JobContext } from './job-context.js';
import { describeJob, statusOf } from './job-status.js';

/** Cancels a running job (idempotent for an already canceled one); 409 for any other status. */
export async function cancelJob(ctx: JobContext, jobId: string): Promise<{ status: JobStatus }> {
  const desc = await describeJob(ctx, jobId);
  const status = statusOf(desc);
  if (status === JobStatus.canceled) return { status };
  if (status !== JobStatus.running) {
    throw new ApiError(409, ErrorCode.jobNotRunning, `job ${jobId} is ${status}, not running`, { status });
  }
  await ctx.temporal(() => ctx.deps.client.workflow.getHandle(jobWorkflowId(jobId)).cancel());
  return { status };
}
