import {
  allHandlersFinished,
  CancellationScope,
  condition,
  executeChild,
  isCancellation,
  proxyActivities,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import { pageKey, pageWorkflowId } from './ids.js';
import { ioTimeouts } from './io-timeouts.js';
import { JobStatus } from './constants.js';
import type { JobState } from './job-state.js';
import { notifyClose } from './job-notify.js';
import { runInlinePage } from './page-inline.js';
import { PageState } from './page-state.js';
import { pageWorkflow } from './page-workflow.js';

/** The key of an inline first round among the running pages (never a workflow id: those start with `job-`). */
const INLINE_RUN_ID = 'inline';

/**
 * Pages finished per run before the workflow continues as new. Each finished page adds its result
 * (the states of up to a few thousand resources) to this run's history; 8 keeps a run's history
 * to a few MB, far from Temporal's 10 MB warning and 50 MB limit, at any job size.
 */
export const PAGES_PER_RUN = 8;

/** How a run of the scheduler ended when it did not throw. */
export type JobRunEnd = 'completed' | 'continue-as-new';

/**
 * Runs a job's pages as child workflows (`job-<jobId>/p<NNNNNN>[/r<round>]`), `pageParallelism` at
 * a time (one at a time for a polite job, so its per-host limit holds job-wide), each with its
 * share of the job's download window and of what `maxTasks` leaves for handler expansions; then a
 * retry round over the pages with failures when one was requested. Asks to continue as new every
 * {@link PAGES_PER_RUN} pages so history stays bounded.
 */
export class JobScheduler {
  private readonly parallelism: number;
  private readonly window: number;
  private readonly capTasks: boolean;
  /** Page 0's first round runs in this workflow (JobWorkflowInput.inlineRun), not as a page child. */
  private readonly inlineRun: boolean;

  constructor(private readonly state: JobState) {
    const { policy, maxTasks, inlineRun, manifest } = state.input;
    // Exact politeness: a polite job runs one page at a time with the whole per-host limit, so the
    // page's per-host scheduler is the only one.
    const polite = policy.perHostConcurrency !== undefined && policy.perHostConcurrency > 0;
    this.parallelism = polite ? 1 : Math.max(1, policy.pageParallelism);
    this.window = Math.max(1, Math.ceil(policy.concurrency / this.parallelism));
    this.inlineRun = inlineRun === true && manifest.inline !== undefined && manifest.pageCount === 1 && !state.carry.published;
    // The job-wide task cap (handler expansions included); an inline run starts no first-round
    // page to grant expansions to.
    this.capTasks = maxTasks !== undefined && !this.inlineRun;
  }

  /**
   * Publishes the manifest (once per job), runs pages until none is left (or until it is time to
   * continue as new), and runs requested retry rounds. Canceled: waits for the children to return
   * what finished, closes the job canceled and rethrows.
   */
  async run(): Promise<JobRunEnd> {
    const { state } = this;
    const { carry, input } = state;
    // Publishing (and, for an inline manifest, staging) retries until storage answers: an accepted
    // job whose manifest lives only in this history must wait out a storage outage, not fail.
    // An inline run publishes inside its one activity; it needs neither this proxy nor a counts
    // upsert now (the API's start set them).
    const publisher = this.inlineRun
      ? undefined
      : proxyActivities<Activities>({
          ...ioTimeouts(),
          retry: { maximumAttempts: Number.POSITIVE_INFINITY, initialInterval: '1 second', maximumInterval: '1 minute' },
        });
    if (!this.inlineRun) state.publishCounts();
    try {
      if (this.inlineRun) await this.runInline();
      if (!carry.published) {
        const { jobId, handler, manifest } = input;
        await publisher!.publishManifest({
          jobId,
          handler,
          manifestKey: manifest.manifestKey,
          submittedAt: input.submittedAt,
          ...(manifest.inline ? { inline: manifest.inline, pageKey: pageKey(manifest.prefix, 0) } : {}),
        });
        carry.published = true;
      }
      let draining = false;
      for (;;) {
        while (!draining && state.running.size < this.parallelism) {
          const unit = this.nextUnit();
          if (!unit) break;
          this.startPage(unit.page, unit.round);
        }
        if (state.running.size === 0) {
          if (state.fatal !== undefined) throw state.fatal;
          if (draining) return 'continue-as-new';
          if (state.retryDue()) {
            this.startRetryRound();
            continue;
          }
          // A retry Update accepted in this activation (Update-With-Start delivers it with the run's
          // first task) may still be running its handler: let it record the request, then decide.
          if (!allHandlersFinished()) {
            await condition(allHandlersFinished);
            continue;
          }
          carry.retryRequests = 0;
          return 'completed';
        }
        const seen = state.finishedThisRun;
        await condition(() => state.finishedThisRun !== seen);
        if (state.fatal !== undefined) draining = true;
        if (state.finishedThisRun >= PAGES_PER_RUN || workflowInfo().continueAsNewSuggested) draining = true;
      }
    } catch (err) {
      if (!isCancellation(err)) throw err;
      // Children were asked to cancel; they return what finished. Wait for them, then end canceled.
      await CancellationScope.nonCancellable(() => condition(() => state.running.size === 0));
      await notifyClose(state, JobStatus.canceled);
      state.close(JobStatus.canceled);
      throw err;
    }
  }

  /**
   * Runs page 0's first round here (page-inline.ts): one activity publishes the manifest and makes
   * every first attempt, then lone retries; the result is this round's ledger (JobState.finishInline).
   * Shown as a running page meanwhile; a cancellation is rethrown once its downloads settled.
   */
  private async runInline(): Promise<void> {
    const { state } = this;
    const { jobId, handler, manifest, policy } = state.input;
    const page = new PageState({
      jobId,
      handler,
      page: 0,
      pageKey: pageKey(manifest.prefix, 0),
      manifestKey: manifest.manifestKey,
      round: 0,
      window: Math.max(1, policy.concurrency),
      policy,
    });
    state.inline = page;
    state.running.set(INLINE_RUN_ID, { page: 0, round: 0, grant: 0, inline: true });
    try {
      state.finishInline(await runInlinePage(page, state.input));
    } catch (err) {
      if (isCancellation(err)) await CancellationScope.nonCancellable(() => condition(() => page.inFlight === 0));
      throw err;
    } finally {
      state.running.delete(INLINE_RUN_ID);
      state.inline = undefined;
    }
  }

  /** The next page to start: first-round pages in order, then the current retry round's queue. */
  private nextUnit(): { page: number; round: number } | undefined {
    const { carry, input } = this.state;
    if (carry.nextPage < input.manifest.pageCount) return { page: carry.nextPage++, round: 0 };
    const page = carry.retryQueue.shift();
    return page === undefined ? undefined : { page, round: carry.round };
  }

  /** Starts the next retry round over every page with failures, in page order. */
  private startRetryRound(): void {
    const { carry } = this.state;
    carry.round++;
    carry.retryQueue = [...carry.failedPages].sort((a, b) => a - b);
    carry.failedPages = [];
    carry.retryRequests = 0;
    upsertMemo({ rounds: carry.round });
  }

  /**
   * Tasks a first-round page's expansion may add: its share of what the cap has left once the
   * running pages' shares are reserved, split evenly with the pages that can still start beside
   * it. Deterministic: it depends only on the carry and the running pages.
   */
  private grantFor(page: number): number {
    const { carry, running, input } = this.state;
    let reserved = 0;
    for (const r of running.values()) reserved += r.grant;
    const spare = Math.max(0, input.maxTasks! - carry.total - reserved);
    const sharers = Math.max(1, Math.min(this.parallelism - running.size, input.manifest.pageCount - page));
    return Math.floor(spare / sharers);
  }

  /** Starts one page child; its result (or failure) lands in the state when it ends. */
  private startPage(page: number, round: number): void {
    const { state } = this;
    const { jobId, handler, manifest } = state.input;
    const workflowId = pageWorkflowId(jobId, page, round);
    const grant = this.capTasks && round === 0 ? this.grantFor(page) : 0;
    state.running.set(workflowId, { page, round, grant });
    const pageInput = {
      jobId,
      handler,
      page,
      pageKey: pageKey(manifest.prefix, page),
      manifestKey: manifest.manifestKey,
      round,
      window: this.window,
      policy: state.input.policy,
      ...(this.capTasks && round === 0 ? { maxExtraTasks: grant } : {}),
    };
    executeChild(pageWorkflow, {
      workflowId,
      args: [pageInput],
      staticSummary:
        round === 0 ? `${jobId}: page ${page + 1} of ${manifest.pageCount}` : `${jobId}: page ${page + 1}, retry round ${round}`,
    })
      .then(
        (result) => state.applyPage(result),
        (err: unknown) => {
          if (!isCancellation(err)) state.fatal ??= err;
        },
      )
      .finally(() => {
        state.running.delete(workflowId);
        state.finishedThisRun++;
      });
  }
}
