import {
  allHandlersFinished,
  CancellationScope,
  condition,
  executeChild,
  isCancellation,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import { pageKey, pageWorkflowId } from '../model/ids.js';
import { inlineOptions, ioOptions } from './activity-options.js';
import { runBatched } from './page-batch-scheduler.js';
import { JobStatus } from '../model/constants.js';
import type { JobState } from './job-state.js';
import { notifyClose } from './job-notify.js';
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
    const publisher = this.inlineRun ? undefined : proxyActivities<Activities>(ioOptions());
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
        state.markPublished();
      }
      let draining = false;
      for (;;) {
        while (!draining && state.running.size < this.parallelism) {
          const unit = state.nextUnit();
          if (!unit) break;
          this.startPage(unit.page, unit.round);
        }
        if (state.running.size === 0) {
          if (state.fatal !== undefined) throw state.fatal;
          if (draining) return 'continue-as-new';
          if (state.retryDue()) {
            state.startRetryRound();
            continue;
          }
          // A retry Update accepted in this activation (Update-With-Start delivers it with the run's
          // first task) may still be running its handler: let it record the request, then decide.
          if (!allHandlersFinished()) {
            await condition(allHandlersFinished);
            continue;
          }
          state.dropRetryRequests();
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
   * Runs page 0's first round of a small job here (JobWorkflowInput.inlineRun): one
   * `downloadInline` activity publishes the inline manifest, makes the tasks through the handler and
   * their first attempts (all of them, up to the page's window at once); resources that failed
   * retryably are then retried alone, as a batched page does (page-batch-scheduler.ts). A job so
   * costs one workflow and one activity when nothing fails. The result is this round's ledger
   * (JobState.finishInline). Shown as a running page meanwhile; a cancellation is rethrown once its
   * downloads settled (the job ends canceled).
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
    state.inlineStarted(INLINE_RUN_ID, page);
    try {
      const inline = manifest.inline!;
      const lanes = Math.max(1, Math.min(page.window, inline.resources.length));
      const { downloadInline } = proxyActivities<Activities>(inlineOptions(policy, inline.resources.length, lanes));
      const run = await downloadInline.executeWithOptions({ summary: `${jobId}: ${inline.resources.length} resources inline` }, [
        {
          ...page.common,
          manifestKey: manifest.manifestKey,
          pageKey: page.input.pageKey,
          submittedAt: state.input.submittedAt,
          inline,
          ...(policy.store !== undefined ? { store: policy.store } : {}),
          concurrency: lanes,
          attemptTimeoutMs: policy.attemptTimeoutMs,
        },
      ]);
      if (page.recordLoaded(run) === 'ready') await runBatched(page, Math.max(1, policy.batchSize ?? 1), run.outcomes);
      state.finishInline(page.result());
    } catch (err) {
      if (isCancellation(err)) await CancellationScope.nonCancellable(() => condition(() => page.inFlight === 0));
      throw err;
    } finally {
      state.inlineEnded(INLINE_RUN_ID);
    }
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
    state.pageStarted(workflowId, { page, round, grant });
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
          if (!isCancellation(err)) state.pageFailed(err);
        },
      )
      .finally(() => state.pageEnded(workflowId));
  }
}
