import type { WorkflowExecutionDescription } from '@temporalio/client';
import { JobStatus, type ResourceStatus } from '../model/constants.js';
import { jobWorkflowId } from '../model/ids.js';
import { ApiError, ErrorCode } from './api-error.js';
import type { Logger } from 'pino';
import { bulkRetry, type BulkRetryRequest, type BulkRetryResult } from './operator/bulk-retry.js';
import type { FailureFilter, FailureListing } from './failures/failure-views.js';
import { listFailures } from './failures/list-failures.js';
import { createJobContext, type JobContext } from './jobs/job-context.js';
import { listJobs } from './jobs/job-listing.js';
import { openJobEvents, type JobEvent, type JobEventsOptions } from './jobs/job-events.js';
import { jobSummary } from './jobs/job-reader.js';
import { describeJob, statusOf } from './jobs/job-status.js';
import type { JobListing, JobServiceDeps, JobSummary, ResourceListing, RetryResult, SubmitResult } from './jobs/job-views.js';
import { listResources } from './jobs/resource-states.js';
import { retryJob } from './operator/retry-job.js';
import { submitJob } from './submit/submit-job.js';
import type { ManifestLimits } from './submit/manifest-limits.js';
import type { Manifest } from './submit/manifest-schema.js';
import { temporalUiUrlOf } from './job-path.js';

/**
 * The API's view of jobs: submits manifests as workflows (idempotent by jobId, fingerprinted by
 * a manifest hash kept in the workflow memo) and reads job state back from Temporal only: search
 * attributes and queries for summaries, page workflows' results for per-resource states. A thin
 * facade over the rooms: submit/ (submit-job.ts), jobs/ (the reads: job-reader.ts,
 * resource-states.ts, job-listing.ts, job-events.ts), operator/ (retry-job.ts, bulk-retry.ts) and
 * failures/ (list-failures.ts); cancel, a describe and one signal, is the one it does itself.
 */
export class JobService {
  private readonly ctx: JobContext;

  constructor(private readonly deps: JobServiceDeps) {
    this.ctx = createJobContext(deps);
  }

  /**
   * The value a metric may carry for a handler name: registered names as they are, anything else
   * `other`, so a caller cannot grow a metric's label set with made-up handler names.
   */
  handlerLabel(name: string): string {
    return this.deps.handlers.has(name) ? name : 'other';
  }

  /** The configured manifest limits, so the app can refuse an oversized manifest before validating it. */
  get manifestLimits(): ManifestLimits {
    return this.deps.config.limits;
  }

  /**
   * Validates what zod cannot (limits, handler, unique ids) and starts the job's workflow, with the
   * submitting client (client-identity.ts) as its fairness key.
   */
  submit(manifest: Manifest, client: string): Promise<SubmitResult> {
    return submitJob(this.ctx, manifest, client);
  }

  /** Describes a job's workflow (its latest run); 404 job_not_found when there is none. */
  describe(jobId: string): Promise<WorkflowExecutionDescription> {
    return describeJob(this.ctx, jobId);
  }

  /** The job summary: search attributes when closed, live queries when running (job-reader.ts). */
  summary(jobId: string): Promise<JobSummary> {
    return jobSummary(this.ctx, jobId);
  }

  /** A page of per-resource states in manifest order, merged across retry rounds (resource-states.ts). */
  resources(jobId: string, opts: { status?: ResourceStatus; cursor?: string; limit: number }): Promise<ResourceListing> {
    return listResources(this.ctx, jobId, opts);
  }

  /** Downloads the job's failed resources again (retry-job.ts). */
  retry(jobId: string): Promise<RetryResult> {
    return retryJob(this.ctx, jobId);
  }

  /** Cancels a running job (idempotent for an already canceled one); 409 job_not_running for any other status. */
  async cancel(jobId: string): Promise<{ status: JobStatus }> {
    const status = statusOf(await describeJob(this.ctx, jobId));
    if (status === JobStatus.canceled) return { status };
    if (status !== JobStatus.running) {
      throw new ApiError(409, ErrorCode.jobNotRunning, `job ${jobId} is ${status}, not running`, { status });
    }
    await this.ctx.temporal(() => this.deps.client.workflow.getHandle(jobWorkflowId(jobId)).cancel());
    return { status };
  }

  /** Jobs from Temporal visibility, newest first, filtered by status and handler (job-listing.ts). */
  list(opts: { status?: JobStatus; handler?: string; limit: number; cursor?: string }): Promise<JobListing> {
    return listJobs(this.ctx, opts);
  }

  /** The dead-letter view: failed resources across jobs, newest jobs first (failures/list-failures.ts). */
  failures(filter: FailureFilter, opts: { limit: number; cursor?: string }): Promise<FailureListing> {
    return listFailures(this.ctx, filter, opts);
  }

  /** Retries every job a request names or its filter matches, a bounded fan-out of `retry` (operator/bulk-retry.ts). */
  retryMany(request: BulkRetryRequest, logger?: Logger): Promise<BulkRetryResult> {
    return bulkRetry(this.ctx, request, logger);
  }

  /**
   * A job's event stream (the SSE route): `summary`, `resource` and `end` events until the job
   * closes (job-events.ts). Throws 404 or 503 before the stream begins.
   */
  events(jobId: string, opts: JobEventsOptions): Promise<AsyncGenerator<JobEvent>> {
    return openJobEvents(this.ctx, jobId, opts);
  }

  /** The Temporal Web UI page of a job's workflow. */
  temporalUiUrl(jobId: string): string {
    return temporalUiUrlOf(this.deps.config.temporal, jobId);
  }
}
