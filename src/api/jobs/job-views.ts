import type { Client } from '@temporalio/client';
import type { Config } from '../../config/config-schema.js';
import type { HandlerRegistry } from '../../handlers/registry.js';
import type { Storage } from '../../storage/storage.js';
import type { JobStatus, NotifyStatus } from '../../model/constants.js';
import type { ResourceState, RetryAnswer } from '../../model/job-types.js';
import type { JobSummaryFields } from '../../model/notify-types.js';

/** What the job service needs; every job module receives it through a JobContext. */
export interface JobServiceDeps {
  client: Client;
  storage: Storage;
  handlers: HandlerRegistry;
  config: Config;
}

/** The answer to a submit: whether a new job started, and its id. */
export interface SubmitResult {
  jobId: string;
  created: boolean;
  /** The existing job's status when it was not created (a resubmit); a new job is `running`. */
  status?: JobStatus;
}

/** A job's summary as `GET /jobs/{jobId}` returns it (links added by the route). */
export interface JobSummary extends JobSummaryFields {
  /** The completion webhook's delivery (jobs with `notify` only; notifyStateOf in job-reader.ts). */
  notify?: NotifyView;
}

/** Where a job's completion webhook stands, as `GET /jobs/{jobId}` reports it. */
export interface NotifyView {
  status: NotifyStatus;
  webhookId?: string;
  attempts?: number;
  lastError?: string;
}

/** One job in a `GET /jobs` listing (from visibility: search attributes, no live query). */
export type JobListItem = JobSummary;

/** A page of jobs; `next` is the opaque cursor of the following page, if any. */
export interface JobListing {
  items: JobListItem[];
  next: string | null;
}

/** A page of resource states; `next` is the opaque cursor of the following page, if any. */
export interface ResourceListing {
  items: ResourceState[];
  next: string | null;
}

/** The answer to a retry: what the job workflow's `retry` Update answers (`{status, retrying}`). */
export type RetryResult = RetryAnswer;
