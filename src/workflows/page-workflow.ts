import { CancellationScope, condition, defineQuery, isCancellation, metricMeter, patched, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { clipJson, downloadFailure, exhaustedKind } from './download-failure.js';
import { hostOf } from './host-of.js';
import { MAX_CONTENT_TYPE_BYTES, MAX_MESSAGE_BYTES } from './page-budget.js';
import {
  ErrorKind,
  ResourceStatus,
  type BatchFailure,
  type BatchOutcome,
  type DownloadCommon,
  type DownloadTask,
  type PageProgress,
  type PageResult,
  type PageWorkflowInput,
  type RejectedResource,
  type ResourceError,
  type ResourceState,
} from './job-types.js';

/** Live counts of a running page. */
export const pageSummaryQuery = defineQuery<PageProgress>('pageSummary');
/** States of every resource of a running page (pending until its download settles). */
export const pageStatesQuery = defineQuery<ResourceState[]>('pageStates');

/**
 * One page of a job in one round: loads its download tasks (round 0: the staged page through the
 * handler; retry rounds: the resources still failed after earlier rounds), downloads them with at
 * most `window` activities in flight, and returns every outcome. A page stays well inside
 * Temporal's history limits (about 3 events per resource, pages of at most 5,000 resources).
 * Cancellation stops new downloads, cancels running ones, and returns what finished.
 */
export async function pageWorkflow(input: PageWorkflowInput): Promise<PageResult> {
  const { jobId, handler, page, round, window, policy } = input;
  const { retry } = policy;
  // loadPage and failedTasks wait out a storage outage as publishManifest does; what retrying
  // cannot fix (a corrupt or missing staged page, a bug) they throw non-retryable (load-page.ts).
  const io = proxyActivities<Activities>({
    startToCloseTimeout: '5 minutes',
    retry: patched('io-wait-out-storage')
      ? { maximumAttempts: Number.POSITIVE_INFINITY, initialInterval: '1 second', maximumInterval: '1 minute' }
      : { maximumAttempts: 10, initialInterval: '1 second', maximumInterval: '1 minute' },
  });
  const downloadOptions = {
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
  };
  const { downloadResource } = proxyActivities<Activities>(downloadOptions);

  // Emitted by Temporal's metrics exporter (not during replay), beside its SDK metrics.
  const outcomes = metricMeter.createCounter('fetchbox_resources', '', 'Resources that reached an outcome in a page round, by outcome and error kind.');
  const states: ResourceState[] = [];
  let tasks: DownloadTask[] = [];
  let rejected: RejectedResource[] = [];
  let pageResources = 0;
  let succeeded = 0;
  let failed = 0;
  let bytes = 0;
  let inFlight = 0;
  let canceled = false;

  setHandler(pageSummaryQuery, () => ({ page, round, tasks: tasks.length + rejected.length, succeeded, failed, bytes }));
  setHandler(pageStatesQuery, () => states);

  const common: DownloadCommon = {
    jobId,
    handler,
    maxBytes: policy.maxBytes,
    proxyTiers: policy.proxyTiers,
    attemptsPerTier: policy.attemptsPerTier,
    ...(policy.skipExisting ? { skipExisting: policy.skipExisting } : {}),
    ...(input.manifestKey ? { manifestKey: input.manifestKey } : {}),
  };
  const succeed = (state: ResourceState, result: { attempts: number; bytes: number; sha256: string; contentType?: string }): void => {
    state.status = ResourceStatus.succeeded;
    state.attempts = result.attempts;
    state.bytes = result.bytes;
    state.sha256 = result.sha256;
    if (result.contentType !== undefined) state.contentType = clipJson(result.contentType, MAX_CONTENT_TYPE_BYTES);
    succeeded++;
    bytes += result.bytes;
    outcomes.add(1, { outcome: 'succeeded', kind: 'none', handler });
  };
  const failWith = (state: ResourceState, error: ResourceError, attempts: number): void => {
    state.status = ResourceStatus.failed;
    state.attempts = attempts;
    state.error = { ...error, message: clipJson(error.message, MAX_MESSAGE_BYTES) };
    failed++;
    outcomes.add(1, { outcome: 'failed', kind: error.kind, handler });
  };

  /**
   * Every attempt of one resource in its own activity (or, with `attemptOffset` 1, the attempts
   * after the one a batch made, under `options` shifted to match).
   */
  const download = async (task: DownloadTask, state: ResourceState, options = downloadOptions, attemptOffset = 0): Promise<void> => {
    try {
      const input = { ...common, task, ...(attemptOffset > 0 ? { attemptOffset } : {}) };
      const result = await downloadResource.executeWithOptions({ ...options, summary: task.url.slice(0, 200) }, [input]);
      succeed(state, result);
    } catch (err) {
      if (isCancellation(err)) return; // stays pending: the job was canceled
      const { error, attempts } = downloadFailure(err, Math.max(state.attempts, 1), options.retry.maximumAttempts + attemptOffset);
      failWith(state, error, attempts);
    } finally {
      inFlight--;
    }
  };

  /**
   * First attempts in batches of at most `batchSize` (one `downloadBatch` activity each, `lanes`
   * downloads at once inside it), then every resource that failed retryably alone, with the
   * job's retry policy shifted by the attempt the batch made. Slots: a batch holds `lanes` of the
   * page's `window`, a lone retry one.
   */
  const runBatched = async (batchSize: number): Promise<void> => {
    const lanes = Math.max(1, Math.min(batchSize, Math.ceil(window / 4)));
    // Enough batches to fill the window even when the page is small: a page of 40 tasks with a
    // window of 8 runs 4 batches of 10 with 2 lanes each, not one batch of 40 with 2 lanes.
    const slots = Math.max(1, Math.floor(window / lanes));
    const size = Math.min(batchSize, Math.max(1, Math.ceil(tasks.length / slots)));
    const max = retry.maximumAttempts;
    const secondInterval = Math.min(retry.initialIntervalMs * retry.backoffCoefficient, retry.maximumIntervalMs);
    const aloneOptions = {
      ...downloadOptions,
      retry: { ...downloadOptions.retry, maximumAttempts: Math.max(1, max - 1), initialInterval: secondInterval },
    };
    const batchOptions = {
      // A batch runs ceil(size / lanes) attempts back to back at worst; heartbeats catch a dead worker.
      startToCloseTimeout: policy.attemptTimeoutMs * Math.ceil(size / lanes) + 60_000,
      heartbeatTimeout: policy.heartbeatTimeoutMs,
      retry: { maximumAttempts: 5, initialInterval: '1 second', maximumInterval: '30 seconds' },
    };
    const { downloadBatch } = proxyActivities<Activities>(batchOptions);
    const ready: { index: number; offset: number }[] = [];
    let readyAt = 0;
    let sleeping = 0;

    const retryLater = (index: number, failure: BatchFailure | undefined): void => {
      if (failure === undefined) {
        ready.push({ index, offset: 0 }); // the batch itself failed: a full set of attempts alone
        return;
      }
      if (max === 1) {
        const { retryAfterMs: _, ...error } = failure;
        failWith(states[index]!, { ...error, kind: exhaustedKind(error.kind) }, 1);
        return;
      }
      states[index]!.attempts = 1;
      sleeping++;
      void sleep(failure.retryAfterMs ?? retry.initialIntervalMs).then(
        () => {
          sleeping--;
          ready.push({ index, offset: 1 });
        },
        () => void sleeping--, // canceled: the resource stays pending
      );
    };

    const batch = async (first: number, count: number): Promise<void> => {
      const batchTasks = tasks.slice(first, first + count);
      try {
        const results: BatchOutcome[] = await downloadBatch.executeWithOptions(
          { ...batchOptions, summary: `${count} resources from ${batchTasks[0]!.url.slice(0, 150)}` },
          [{ ...common, tasks: batchTasks, concurrency: lanes, attemptTimeoutMs: policy.attemptTimeoutMs }],
        );
        const settled = new Array<boolean>(count).fill(false);
        for (const o of results) {
          settled[o.index] = true;
          const i = first + o.index;
          if ('ok' in o) succeed(states[i]!, o.ok);
          else if ('failed' in o) failWith(states[i]!, o.failed, 1);
          else retryLater(i, o.retry);
        }
        for (let j = 0; j < count; j++) if (!settled[j]) retryLater(first + j, undefined);
      } catch (err) {
        if (isCancellation(err)) return;
        for (let j = 0; j < count; j++) retryLater(first + j, undefined);
      } finally {
        inFlight -= lanes;
      }
    };

    let next = 0;
    for (;;) {
      await condition(
        () =>
          (readyAt < ready.length && inFlight < window) ||
          (next < tasks.length && inFlight + lanes <= window) ||
          (next >= tasks.length && readyAt >= ready.length && sleeping === 0 && inFlight === 0),
      );
      if (readyAt < ready.length && inFlight < window) {
        const { index, offset } = ready[readyAt++]!;
        inFlight++;
        void download(tasks[index]!, states[index]!, offset === 0 ? downloadOptions : aloneOptions, offset);
      } else if (next < tasks.length && inFlight + lanes <= window) {
        const count = Math.min(size, tasks.length - next);
        inFlight += lanes;
        void batch(next, count);
        next += count;
      } else {
        return;
      }
    }
  };

  try {
    if (round === 0) {
      const { manifestKey, maxExtraTasks } = input;
      const loaded = await io.loadPage({ jobId, handler, pageKey: input.pageKey, ...(manifestKey ? { manifestKey } : {}), ...(maxExtraTasks !== undefined ? { maxExtraTasks } : {}) });
      tasks = loaded.tasks;
      pageResources = loaded.pageResources;
      rejected = loaded.rejected ?? [];
      if (loaded.handlerError) {
        // The handler could not expand this page: every resource fails with kind `handler`.
        const error = { kind: ErrorKind.handler, message: clipJson(loaded.handlerError.message, MAX_MESSAGE_BYTES) };
        for (const r of loaded.handlerError.resources) {
          states.push({ id: r.id, url: r.url, key: r.key, status: ResourceStatus.failed, attempts: 1, error });
        }
        failed = states.length;
        outcomes.add(failed, { outcome: 'failed', kind: ErrorKind.handler, handler });
        tasks = loaded.handlerError.resources;
        return { page, round, pageResources, tasks: tasks.length, succeeded, failed, bytes, canceled, states };
      }
    } else {
      tasks = await io.failedTasks({ jobId, handler, page, pageKey: input.pageKey, round });
    }
    for (const task of tasks) {
      states.push({ id: task.id, url: task.url, key: task.key, status: ResourceStatus.pending, attempts: 0 });
    }
    // Resources whose expansion did not fit (page budget, job task cap): failed, after the tasks.
    for (const r of rejected) {
      states.push({ id: r.id, url: r.url, key: r.key, status: ResourceStatus.failed, attempts: 1, error: { kind: ErrorKind.handler, message: clipJson(r.message, MAX_MESSAGE_BYTES) } });
    }
    failed += rejected.length;
    if (rejected.length > 0) outcomes.add(rejected.length, { outcome: 'failed', kind: ErrorKind.handler, handler });
    const perHost = policy.perHostConcurrency ?? 0;
    const batchSize = policy.batchSize ?? 1;
    if (perHost <= 0 && batchSize > 1) {
      await runBatched(batchSize);
    } else if (perHost <= 0) {
      for (const [i, task] of tasks.entries()) {
        await condition(() => inFlight < window);
        inFlight++;
        void download(task, states[i]!);
      }
    } else {
      // Politeness: at most `perHost` downloads per host in this page. A download holds its slot
      // through all its Temporal retries; the job workflow runs one polite page at a time (before
      // 'exact-per-host', it divided the limit among its running pages). Hosts take turns.
      const byHost = new Map<string, number[]>();
      for (const [i, task] of tasks.entries()) {
        const host = hostOf(task.url);
        const queue = byHost.get(host);
        if (queue) queue.push(i);
        else byHost.set(host, [i]);
      }
      const busy = new Map<string, number>();
      let remaining = tasks.length;
      while (remaining > 0) {
        await condition(() => inFlight < window && [...byHost.keys()].some((h) => (busy.get(h) ?? 0) < perHost));
        for (const [host, queue] of byHost) {
          if (inFlight >= window) break;
          if ((busy.get(host) ?? 0) >= perHost) continue;
          const i = queue.shift()!;
          if (queue.length === 0) byHost.delete(host);
          remaining--;
          inFlight++;
          busy.set(host, (busy.get(host) ?? 0) + 1);
          void download(tasks[i]!, states[i]!).finally(() => busy.set(host, busy.get(host)! - 1));
        }
      }
    }
    await condition(() => inFlight === 0);
  } catch (err) {
    if (!isCancellation(err)) throw err;
    canceled = true;
    // Running downloads were asked to cancel; wait until each has settled one way or the other.
    await CancellationScope.nonCancellable(() => condition(() => inFlight === 0));
  }
  return {
    page,
    round,
    pageResources,
    tasks: tasks.length + rejected.length,
    succeeded,
    failed,
    bytes,
    canceled,
    states,
  };
}
