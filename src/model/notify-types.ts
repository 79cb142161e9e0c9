/**
 * Shapes of completion webhooks (manifest `notify`) that cross the Temporal boundary: the job
 * workflow's input, the `deliverWebhook` activity's input and result, and the delivery state the
 * workflow keeps in its memo for the API. Types only.
 */
import type { JobStatus, NotifyEvent, NotifyStatus } from './constants.js';

/** A job's webhook, fixed at submit: the manifest's `notify` (or the configured default) and the delivery policy then in force. */
export interface JobNotify {
  url: string;
  /** The statuses that are reported; a job closing with another status sends nothing. */
  events: NotifyEvent[];
  /** One request's deadline (`webhooks.timeoutMs`). */
  timeoutMs: number;
  /** How long delivery is retried before it is given up (`webhooks.retryWindow`). */
  retryForMs: number;
  /** The job's links as `GET /jobs/{jobId}` gives them (the API's Temporal UI address). */
  links: { self: string; temporalUi: string };
}

/**
 * A job's summary as `GET /jobs/{jobId}` returns it, without what only the API adds (links, the
 * webhook's delivery): one shape for the API's answer and the webhook's body.
 */
export interface JobSummaryFields {
  jobId: string;
  handler: string;
  status: JobStatus;
  resources: { total: number; succeeded: number; failed: number; pending: number };
  bytes: number;
  startedAt: string;
  closedAt?: string;
}

/** The webhook's JSON body: the job's summary as `GET /jobs/{jobId}` closes it, with the event `type`. */
export interface WebhookBody extends JobSummaryFields {
  type: NotifyEvent;
  closedAt: string;
  links: { self: string; temporalUi: string };
}

/** Input of the `deliverWebhook` activity; `webhookId` is the same on every attempt. */
export interface DeliverWebhookInput {
  webhookId: string;
  url: string;
  timeoutMs: number;
  body: WebhookBody;
}

/** What a delivered webhook answered. */
export interface DeliverWebhookResult {
  /** Attempts made, this one included. */
  attempts: number;
  httpStatus: number;
}

/** The details of a failed `deliverWebhook` attempt (its ApplicationFailure's first detail). */
export interface WebhookFailureDetails {
  attempt: number;
  httpStatus?: number;
}

/**
 * The delivery state in the job workflow's memo (`notify`), read by `GET /jobs/{jobId}`. The API
 * writes `{status: "waiting"}` at submit; the run that closes the job writes the rest, with its
 * `runId` (a retry run's memo starts as a copy of the closed run's).
 */
export interface NotifyMemo {
  status: NotifyStatus;
  runId?: string;
  webhookId?: string;
  /** When the job's work ended (the webhook's `closedAt`); the workflow closes after delivery. */
  closedAt?: string;
  attempts?: number;
  lastError?: string;
}
