import {
  CancellationScope,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  executeChild,
  isCancellation,
  metricMeter,
  patched,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import {
  JobStatus,
  type JobCarry,
  type JobProgress,
  type JobResult,
  type JobWorkflowInput,
  type PageResult,
} from './job-types.js';
import { pageKey, pageWorkflowId } from './ids.js';
import { pageWorkflow } from './page-workflow.js';
import { SearchAttributes } from './search-attributes.js';

/** Counts of finished pages plus the pages running now. */
export const summaryQuery = defineQuery<JobProgress>('summary');
/** Downloads the job's failed resources again once the current pass is done. */
export const retrySignal = defineSignal('retryFailed');

/**
 * Pages finished per run before the workflow continues as new. Each finished page adds its result
 * (the states of up to a few thousand resources) to this run's history; 8 keeps a run's history
 * to a few MB, far from Temporal's 10 MB warning and 50 MB limit, at any job size.
 */
export const PAGES_PER_RUN = 8;

function initialCarry(input: JobWorkflowInput): JobCarry {
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
 * One job (workflow id `job-<jobId>`). Runs the staged manifest page by page as child workflows
 * (`job-<jobId>/p<NNNNNN>`), `policy.pageParallelism` at a time (one at a time for a polite job,
 * so its per-host limit holds job-wide), each with its share of the job's download window and of
 * what `maxTasks` leaves for handler expansions; continues as new every {@link PAGES_PER_RUN}
 * pages so history stays bounded.
 * A `retryFailed` signal (or a retry run started by the API after the job closed) runs another
 * round over the pages that still have failures. Completes `completed` or
 * `completed_with_failures`; ends canceled when canceled.
 */
export async function jobWorkflow(input: JobWorkflowInput): Promise<JobResult> {
  const { jobId, handler, manifest, policy } = input;
  const carry: JobCarry = input.carry ? { ...input.carry, failedPages: [...input.carry.failedPages], retryQueue: [...input.carry.retryQueue] } : initialCarry(input);
  // Publishing (and, for an inline manifest, staging) retries until storage answers: an accepted
  // job whose manifest lives only in this history must wait out a storage outage, not fail.
  const publisher = proxyActivities<Activities>({
    startToCloseTimeout: '5 minutes',
    retry: { maximumAttempts: Number.POSITIVE_INFINITY, initialInterval: '1 second', maximumInterval: '1 minute' },
  });
  const polite = policy.perHostConcurrency !== undefined && policy.perHostConcurrency > 0;
  // Exact politeness: a polite job runs one page at a time with the whole per-host limit, so the
  // page's per-host scheduler is the only one. Histories from before divided the limit among the
  // pages running at once (which let N=1 run 2 requests per host with 2 pages).
  const exactPolite = polite && patched('exact-per-host');
  const parallelism = exactPolite ? 1 : Math.max(1, policy.pageParallelism);
  const window = Math.max(1, Math.ceil(policy.concurrency / parallelism));
  const pagePolicy =
    polite && !exactPolite ? { ...policy, perHostConcurrency: Math.max(1, Math.floor(policy.perHostConcurrency! / parallelism)) } : policy;
  // The job-wide task cap (handler expansions included), absent in older inputs.
  const capTasks = input.maxTasks !== undefined && patched('job-expansion-cap');
  const running = new Map<string, { page: number; round: number; grant: number }>();
  let status: JobStatus = JobStatus.running;
  let finishedThisRun = 0;
  let fatal: unknown;

  const progress = (): JobProgress => ({
    jobId,
    handler,
    status,
    resources: {
      total: carry.total,
      succeeded: carry.succeeded,
      failed: carry.failed,
      pending: Math.max(carry.total - carry.succeeded - carry.failed, 0),
    },
    bytes: carry.bytes,
    runningPages: [...running.values()].map(({ page, round }) => ({ page, round })),
  });
  setHandler(summaryQuery, progress);
  setHandler(retrySignal, () => {
    carry.retryRequests++;
  });

  const publishCounts = () =>
    upsertSearchAttributes([
      { key: SearchAttributes.handler, value: handler },
      { key: SearchAttributes.status, value: status },
      { key: SearchAttributes.total, value: carry.total },
      { key: SearchAttributes.succeeded, value: carry.succeeded },
      { key: SearchAttributes.failed, value: carry.failed },
      { key: SearchAttributes.bytes, value: carry.bytes },
    ]);

  const apply = (result: PageResult) => {
    if (result.round === 0) {
      carry.total += result.tasks - result.pageResources;
      carry.failed += result.failed;
    } else {
      carry.failed -= result.succeeded;
    }
    carry.succeeded += result.succeeded;
    carry.bytes += result.bytes;
    if (result.failed > 0) carry.failedPages.push(result.page);
  };

  /**
   * Tasks a first-round page's expansion may add: its share of what the cap has left once the
   * running pages' shares are reserved, split evenly with the pages that can still start beside
   * it. Deterministic: it depends only on the carry and the running pages.
   */
  const grantFor = (page: number): number => {
    let reserved = 0;
    for (const r of running.values()) reserved += r.grant;
    const spare = Math.max(0, input.maxTasks! - carry.total - reserved);
    const sharers = Math.max(1, Math.min(parallelism - running.size, manifest.pageCount - page));
    return Math.floor(spare / sharers);
  };

  const startPage = (page: number, round: number) => {
    const workflowId = pageWorkflowId(jobId, page, round);
    const grant = capTasks && round === 0 ? grantFor(page) : 0;
    running.set(workflowId, { page, round, grant });
    const pageInput = {
      jobId,
      handler,
      page,
      pageKey: pageKey(manifest.prefix, page),
      manifestKey: manifest.manifestKey,
      round,
      window,
      policy: pagePolicy,
      ...(capTasks && round === 0 ? { maxExtraTasks: grant } : {}),
    };
    executeChild(pageWorkflow, {
      workflowId,
      args: [pageInput],
      staticSummary: round === 0 ? `${jobId}: page ${page + 1} of ${manifest.pageCount}` : `${jobId}: page ${page + 1}, retry round ${round}`,
    }).then(
      (result) => {
        apply(result);
        publishCounts();
      },
      (err: unknown) => {
        if (!isCancellation(err)) fatal ??= err;
      },
    ).finally(() => {
      running.delete(workflowId);
      finishedThisRun++;
    });
  };

  const nextUnit = (): { page: number; round: number } | undefined => {
    if (carry.nextPage < manifest.pageCount) return { page: carry.nextPage++, round: 0 };
    const page = carry.retryQueue.shift();
    return page === undefined ? undefined : { page, round: carry.round };
  };

  const closed = metricMeter.createCounter('fetchbox_jobs_closed', '', 'Job workflow runs that closed, by FetchBox status and handler.');
  publishCounts();
  try {
    if (!carry.published) {
      await publisher.publishManifest({
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
      while (!draining && running.size < parallelism) {
        const unit = nextUnit();
        if (!unit) break;
        startPage(unit.page, unit.round);
      }
      if (running.size === 0) {
        if (fatal !== undefined) throw fatal;
        if (draining) {
          return await continueAsNew<typeof jobWorkflow>({ ...input, carry });
        }
        if (carry.retryRequests > 0 && carry.failedPages.length > 0) {
          carry.round++;
          carry.retryQueue = [...carry.failedPages].sort((a, b) => a - b);
          carry.failedPages = [];
          carry.retryRequests = 0;
          upsertMemo({ rounds: carry.round });
          continue;
        }
        carry.retryRequests = 0;
        break;
      }
      const seen = finishedThisRun;
      await condition(() => finishedThisRun !== seen);
      if (fatal !== undefined) draining = true;
      if (finishedThisRun >= PAGES_PER_RUN || workflowInfo().continueAsNewSuggested) draining = true;
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Children were asked to cancel; they return what finished. Wait for them, then end canceled.
    await CancellationScope.nonCancellable(() => condition(() => running.size === 0));
    status = JobStatus.canceled;
    publishCounts();
    closed.add(1, { status, handler });
    throw err;
  }
  status = carry.failed > 0 ? JobStatus.completedWithFailures : JobStatus.completed;
  publishCounts();
  closed.add(1, { status, handler });
  return { ...progress(), resume: { ...input, carry: { ...carry } } };
}
