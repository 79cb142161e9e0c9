import { ApplicationFailure, CancellationScope, metricMeter, upsertSearchAttributes } from '@temporalio/workflow';
import { JobStatus, RETRY_REFUSED } from './constants.js';
import {
  type InlinePageAnswer,
  type JobCarry,
  type JobProgress,
  type JobResult,
  type JobWorkflowInput,
  type PageResult,
  type RetryAnswer,
} from './job-types.js';
import type { PageState } from './page-state.js';
import { applyPageResult, roundCountsDelta } from './round-merge.js';
import { SearchAttributes } from './search-attributes.js';

/** A page running now: its page, its round and the tasks its expansion was granted; `inline` when it runs in the job workflow. */
export interface RunningPage {
  page: number;
  round: number;
  grant: number;
  inline?: true;
}

/** The carry of a job's first run: nothing started, nothing counted. */
export function initialCarry(input: JobWorkflowInput): JobCarry {
  return {
    nextPage: 0,
    total: input.manifest.total,
    succeeded: 0,
    failed: 0,
    bytes: 0,
    failedPages: [],
    round: 0,
    retryQueue: [],
    retryRequests: 0,
    published: false,
  };
}

/**
 * Everything one run of the job workflow knows: the carried counts, the pages running now, the
 * job's status. The message handlers read and change it, the scheduler drives it; both only
 * through these methods, so the rules for counts, retries and the published status live here.
 */
export class JobState {
  readonly carry: JobCarry;
  readonly running = new Map<string, RunningPage>();
  status: JobStatus = JobStatus.running;
  /** Page children that ended in this run (the scheduler continues as new after enough). */
  finishedThisRun = 0;
  /** The first error a page child failed with (not a cancellation): the job fails with it. */
  fatal: unknown;
  /** Page 0's first round while it runs inline (JobWorkflowInput.inlineRun). */
  inline: PageState | undefined;
  /** The job's work is done and its completion webhook is being delivered (job-notify.ts): nothing more is accepted. */
  closing = false;
  private readonly closedCounter = metricMeter.createCounter(
    'fetchbox_jobs_closed',
    '',
    'Job workflow runs that closed, by FetchBox status and handler.',
  );

  constructor(readonly input: JobWorkflowInput) {
    const carried = input.carry;
    this.carry = carried ? { ...carried, failedPages: [...carried.failedPages], retryQueue: [...carried.retryQueue] } : initialCarry(input);
  }

  /**
   * The `summary` query's answer: counts of finished pages, plus those of a first round running
   * inline here (a page child's live counts come from its own `pageSummary` query), and the pages
   * running now.
   */
  progress(): JobProgress {
    const { carry } = this;
    const live = this.inline ? roundCountsDelta(this.inline.progress()) : { succeeded: 0, failed: 0, bytes: 0 };
    const succeeded = carry.succeeded + live.succeeded;
    const failed = carry.failed + live.failed;
    return {
      jobId: this.input.jobId,
      handler: this.input.handler,
      status: this.status,
      resources: { total: carry.total, succeeded, failed, pending: Math.max(carry.total - succeeded - failed, 0) },
      bytes: carry.bytes + live.bytes,
      runningPages: [...this.running.values()].map(({ page, round, inline }) => ({ page, round, ...(inline ? { inline } : {}) })),
    };
  }

  /** Writes the counts and status into the search attributes operators filter by. */
  publishCounts(): void {
    const { carry } = this;
    upsertSearchAttributes([
      { key: SearchAttributes.handler, value: this.input.handler },
      { key: SearchAttributes.status, value: this.status },
      { key: SearchAttributes.total, value: carry.total },
      { key: SearchAttributes.succeeded, value: carry.succeeded },
      { key: SearchAttributes.failed, value: carry.failed },
      { key: SearchAttributes.bytes, value: carry.bytes },
    ]);
  }

  /** Adds a finished page round to the counts (round-merge.ts) and publishes them. */
  applyPage(result: PageResult): void {
    applyPageResult(this.carry, result);
    this.publishCounts();
  }

  /**
   * The `inlinePage` query's answer: page 0's first round when it ran inline (its result, carried
   * into every later run), its states while it runs (none until its tasks are known: readers then
   * list the staged page), undefined for a job that runs it as a page child.
   */
  inlineAnswer(): InlinePageAnswer {
    if (this.carry.inlinePage) return { result: this.carry.inlinePage };
    if (this.inline && this.inline.states.length > 0) return { states: this.inline.states };
    return undefined;
  }

  /**
   * Records page 0's finished inline first round: carried as the ledger of that round, counted like
   * a page child's result. The counts reach the search attributes when the job closes (one upsert
   * for a small job instead of two); until then the `summary` query has them.
   */
  finishInline(result: PageResult): void {
    this.carry.inlinePage = result;
    this.carry.published = true;
    this.carry.nextPage = Math.max(this.carry.nextPage, 1);
    this.finishedThisRun++;
    applyPageResult(this.carry, result);
  }

  /** Records a retry request (signal or Update); requests coalesce into one round. */
  requestRetry(): void {
    this.carry.retryRequests++;
  }

  /** Whether a retry round is due now: requested, and something failed. */
  retryDue(): boolean {
    return this.carry.retryRequests > 0 && this.carry.failedPages.length > 0;
  }

  /**
   * The `retry` Update's answer once the request is recorded. `retrying` is true while anything
   * has failed or could still fail (pages not started, running, or queued for the current round):
   * a round over what failed runs when the current pass ends.
   */
  retryAnswer(): RetryAnswer {
    const { carry } = this;
    const passUnderWay =
      !carry.published || this.running.size > 0 || carry.nextPage < this.input.manifest.pageCount || carry.retryQueue.length > 0;
    return { status: this.status, retrying: carry.failedPages.length > 0 || passUnderWay };
  }

  /**
   * The `retry` Update's validator: refuses (before anything is recorded) a job that is being
   * canceled, that is failing, or that has already decided how it ends. Synchronous and read-only,
   * as Temporal requires of validators.
   */
  validateRetry(): void {
    const refuse = (why: string) =>
      ApplicationFailure.create({
        type: RETRY_REFUSED,
        message: `job ${this.input.jobId} ${why}; a retry makes no sense`,
        nonRetryable: true,
        details: [{ status: this.status }],
      });
    if (CancellationScope.current().consideredCancelled) throw refuse('is being canceled');
    if (this.fatal !== undefined) throw refuse('is failing');
    if (this.closing) throw refuse('is closing (its completion webhook is being delivered); retry it once it closed');
    if (this.status !== JobStatus.running) throw refuse(`is ${this.status}`);
  }

  /** Ends the run with `status`: published, counted in `fetchbox_jobs_closed`. */
  close(status: JobStatus): void {
    this.status = status;
    this.publishCounts();
    this.closedCounter.add(1, { status, handler: this.input.handler });
  }

  /** The status a job whose pages all ran completes with. */
  completionStatus(): JobStatus {
    return this.carry.failed > 0 ? JobStatus.completedWithFailures : JobStatus.completed;
  }

  /** Completes the job (`completed` or `completed_with_failures`); `resume` is a retry run's input. */
  complete(): JobResult {
    this.close(this.completionStatus());
    return { ...this.progress(), resume: { ...this.input, carry: { ...this.carry } } };
  }
}
