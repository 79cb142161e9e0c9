import { condition, isCancellation } from '@temporalio/workflow';
import { BatchRunner } from './batch-runner.js';
import type { BatchOutcome } from '../model/download-types.js';
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
 * inline run made every task's first attempt already: JobScheduler's runInline), no batch starts: those
 * outcomes are recorded and only the lone retries run.
 */
export async function runBatched(state: PageState, batchSize: number, firstAttempts?: BatchOutcome[]): Promise<void> {
  const { tasks, window } = state;
  const lanes = Math.max(1, Math.min(batchSize, Math.ceil(window / 4)));
  // Enough batches to fill the window even when the page is small: a page of 40 tasks with a
  // window of 8 runs 4 batches of 10 with 2 lanes each, not one batch of 40 with 2 lanes.
  const slots = Math.max(1, Math.floor(window / lanes));
  const size = firstAttempts !== undefined ? tasks.length : evenBatchSize(tasks.length, slots, batchSize);
  const runner = new BatchRunner(state);
  const { ready } = runner;

  const batch = async (first: number, count: number): Promise<void> => {
    const indices = Array.from({ length: count }, (_, j) => first + j);
    try {
      const { unsettled } = await runner.run(indices, lanes, size);
      for (const i of unsettled) runner.later(i, undefined);
    } catch (err) {
      if (isCancellation(err)) return;
      for (const i of indices) runner.later(i, undefined);
    } finally {
      state.inFlight -= lanes;
    }
  };

  let next = 0;
  if (firstAttempts !== undefined) {
    const { unsettled } = runner.record(
      tasks.map((_, i) => i),
      firstAttempts,
    );
    for (const i of unsettled) runner.later(i, undefined);
    next = tasks.length;
  }
  for (;;) {
    await condition(
      () =>
        (ready.length > 0 && state.inFlight < window) ||
        (next < tasks.length && state.inFlight + lanes <= window) ||
        (next >= tasks.length && ready.length === 0 && runner.sleeping === 0 && state.inFlight === 0),
    );
    if (ready.length > 0 && state.inFlight < window) {
      state.inFlight++;
      void runner.download(ready.shift()!);
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
