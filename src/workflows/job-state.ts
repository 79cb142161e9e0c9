import { ApplicationFailure, CancellationScope, metricMeter, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import { JobStatus, RETRY_REFUSED } from '../model/constants.js';
import {
  type InlinePageAnswer,
  type JobCarry,
  type JobProgress,
  type JobResult,
  type JobWorkflowInput,
  type PageResult,
  type RetryAnswer,
} from '../model/job-types.js';
import type { PageState } from './page-state.js';
import { applyPageResult, roundCountsDelta } from '../model/round-merge.js';
import { SearchAttributes } from '../model/search-attributes.js';

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
  private readonly carried: JobCarry;
  private readonly runningPages = new Map<string, RunningPage>();
  private jobStatus: JobStatus = JobStatus.running;
  private finished = 0;
  private fatalError: unknown;
  private inlinePage: PageState | undefined;
  private deliveringWebhook = false;
  private readonly closedCounter = metricMeter.createCounter(
    'fetchbox_jobs_closed',
    '',
    'Job workflow runs that closed, by FetchBox status and handler.',
  );

  constructor(readonly input: JobWorkflowInput) {
    const carried = input.carry;
    this.carried = carried
      ? { ...carried, failedPages: [...carried.failedPages], retryQueue: [...carried.retryQueue] }
      : initialCarry(input);
  }

  /** What this run carries into the next (continue-as-new) and into a retry run's `resume`. */
  get carry(): Readonly<JobCarry> {
    return this.carried;
  }

  /** The pages running now, by workflow id (an inline first round under its own key). */
  get running(): ReadonlyMap<string, RunningPage> {
    return this.runningPages;
  }

  /** The job's status: `running` until {@link close}. */
  get status(): JobStatus {
    return this.jobStatus;
  }

  /** Page children that ended in this run (the scheduler continues as new after enough). */
  get finishedThisRun(): number {
    return this.finished;
  }

  /** The first error a page child failed with (not a cancellation): the job fails with it. */
  get fatal(): unknown {
    return this.fatalError;
  }

  /** The job's work is done and its completion webhook is being delivered (job-notify.ts): nothing more is accepted. */
  get closing(): boolean {
    return this.deliveringWebhook;
  }

  /** Records that `<jobId>/manifest.json` was written. */
  markPublished(): void {
    this.carried.published = true;
  }

  /** The next page to start: first-round pages in order, then the current retry round's queue. */
  nextUnit(): { page: number; round: number } | undefined {
    const carry = this.carried;
    if (carry.nextPage < this.input.manifest.pageCount) return { page: carry.nextPage++, round: 0 };
    const page = carry.retryQueue.shift();
    return page === undefined ? undefined : { page, round: carry.round };
  }

  /** Starts the next retry round over every page with failures, in page order (the memo's `rounds` says how many). */
  startRetryRound(): void {
    const carry = this.carried;
    carry.round++;
    carry.retryQueue = [...carry.failedPages].sort((a, b) => a - b);
    carry.failedPages = [];
    carry.retryRequests = 0;
    upsertMemo({ rounds: carry.round });
  }

  /** Forgets retry requests that found nothing to retry: the job completes. */
  dropRetryRequests(): void {
    this.carried.retryRequests = 0;
  }

  /** Records a page child started under `workflowId`. */
  pageStarted(workflowId: string, page: RunningPage): void {
    this.runningPages.set(workflowId, page);
  }

  /** Records a page child's failure (not a cancellation); the first one fails the job. */
  pageFailed(err: unknown): void {
    this.fatalError ??= err;
  }

  /** Records that the page child `workflowId` ended, whatever its outcome. */
  pageEnded(workflowId: string): void {
    this.runningPages.delete(workflowId);
    this.finished++;
  }

  /** Records page 0's first round starting inline under `key`, with its state. */
  inlineStarted(key: string, page: PageState): void {
    this.inlinePage = page;
    this.runningPages.set(key, { page: 0, round: 0, grant: 0, inline: true });
  }

  /** Records that the inline first round under `key` stopped running (finished: {@link finishInline}; or canceled). */
  inlineEnded(key: string): void {
    this.runningPages.delete(key);
    this.inlinePage = undefined;
  }

  /** Records that the completion webhook is being delivered: retry Updates are refused from now on. */
  startClosing(): void {
    this.deliveringWebhook = true;
  }

  /**
   * The `summary` query's answer: counts of finished pages, plus those of a first round running
   * inline here (a page child's live counts come from its own `pageSummary` query), and the pages
   * running now.
   */
  progress(): JobProgress {
    const carry = this.carried;
    const live = this.inlinePage ? roundCountsDelta(this.inlinePage.progress()) : { succeeded: 0, failed: 0, bytes: 0 };
    const succeeded = carry.succeeded + live.succeeded;
    const failed = carry.failed + live.failed;
    return {
      jobId: this.input.jobId,
      handler: this.input.handler,
      status: this.status,
      resources: { total: carry.total, succeeded, failed, pending: Math.max(carry.total - succeeded - failed, 0) },
      bytes: carry.bytes + live.bytes,
      runningPages: [...this.runningPages.values()].map(({ page, round, inline }) => ({ page, round, ...(inline ? { inline } : {}) })),
    };
  }

  /** Writes the counts and status into the search attributes operators filter by. */
  publishCounts(): void {
    const carry = this.carried;
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
    applyPageResult(this.carried, result);
    this.publishCounts();
  }

  /**
   * The `inlinePage` query's answer: page 0's first round when it ran inline (its result, carried
   * into every later run), its states while it runs (none until its tasks are known: readers then
   * list the staged page), undefined for a job that runs it as a page child.
   */
  inlineAnswer(): InlinePageAnswer {
    if (this.carried.inlinePage) return { result: this.carried.inlinePage };
    if (this.inlinePage && this.inlinePage.states.length > 0) return { states: this.inlinePage.states };
    return undefined;
  }

  /**
   * Records page 0's finished inline first round: carried as the ledger of that round, counted like
   * a page child's result. The counts reach the search attributes when the job closes (one upsert
   * for a small job instead of two); until then the `summary` query has them.
   */
  finishInline(result: PageResult): void {
    this.carried.inlinePage = result;
    this.carried.published = true;
    this.carried.nextPage = Math.max(this.carried.nextPage, 1);
    this.finished++;
    applyPageResult(this.carried, result);
  }

  /** Records a retry request (signal or Update); requests coalesce into one round. */
  requestRetry(): void {
    this.carried.retryRequests++;
  }

  /** Whether a retry round is due now: requested, and something failed. */
  retryDue(): boolean {
    return this.carried.retryRequests > 0 && this.carried.failedPages.length > 0;
  }

  /**
   * The `retry` Update's answer once the request is recorded. `retrying` is true while anything
   * has failed or could still fail (pages not started, running, or queued for the current round):
   * a round over what failed runs when the current pass ends.
   */
  retryAnswer(): RetryAnswer {
    const carry = this.carried;
    const passUnderWay =
      !carry.published || this.runningPages.size > 0 || carry.nextPage < this.input.manifest.pageCount || carry.retryQueue.length > 0;
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
    if (this.fatalError !== undefined) throw refuse('is failing');
    if (this.deliveringWebhook) throw refuse('is closing (its completion webhook is being delivered); retry it once it closed');
    if (this.status !== JobStatus.running) throw refuse(`is ${this.status}`);
  }

  /** Ends the run with `status`: published, counted in `fetchbox_jobs_closed`. */
  close(status: JobStatus): void {
    this.jobStatus = status;
    this.publishCounts();
    this.closedCounter.add(1, { status, handler: this.input.handler });
  }

  /** The status a job whose pages all ran completes with. */
  completionStatus(): JobStatus {
    return this.carried.failed > 0 ? JobStatus.completedWithFailures : JobStatus.completed;
  }

  /** Completes the job (`completed` or `completed_with_failures`); `resume` is a retry run's input. */
  complete(): JobResult {
    this.close(this.completionStatus());
    return { ...this.progress(), resume: { ...this.input, carry: { ...this.carried } } };
  }
}
