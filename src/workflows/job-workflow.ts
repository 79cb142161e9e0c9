import { continueAsNew, setHandler } from '@temporalio/workflow';
import type { JobResult, JobWorkflowInput } from '../model/job-types.js';
import { JobScheduler } from './job-scheduler.js';
import { JobState } from './job-state.js';
import { notifyClose } from './job-notify.js';
import { inlinePageQuery, retrySignal, retryUpdate, summaryQuery } from '../model/messages.js';

/**
 * One job (workflow id `job-<jobId>`): registers its message handlers, runs its pages
 * (job-scheduler.ts) and completes `completed` or `completed_with_failures`, continues as new, or
 * ends canceled when canceled; a job with `notify` delivers its completion webhook first (job-notify.ts). Its state (counts, running pages, retry requests) is job-state.ts.
 */
export async function jobWorkflow(input: JobWorkflowInput): Promise<JobResult> {
  const state = new JobState(input);
  setHandler(summaryQuery, () => state.progress());
  setHandler(inlinePageQuery, () => state.inlineAnswer());
  setHandler(retrySignal, () => state.requestRetry());
  setHandler(
    retryUpdate,
    () => {
      state.requestRetry();
      return state.retryAnswer();
    },
    { validator: () => state.validateRetry() },
  );

  const scheduler = new JobScheduler(state);
  if ((await scheduler.run()) === 'continue-as-new') {
    return await continueAsNew<typeof jobWorkflow>({ ...input, carry: state.carry });
  }
  await notifyClose(state, state.completionStatus());
  return state.complete();
}
