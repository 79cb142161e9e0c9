import type { WorkflowExecutionDescription } from '@temporalio/client';
import { jobWorkflowId } from '../../model/ids.js';
import { JobStatus } from '../../model/constants.js';
import { SearchAttributes } from '../../model/search-attributes.js';
import { ApiError, ErrorCode } from '../api-error.js';
import type { JobContext } from './job-context.js';
import { isNotFound } from '../../temporal/grpc-errors.js';

/** The contract's status for a described (or listed) job workflow. */
export function statusOf(desc: Pick<WorkflowExecutionDescription, 'status' | 'typedSearchAttributes'>): JobStatus {
  switch (desc.status.name) {
    case 'RUNNING':
    case 'CONTINUED_AS_NEW':
      return JobStatus.running;
    case 'COMPLETED': {
      const recorded = desc.typedSearchAttributes.get(SearchAttributes.status) as JobStatus | undefined;
      if (recorded === JobStatus.completed || recorded === JobStatus.completedWithFailures) return recorded;
      return (desc.typedSearchAttributes.get(SearchAttributes.failed) ?? 0) > 0 ? JobStatus.completedWithFailures : JobStatus.completed;
    }
    case 'CANCELLED':
      return JobStatus.canceled;
    case 'TERMINATED':
      return JobStatus.terminated;
    case 'TIMED_OUT':
      return JobStatus.timedOut;
    default:
      return JobStatus.failed;
  }
}

/** Describes a job's workflow (its latest run); 404 job_not_found when there is none. */
export async function describeJob({ deps, temporal }: JobContext, jobId: string): Promise<WorkflowExecutionDescription> {
  try {
    return await temporal(() => deps.client.workflow.getHandle(jobWorkflowId(jobId)).describe());
  } catch (err) {
    if (isNotFound(err)) throw new ApiError(404, ErrorCode.jobNotFound, `no job ${jobId}`);
    throw err;
  }
}
