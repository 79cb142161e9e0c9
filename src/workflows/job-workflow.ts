import { continueAsNew, defineQuery, defineSignal, defineUpdate, setHandler } from '@temporalio/workflow';
import type { JobProgress, JobResult, JobWorkflowInput, RetryAnswer } from './job-types.js';
import { JobScheduler } from './job-scheduler.js';
import { JobState } from './job-state.js';

export { PAGES_PER_RUN } from './job-scheduler.js';

/** Counts of finished pages plus the pages running now. */
export const summaryQuery = defineQuery<JobProgress>('summary');
/**
 * Downloads the job's failed resources again once the current pass is done. Its handler stays
 * registered so histories recorded before the `retry` Update replay; the API sends the Update.
 */
export const retrySignal = defineSignal('retryFailed');
/**
 * Downloads the job's failed resources again once the current pass is done, answering whether a
 * retry round will run. Its validator refuses a job that is being canceled or is failing. The API
 * sends it to a running job, and with Update-With-Start to a closed one (a new run that carries the
 * closed run's counts and runs only the retry round).
 */
export const retryUpdate = defineUpdate<RetryAnswer>('retry');

/**
 * One job (workflow id `job-<jobId>`): registers its message handlers, runs its pages
 * (job-scheduler.ts) and completes `completed` or `completed_with_failures`, continues as new, or
 * ends canceled when canceled. Its state (counts, running pages, retry requests) is job-state.ts.
 */
export async function jobWorkflow(input: JobWorkflowInput): Promise<JobResult> {
  const state = new JobState(input);
  setHandler(summaryQuery, () => state.progress());
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
  return state.complete();
}
