import { Context } from '@temporalio/activity';
import type { BatchOutcome, DownloadBatchInput } from '../workflows/download-types.js';
import { hostOf } from '../workflows/host-of.js';
import type { DownloadOne } from './download-one.js';
import { batchFailure } from './failures.js';
import { activityRun } from './resume-check.js';

/** Heartbeats at most this often, whatever the rate at which downloads settle. */
const HEARTBEAT_EVERY_MS = 1_000;

/**
 * The `downloadBatch` activity: first attempts of many small downloads in one activity (Temporal's
 * cost per activity is paid once per batch, not once per resource). Runs `concurrency` downloads at
 * once, each bounded by `attemptTimeoutMs`, and heartbeats the outcomes so far: when the worker
 * dies, the retried activity resumes from its last heartbeat and never downloads a settled resource
 * twice. Never throws for one resource: each outcome is `ok`, `failed` (permanent) or `retry` (the
 * workflow retries it alone, with the job's retry policy). With `pauseOnRetryAfter` (polite
 * pages), a host that answered with Retry-After gets no more requests from this batch: its
 * remaining tasks are left out of the result, unattempted.
 */
export async function downloadBatch(downloadOne: DownloadOne, input: DownloadBatchInput): Promise<BatchOutcome[]> {
  const activity = Context.current();
  const run = activityRun(activity.info);
  const outcomes: (BatchOutcome | undefined)[] = new Array<BatchOutcome | undefined>(input.tasks.length);
  const resumed = activity.info.heartbeatDetails as BatchOutcome[] | undefined;
  if (Array.isArray(resumed)) for (const o of resumed) if (o && o.index < outcomes.length) outcomes[o.index] = o;
  const settled = () => outcomes.filter((o): o is BatchOutcome => o !== undefined);
  let lastBeat = 0;
  const beat = (force = false) => {
    const now = Date.now();
    if (force || now - lastBeat >= HEARTBEAT_EVERY_MS) {
      lastBeat = now;
      activity.heartbeat(settled());
    }
  };
  // Hosts that asked, with Retry-After, to be left alone for a while (only with pauseOnRetryAfter).
  const paused = new Set<string>();
  const requests = requestSlots(input.overlapCommits === true ? input.concurrency : Number.POSITIVE_INFINITY);
  let next = 0;
  /** The next task to start: not settled by an earlier attempt, not on a paused host; -1 when none is left. */
  const take = (): number => {
    while (next < input.tasks.length) {
      const index = next++;
      if (outcomes[index] !== undefined) continue;
      if (paused.size > 0 && paused.has(hostOf(input.tasks[index]!.url))) continue;
      return index;
    }
    return -1;
  };
  const lane = async () => {
    for (;;) {
      const done = await requests.acquire();
      const index = take();
      if (index < 0 || activity.cancellationSignal.aborted) return done();
      const task = input.tasks[index]!;
      // One controller per download, aborted by its time budget or by the activity's
      // cancellation (AbortSignal.timeout/any cost more than a small download).
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, input.attemptTimeoutMs);
      const onCancel = () => controller.abort();
      activity.cancellationSignal.addEventListener('abort', onCancel, { once: true });
      try {
        const { finalUrl: _, ...result } = await downloadOne(input, task, 1, controller.signal, () => beat(), run, done);
        outcomes[index] = { index, ok: result };
      } catch (err) {
        if (activity.cancellationSignal.aborted) return;
        const outcome = batchFailure(index, err, timedOut, input.attemptTimeoutMs);
        outcomes[index] = outcome;
        if (input.pauseOnRetryAfter === true && 'retry' in outcome && outcome.retry.retryAfterMs !== undefined)
          paused.add(hostOf(task.url));
      } finally {
        done();
        clearTimeout(timer);
        activity.cancellationSignal.removeEventListener('abort', onCancel);
      }
      beat();
    }
  };
  // Heartbeats also while every lane waits on a slow origin: that is how a cancel arrives.
  const ticker = setInterval(() => beat(), HEARTBEAT_EVERY_MS);
  try {
    // With overlapCommits, twice the lanes: `concurrency` requests, and as many commits behind them.
    const lanes = input.concurrency * (input.overlapCommits === true ? 2 : 1);
    await Promise.all(Array.from({ length: Math.max(1, Math.min(lanes, input.tasks.length)) }, lane));
  } finally {
    clearInterval(ticker);
  }
  if (activity.cancellationSignal.aborted) {
    beat(true);
    throw activity.cancellationSignal.reason ?? new Error('canceled');
  }
  return settled();
}

/**
 * Request slots of one batch: `acquire` waits for a free one and returns its release, which is
 * safe to call more than once (a download gives its slot back when its body has been received,
 * and again when it settles). Infinite slots: acquiring never waits.
 */
function requestSlots(slots: number): { acquire(): Promise<() => void> } {
  let free = slots;
  const waiting: (() => void)[] = [];
  const release = () => {
    const wake = waiting.shift();
    if (wake) wake();
    else free++;
  };
  const once = () => {
    let released = false;
    return () => {
      if (!released) release();
      released = true;
    };
  };
  return {
    acquire: () => {
      if (free > 0) {
        free--;
        return Promise.resolve(once());
      }
      return new Promise((resolve) => waiting.push(() => resolve(once())));
    },
  };
}
