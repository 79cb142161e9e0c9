import { condition, isCancellation, patched, proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { exhaustedKind } from './failure-rules.js';
import type { BatchFailure, BatchOutcome } from './download-types.js';
import type { PageState } from './page-state.js';

/**
 * Batch size for `count` tasks over `slots` batches at once, at most `batchSize`: the batches come
 * in full rounds of `slots` (1,000 tasks, 4 slots, at most 100: 12 batches of 84 in 3 rounds, not
 * 10 of 100 whose third round leaves half the window idle while its two batches run).
 */
export function evenBatchSize(count: number, slots: number, batchSize: number): number {
  const rounds = Math.max(1, Math.ceil(count / (slots * batchSize)));
  return Math.max(1, Math.min(batchSize, Math.ceil(count / (slots * rounds))));
}

/**
 * The batched page scheduler: first attempts in batches of at most `batchSize` (one
 * `downloadBatch` activity each, `lanes` downloads at once inside it), then every resource that
 * failed retryably alone, with the job's retry policy shifted by the attempt the batch made.
 * Slots: a batch holds `lanes` of the page's `window`, a lone retry one. Returns once every task
 * has started and every retry has been handed to its own activity. With `firstAttempts` (an
 * inline run made every task's first attempt already: page-inline.ts), no batch starts: those
 * outcomes are recorded and only the lone retries run.
 */
export async function runBatched(state: PageState, batchSize: number, firstAttempts?: BatchOutcome[]): Promise<void> {
  const { tasks, states, window, downloadOptions } = state;
  const { retry, attemptTimeoutMs, heartbeatTimeoutMs } = state.input.policy;
  const lanes = Math.max(1, Math.min(batchSize, Math.ceil(window / 4)));
  // Enough batches to fill the window even when the page is small: a page of 40 tasks with a
  // window of 8 runs 4 batches of 10 with 2 lanes each, not one batch of 40 with 2 lanes.
  const slots = Math.max(1, Math.floor(window / lanes));
  const size =
    firstAttempts !== undefined
      ? tasks.length
      : patched('even-batch-rounds')
        ? evenBatchSize(tasks.length, slots, batchSize)
        : Math.min(batchSize, Math.max(1, Math.ceil(tasks.length / slots)));
  const max = retry.maximumAttempts;
  const secondInterval = Math.min(retry.initialIntervalMs * retry.backoffCoefficient, retry.maximumIntervalMs);
  const aloneOptions = {
    ...downloadOptions,
    retry: { ...downloadOptions.retry, maximumAttempts: Math.max(1, max - 1), initialInterval: secondInterval },
  };
  const batchOptions = {
    // A batch runs ceil(size / lanes) attempts back to back at worst; heartbeats catch a dead worker.
    startToCloseTimeout: attemptTimeoutMs * Math.ceil(size / lanes) + 60_000,
    heartbeatTimeout: heartbeatTimeoutMs,
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
      state.failWith(states[index]!, { ...error, kind: exhaustedKind(error.kind) }, 1);
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

  /** Records a batch's outcomes (tasks `first` .. `first + count - 1`); a task without one is retried alone. */
  const record = (first: number, count: number, results: readonly BatchOutcome[]): void => {
    const settled = new Array<boolean>(count).fill(false);
    for (const o of results) {
      if (o.index < 0 || o.index >= count || settled[o.index]) continue;
      settled[o.index] = true;
      const i = first + o.index;
      if ('ok' in o) state.succeed(states[i]!, o.ok);
      else if ('failed' in o) state.failWith(states[i]!, o.failed, 1);
      else retryLater(i, o.retry);
    }
    for (let j = 0; j < count; j++) if (!settled[j]) retryLater(first + j, undefined);
  };

  const batch = async (first: number, count: number): Promise<void> => {
    const batchTasks = tasks.slice(first, first + count);
    try {
      const results: BatchOutcome[] = await downloadBatch.executeWithOptions(
        { ...batchOptions, summary: `${count} resources from ${batchTasks[0]!.url.slice(0, 150)}` },
        [{ ...state.common, tasks: batchTasks, concurrency: lanes, attemptTimeoutMs }],
      );
      record(first, count, results);
    } catch (err) {
      if (isCancellation(err)) return;
      for (let j = 0; j < count; j++) retryLater(first + j, undefined);
    } finally {
      state.inFlight -= lanes;
    }
  };

  let next = 0;
  if (firstAttempts !== undefined) {
    record(0, tasks.length, firstAttempts);
    next = tasks.length;
  }
  for (;;) {
    await condition(
      () =>
        (readyAt < ready.length && state.inFlight < window) ||
        (next < tasks.length && state.inFlight + lanes <= window) ||
        (next >= tasks.length && readyAt >= ready.length && sleeping === 0 && state.inFlight === 0),
    );
    if (readyAt < ready.length && state.inFlight < window) {
      const { index, offset } = ready[readyAt++]!;
      state.inFlight++;
      void state.download(tasks[index]!, states[index]!, offset === 0 ? downloadOptions : aloneOptions, offset);
    } else if (next < tasks.length && state.inFlight + lanes <= window) {
      const count = Math.min(size, tasks.length - next);
      state.inFlight += lanes;
      void batch(next, count);
      next += count;
    } else {
      return;
    }
  }
}
