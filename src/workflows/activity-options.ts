/**
 * The options every activity FetchBox's workflows schedule runs under: timeouts, heartbeats and
 * retry policies, in one place so a change to one is seen beside the others. Each is recorded in
 * the history of the workflow that schedules it.
 */
import type { ActivityOptions } from '@temporalio/workflow';
import type { JobNotify } from '../model/notify-types.js';
import type { JobPolicy } from '../model/job-types.js';

/**
 * How long the I/O activities (`publishManifest`, `loadPage`, `failedTasks`) may go without a
 * heartbeat. They heartbeat every 5 s while they run (`keptAlive` in activities/create-activities.ts), so a worker that
 * dies in one is noticed after this, not after the 5-minute start-to-close.
 */
export const IO_HEARTBEAT_TIMEOUT = '30 seconds';

/** Completion webhook attempts back off from 1 s, doubling, to at most this wait between two attempts. */
export const WEBHOOK_MAX_INTERVAL_MS = 10 * 60_000;

/** Beyond a webhook request's own deadline, what an attempt may take before Temporal retries it elsewhere (a dead worker's attempt). */
const WEBHOOK_ATTEMPT_MARGIN_MS = 5_000;

/**
 * Retried until storage answers, at most a minute apart: an accepted job whose manifest lives only
 * in its history must wait out a storage outage, not fail. What retrying cannot fix (a corrupt or
 * missing staged page, a bug) the activities throw non-retryable (load-page.ts).
 */
const UNTIL_STORAGE_ANSWERS = { maximumAttempts: Number.POSITIVE_INFINITY, initialInterval: '1 second', maximumInterval: '1 minute' };

/**
 * The I/O activities (`publishManifest`, `loadPage`, `failedTasks`): 5 minutes start-to-close (a
 * handler's listings may take that long), the heartbeat timeout, retried until storage answers.
 */
export function ioOptions() {
  return {
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: IO_HEARTBEAT_TIMEOUT,
    retry: UNTIL_STORAGE_ANSWERS,
  } satisfies ActivityOptions;
}

/** `downloadResource`: every attempt of one resource under the job's retry policy and timeouts. */
export function downloadOptions(policy: JobPolicy) {
  const { retry } = policy;
  return {
    startToCloseTimeout: policy.attemptTimeoutMs,
    heartbeatTimeout: policy.heartbeatTimeoutMs,
    retry: {
      maximumAttempts: retry.maximumAttempts,
      initialInterval: retry.initialIntervalMs,
      backoffCoefficient: retry.backoffCoefficient,
      maximumInterval: retry.maximumIntervalMs,
      // No nonRetryableErrorTypes: `http_status` is permanent for 404 and retryable for 503, so
      // the activity marks each failure nonRetryable itself.
    },
  } satisfies ActivityOptions;
}

/** Options of one resource's downloads (the job's, or shifted after a batch's attempt). */
export type DownloadOptions = ReturnType<typeof downloadOptions>;

/**
 * `downloadResource` for a resource whose first attempt a batch made: the job's retry policy
 * shifted by that attempt (one attempt fewer, starting from the second interval).
 */
export function aloneOptions(policy: JobPolicy): DownloadOptions {
  const { retry } = policy;
  const options = downloadOptions(policy);
  const secondInterval = Math.min(retry.initialIntervalMs * retry.backoffCoefficient, retry.maximumIntervalMs);
  return {
    ...options,
    retry: { ...options.retry, maximumAttempts: Math.max(1, retry.maximumAttempts - 1), initialInterval: secondInterval },
  };
}

/**
 * `downloadBatch` of `size` tasks over `lanes`: it runs ceil(size / lanes) attempts back to back at
 * worst; heartbeats catch a dead worker, and a failed batch is retried from its last heartbeat.
 */
export function batchOptions(policy: JobPolicy, size: number, lanes: number) {
  return {
    startToCloseTimeout: policy.attemptTimeoutMs * Math.ceil(size / lanes) + 60_000,
    heartbeatTimeout: policy.heartbeatTimeoutMs,
    retry: { maximumAttempts: 5, initialInterval: '1 second', maximumInterval: '30 seconds' },
  } satisfies ActivityOptions;
}

/**
 * `downloadInline` of `count` resources over `lanes`: its first attempts run back to back at worst,
 * heartbeats (the outcomes so far) catch a dead worker, and like publishing it is retried until
 * storage answers.
 */
export function inlineOptions(policy: JobPolicy, count: number, lanes: number) {
  return {
    startToCloseTimeout: policy.attemptTimeoutMs * Math.ceil(count / lanes) + 60_000,
    heartbeatTimeout: policy.heartbeatTimeoutMs,
    retry: UNTIL_STORAGE_ANSWERS,
  } satisfies ActivityOptions;
}

/**
 * `deliverWebhook`: each attempt the request's deadline plus a margin, retried with backoff for the
 * job's retry window (Temporal schedules no attempt past the schedule-to-close timeout).
 */
export function webhookOptions(notify: JobNotify) {
  return {
    startToCloseTimeout: notify.timeoutMs + WEBHOOK_ATTEMPT_MARGIN_MS,
    scheduleToCloseTimeout: notify.retryForMs,
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: WEBHOOK_MAX_INTERVAL_MS },
  } satisfies ActivityOptions;
}
