import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import type { JobWorkflowInput, PageResult } from './job-types.js';
import { runBatched } from './page-batch-scheduler.js';
import { recordLoadedPage } from './page-loader.js';
import type { PageState } from './page-state.js';

/**
 * Runs page 0's first round of a small job inside the job workflow (JobWorkflowInput.inlineRun):
 * one `downloadInline` activity publishes the inline manifest, makes the tasks through the handler
 * and their first attempts (all of them, up to the page's window at once); resources that failed
 * retryably are then retried alone, as a batched page does (page-batch-scheduler.ts). A job so costs
 * one workflow and one activity when nothing fails. Returns the page's result; a cancellation is
 * thrown to the caller (the job ends canceled).
 */
export async function runInlinePage(state: PageState, job: JobWorkflowInput): Promise<PageResult> {
  const { policy, manifestKey, pageKey } = state.input;
  const inline = job.manifest.inline!;
  const lanes = Math.max(1, Math.min(state.window, inline.resources.length));
  const { downloadInline } = proxyActivities<Activities>({
    // Its first attempts run back to back at worst; heartbeats (the outcomes so far) catch a dead worker.
    startToCloseTimeout: policy.attemptTimeoutMs * Math.ceil(inline.resources.length / lanes) + 60_000,
    heartbeatTimeout: policy.heartbeatTimeoutMs,
    // Like publishing: an accepted job whose manifest lives only in this history waits out a storage
    // outage; what retrying cannot fix fails the activity non-retryably (load-page.ts ioFailure).
    retry: { maximumAttempts: Number.POSITIVE_INFINITY, initialInterval: '1 second', maximumInterval: '1 minute' },
  });
  const run = await downloadInline.executeWithOptions({ summary: `${job.jobId}: ${inline.resources.length} resources inline` }, [
    {
      ...state.common,
      manifestKey,
      pageKey,
      submittedAt: job.submittedAt,
      inline,
      ...(policy.store !== undefined ? { store: policy.store } : {}),
      concurrency: lanes,
      attemptTimeoutMs: policy.attemptTimeoutMs,
    },
  ]);
  if (recordLoadedPage(state, run) === 'ready') await runBatched(state, Math.max(1, policy.batchSize ?? 1), run.outcomes);
  return state.result();
}
