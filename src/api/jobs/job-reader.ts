import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow/index.js';
import type { BatchOutcome } from '../../model/download-types.js';
import { jobWorkflowId, pageWorkflowId } from '../../model/ids.js';
import { JobStatus, NotifyStatus, WEBHOOK_ACTIVITY } from '../../model/constants.js';
import { type JobMemo, type JobProgress, type PageProgress } from '../../model/job-types.js';
import { pageSummaryQuery, summaryQuery } from '../../model/messages.js';
import { roundCountsDelta, type RoundCountsDelta } from '../../model/round-merge.js';
import { SearchAttributes } from '../../model/search-attributes.js';
import type { JobContext } from './job-context.js';
import { describeJob, statusOf } from './job-status.js';
import type { JobSummary, NotifyView } from './job-views.js';

/** Clips a receiver-influenced message (an error text) for the answer. */
function clip(text: string): string {
  return text.length <= 500 ? text : `${text.slice(0, 499)}…`;
}

/**
 * A job's webhook delivery state for `GET /jobs/{jobId}`, from the described run: its memo
 * (`notify`, written by the run that closes the job; a copy of an earlier run's counts as
 * `waiting`), and while delivering the pending `deliverWebhook` activity's attempt and last
 * failure. Undefined for a job without `notify`. `closedAt` is when the job's work ended.
 */
export function notifyStateOf(desc: WorkflowExecutionDescription): { view: NotifyView; closedAt?: string } | undefined {
  const memo = ((desc.memo ?? {}) as Partial<JobMemo>).notify;
  if (memo === undefined) return undefined;
  const running = desc.status.name === 'RUNNING';
  if (memo.runId !== desc.runId) return { view: { status: running ? NotifyStatus.waiting : NotifyStatus.skipped } };
  const view: NotifyView = {
    status: memo.status,
    ...(memo.webhookId !== undefined ? { webhookId: memo.webhookId } : {}),
    ...(memo.attempts !== undefined ? { attempts: memo.attempts } : {}),
    ...(memo.lastError !== undefined ? { lastError: clip(memo.lastError) } : {}),
  };
  if (memo.status === NotifyStatus.pending) {
    const pending = desc.raw.pendingActivities?.find((a) => a.activityType?.name === WEBHOOK_ACTIVITY);
    if (pending?.attempt) view.attempts = pending.attempt;
    const last = pending?.lastFailure?.message;
    if (last) view.lastError = clip(last);
    if (!running) {
      view.status = NotifyStatus.failed;
      view.lastError = `the job's workflow closed (${desc.status.name.toLowerCase()}) before its webhook was delivered`;
    }
  }
  return { view, ...(memo.closedAt !== undefined ? { closedAt: memo.closedAt } : {}) };
}

/** How long the API waits for a live answer from a running job before using search attributes. */
const QUERY_DEADLINE_MS = 3_000;

/** The activity a small job's inline run makes its first attempts in (create-activities.ts). */
const INLINE_ACTIVITY = 'downloadInline';

/**
 * What the first attempts of a small job's inline run (JobWorkflowInput.inlineRun) have settled so
 * far: its pending `downloadInline` activity's last heartbeat (the outcomes so far), from the
 * describe the summary made. The job workflow counts them itself once the activity returned.
 */
async function inlineAttempts(client: Client, desc: WorkflowExecutionDescription): Promise<RoundCountsDelta> {
  const counts = { succeeded: 0, failed: 0, bytes: 0 };
  const pending = desc.raw.pendingActivities?.find((a) => a.activityType?.name === INLINE_ACTIVITY);
  const payloads = pending?.heartbeatDetails?.payloads;
  if (!payloads?.length) return counts;
  const outcomes = await decodeFromPayloadsAtIndex<unknown>(client.options.loadedDataConverter, 0, payloads).catch(() => undefined);
  if (!Array.isArray(outcomes)) return counts;
  for (const o of outcomes as Partial<BatchOutcome>[]) {
    if (o && 'ok' in o && o.ok) {
      counts.succeeded++;
      counts.bytes += typeof o.ok.bytes === 'number' ? o.ok.bytes : 0;
    } else if (o && 'failed' in o) counts.failed++;
  }
  return counts;
}

/** Live counts of a running job: the job's own counts plus those of its running pages. */
async function liveProgress(
  { deps, temporal }: JobContext,
  jobId: string,
  desc: WorkflowExecutionDescription,
): Promise<JobProgress | undefined> {
  const { client } = deps;
  const deadline = Math.min(QUERY_DEADLINE_MS, deps.config.api.temporalTimeoutMs);
  try {
    const live = await temporal(() => client.workflow.getHandle(jobWorkflowId(jobId)).query(summaryQuery), deadline);
    const pages = await Promise.all(
      live.runningPages.map(({ page, round, inline }) =>
        inline
          ? inlineAttempts(client, desc).then((c) => ({ page, round, tasks: 0, ...c }))
          : temporal(() => client.workflow.getHandle(pageWorkflowId(jobId, page, round)).query(pageSummaryQuery), deadline).catch(
              () => undefined as PageProgress | undefined,
            ),
      ),
    );
    for (const p of pages) {
      if (!p) continue;
      const delta = roundCountsDelta(p); // the job workflow's rule for a finished page (round-merge.ts)
      live.resources.succeeded += delta.succeeded;
      live.resources.failed += delta.failed;
      live.bytes += delta.bytes;
    }
    live.resources.pending = Math.max(live.resources.total - live.resources.succeeded - live.resources.failed, 0);
    return live;
  } catch {
    return undefined; // no worker answered in time: the published counts are still true, only older
  }
}

/**
 * The job summary. Closed jobs are answered from search attributes (one describe call, no
 * worker needed); running jobs from the workflow's live queries, falling back to search
 * attributes when no worker answers in time.
 */
export async function jobSummary(ctx: JobContext, jobId: string): Promise<JobSummary> {
  const desc = await describeJob(ctx, jobId);
  const sa = desc.typedSearchAttributes;
  const memo = (desc.memo ?? {}) as Partial<JobMemo>;
  const status = statusOf(desc);
  let total = sa.get(SearchAttributes.total) ?? 0;
  let succeeded = sa.get(SearchAttributes.succeeded) ?? 0;
  let failed = sa.get(SearchAttributes.failed) ?? 0;
  let bytes = sa.get(SearchAttributes.bytes) ?? 0;
  if (status === JobStatus.running) {
    const live = await liveProgress(ctx, jobId, desc);
    if (live) {
      ({ total, succeeded, failed } = live.resources);
      bytes = live.bytes;
    }
  }
  // A job with a webhook closes after delivering it: its work ended at the memo's closedAt.
  const notify = notifyStateOf(desc);
  const closedAt = notify?.closedAt ?? desc.closeTime?.toISOString();
  return {
    jobId,
    handler: sa.get(SearchAttributes.handler) ?? 'default',
    status,
    resources: { total, succeeded, failed, pending: Math.max(total - succeeded - failed, 0) },
    bytes,
    startedAt: memo.startedAt ?? desc.startTime.toISOString(),
    ...(closedAt && status !== JobStatus.running ? { closedAt } : {}),
    ...(notify ? { notify: notify.view } : {}),
  };
}
