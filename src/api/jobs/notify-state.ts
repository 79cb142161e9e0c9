import type { WorkflowExecutionDescription } from '@temporalio/client';
import { NotifyStatus } from '../../workflows/constants.js';
import type { JobMemo } from '../../workflows/job-types.js';
import { WEBHOOK_ACTIVITY } from '../../workflows/job-notify.js';
import type { NotifyView } from './job-views.js';

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
