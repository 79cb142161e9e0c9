import { proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import { exhaustedKind } from '../model/failure-rules.js';
import type { BatchFailure, BatchOutcome, DownloadBatchInput } from '../model/download-types.js';
import { aloneOptions, batchOptions, type DownloadOptions } from './activity-options.js';
import type { PageState } from './page-state.js';

/** A resource waiting to be downloaded alone: `offset` 1 after a batch's attempt, 0 when its batch failed as a whole. */
export interface ReadyRetry {
  index: number;
  offset: number;
}

/**
 * Runs `downloadBatch` activities for a page and what follows them, shared by the batched and the
 * polite batched schedulers so both record outcomes and retry by one rule: first attempts in a
 * batch, then every resource that failed retryably alone (`ready`, after its delay), with the job's
 * retry policy shifted by the attempt the batch made. Slot accounting stays with the schedulers.
 */
export class BatchRunner {
  /** Resources whose lone download may start, in the order they became ready. */
  readonly ready: ReadyRetry[] = [];
  /** Resources waiting out a retry delay before they become ready. */
  sleeping = 0;
  /** Options of a resource's lone download after the attempt its batch made. */
  readonly aloneOptions: DownloadOptions;
  private readonly maxAttempts: number;

  constructor(private readonly state: PageState) {
    this.maxAttempts = state.input.policy.retry.maximumAttempts;
    this.aloneOptions = aloneOptions(state.input.policy);
  }

  /**
   * Runs one `downloadBatch` over the page's tasks at `indices` and records what settled. Returns
   * the indices the batch did not settle (not started: the activity stopped asking a host that
   * sent Retry-After), and the longest Retry-After among its retryable failures. Throws what the
   * activity threw (cancellation included) after its last attempt.
   */
  async run(
    indices: number[],
    lanes: number,
    size: number,
    extra: Partial<DownloadBatchInput> = {},
  ): Promise<{ unsettled: number[]; retryAfterMs?: number }> {
    const { state } = this;
    const options = batchOptions(state.input.policy, size, lanes);
    const { downloadBatch } = proxyActivities<Activities>(options);
    const tasks = indices.map((i) => state.tasks[i]!);
    const { attemptTimeoutMs } = state.input.policy;
    const results: BatchOutcome[] = await downloadBatch.executeWithOptions(
      { ...options, summary: `${tasks.length} resources from ${tasks[0]!.url.slice(0, 150)}` },
      [{ ...state.common, ...extra, tasks, concurrency: lanes, attemptTimeoutMs }],
    );
    return this.record(indices, results);
  }

  /**
   * Records the first-attempt outcomes of the page's tasks at `indices` (`results[k].index` is a
   * position in `indices`): successes and permanent failures settle, retryable failures wait to be
   * retried alone. Returns the indices without an outcome and the longest Retry-After seen.
   */
  record(indices: number[], results: readonly BatchOutcome[]): { unsettled: number[]; retryAfterMs?: number } {
    const { state } = this;
    const settled = new Array<boolean>(indices.length).fill(false);
    let retryAfterMs: number | undefined;
    for (const o of results) {
      if (o.index < 0 || o.index >= indices.length || settled[o.index]) continue;
      settled[o.index] = true;
      const i = indices[o.index]!;
      if ('ok' in o) state.succeed(state.states[i]!, o.ok);
      else if ('failed' in o) state.failWith(state.states[i]!, o.failed, 1);
      else {
        if (o.retry.retryAfterMs !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, o.retry.retryAfterMs);
        this.later(i, o.retry);
      }
    }
    const unsettled = indices.filter((_, j) => !settled[j]);
    return { unsettled, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }

  /**
   * A resource to download alone: after its batch failed as a whole (`failure` undefined: a full
   * set of attempts), or after its batch attempt failed retryably (the rest of its attempts, once
   * Retry-After or the first retry interval has passed). With one attempt allowed it fails now.
   */
  later(index: number, failure: BatchFailure | undefined): void {
    const { state } = this;
    if (failure === undefined) {
      this.ready.push({ index, offset: 0 });
      return;
    }
    if (this.maxAttempts === 1) {
      const { retryAfterMs: _, ...error } = failure;
      state.failWith(state.states[index]!, { ...error, kind: exhaustedKind(error.kind) }, 1);
      return;
    }
    state.attemptedInBatch(index);
    this.sleeping++;
    void sleep(failure.retryAfterMs ?? state.input.policy.retry.initialIntervalMs).then(
      () => {
        this.sleeping--;
        this.ready.push({ index, offset: 1 });
      },
      () => void this.sleeping--, // canceled: the resource stays pending
    );
  }

  /** Starts a ready resource's lone download; the caller took its slot (`inFlight++`). Settles when the download has. */
  download({ index, offset }: ReadyRetry): Promise<void> {
    const { state } = this;
    return state.download(state.tasks[index]!, state.states[index]!, offset === 0 ? state.downloadOptions : this.aloneOptions, offset);
  }
}
