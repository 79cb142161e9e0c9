/**
 * The words FetchBox's states are made of (the contract's job statuses, resource statuses and error
 * kinds), the retry Update's refusal type and the webhook activity's name, as `as const` objects
 * and constants: the workflows, the activities, the API's zod enums and the CLI all read them from here.
 */

/** Resource states as the API reports them. */
export const ResourceStatus = {
  pending: 'pending',
  succeeded: 'succeeded',
  failed: 'failed',
} as const;
export type ResourceStatus = (typeof ResourceStatus)[keyof typeof ResourceStatus];

/** Job states as the contract names them. */
export const JobStatus = {
  running: 'running',
  completed: 'completed',
  completedWithFailures: 'completed_with_failures',
  failed: 'failed',
  canceled: 'canceled',
  terminated: 'terminated',
  timedOut: 'timed_out',
} as const;
export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus];

/**
 * Every way a resource can end badly, as recorded in `error.kind` (the contract's list). One
 * object so the activity, the workflow and the API agree on the words.
 */
export const ErrorKind = {
  httpStatus: 'http_status',
  retriesExhausted: 'retries_exhausted',
  blockedAddress: 'blocked_address',
  tooLarge: 'too_large',
  timeout: 'timeout',
  truncated: 'truncated',
  storage: 'storage',
  handler: 'handler',
  invalidUrl: 'invalid_url',
} as const;
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

/** The error type of a `retry` Update the job's validator refused (the API answers 409 job_not_retryable). */
export const RETRY_REFUSED = 'JobNotRetryable';

/** The job statuses a completion webhook can report (manifest `notify.events`; all three by default). */
export const NotifyEvent = {
  completed: 'completed',
  completedWithFailures: 'completed_with_failures',
  canceled: 'canceled',
} as const;
export type NotifyEvent = (typeof NotifyEvent)[keyof typeof NotifyEvent];

/**
 * Where a job's completion webhook stands (`notify.status` in `GET /jobs/{jobId}`): `waiting` while
 * the job works, `pending` while it is delivered (the job is still `running`), `delivered` after a
 * 2xx, `failed` once given up (410, a refused address, the retry window spent), `skipped` when the
 * job ended with a status its `events` leave out or in a way no event names (failed, terminated).
 */
export const NotifyStatus = {
  waiting: 'waiting',
  pending: 'pending',
  delivered: 'delivered',
  failed: 'failed',
  skipped: 'skipped',
} as const;
export type NotifyStatus = (typeof NotifyStatus)[keyof typeof NotifyStatus];

/** The activity that POSTs a completion webhook (create-activities.ts); the API reads its pending attempts by this name. */
export const WEBHOOK_ACTIVITY = 'deliverWebhook';
