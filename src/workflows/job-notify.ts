import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  proxyActivities,
  TimeoutFailure,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import { webhookOptions } from './activity-options.js';
import { NotifyStatus, type JobStatus, type NotifyEvent } from '../model/constants.js';
import type { JobState } from './job-state.js';
import type { NotifyMemo, WebhookFailureDetails } from '../model/notify-types.js';

/**
 * A close's `webhook-id`: the job workflow's id, the run that closed and the event. Stable across
 * the activity's attempts and workers (receivers deduplicate on it); a retry run that closes the
 * job again is a new run, so a new delivery with a new id.
 */
export function webhookIdOf(workflowId: string, runId: string, event: NotifyEvent): string {
  return `${workflowId}/${runId}/${event}`;
}

/** `scheme://host[:port]` of a webhook URL (no path or query: they may carry a receiver's token). */
export function webhookOrigin(url: string): string {
  return /^(https?:\/\/[^/?#]+)/i.exec(url)?.[1] ?? 'the webhook URL';
}

/**
 * Why delivery was given up, from the activity's failure: the last attempt's message and count. A
 * retryable last failure (or a timeout) means the retry window ran out: Temporal schedules no
 * attempt past the schedule-to-close timeout and fails with the last attempt's failure.
 */
function giveUpReason(err: ActivityFailure, retryForMs: number): { lastError: string; attempts?: number } {
  let lastError = err.message;
  let attempts: number | undefined;
  let windowSpent = err.cause instanceof TimeoutFailure;
  for (let cause: Error | undefined = err.cause; cause; cause = cause.cause as Error | undefined) {
    if (cause instanceof ApplicationFailure) {
      lastError = cause.message;
      attempts = (cause.details?.[0] as Partial<WebhookFailureDetails> | undefined)?.attempt;
      windowSpent ||= !cause.nonRetryable;
      break;
    }
    lastError = cause.message;
  }
  if (windowSpent) lastError = `retried for up to ${Math.round(retryForMs / 1000)} s; last attempt: ${lastError}`;
  return { lastError: lastError.slice(0, 500), ...(attempts !== undefined ? { attempts } : {}) };
}

/**
 * Delivers the job's completion webhook before the workflow closes (so a job is never reported
 * closed before its webhook was delivered or given up): when the job has `notify` and its closing
 * `status` is one of its events, one `deliverWebhook` activity retried with backoff for the job's
 * retry window. Not cancellable: a canceled job reports `canceled`, and a cancel that arrives during
 * delivery waits for it. The state goes into the memo (`notify`) for `GET /jobs/{jobId}`; while
 * delivering, retry Updates are refused (`state.closing`).
 */
export async function notifyClose(state: JobState, status: JobStatus): Promise<void> {
  const notify = state.input.notify;
  if (notify === undefined) return;
  const { workflowId, runId } = workflowInfo();
  const closedAt = new Date().toISOString();
  const record = (memo: NotifyMemo) => upsertMemo({ notify: { ...memo } });
  if (!(notify.events as readonly string[]).includes(status)) {
    record({ status: NotifyStatus.skipped, runId, closedAt });
    return;
  }
  const event = status as NotifyEvent;
  const webhookId = webhookIdOf(workflowId, runId, event);
  state.startClosing();
  record({ status: NotifyStatus.pending, runId, webhookId, closedAt });
  const { jobId, handler, submittedAt } = state.input;
  const { resources, bytes } = state.progress();
  const { deliverWebhook } = proxyActivities<Activities>({
    ...webhookOptions(notify),
    summary: `${event} webhook to ${webhookOrigin(notify.url)}`,
  });
  await CancellationScope.nonCancellable(async () => {
    try {
      const result = await deliverWebhook({
        webhookId,
        url: notify.url,
        timeoutMs: notify.timeoutMs,
        body: { type: event, jobId, handler, status, resources, bytes, startedAt: submittedAt, closedAt, links: notify.links },
      });
      record({ status: NotifyStatus.delivered, runId, webhookId, closedAt, attempts: result.attempts });
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      record({ status: NotifyStatus.failed, runId, webhookId, closedAt, ...giveUpReason(err, notify.retryForMs) });
    }
  });
}
