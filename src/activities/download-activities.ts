/**
 * The download activities: `downloadResource` (one attempt of one resource) and `downloadBatch`
 * (first attempts of many), both over the one download attempt of download-one.ts.
 */
import { Context } from '@temporalio/activity';
import type { BatchOutcome, DownloadBatchInput, DownloadInput, DownloadResult } from '../model/download-types.js';
import { hostOf } from '../model/host-of.js';
import type { DownloadOne, RequestSlot } from './download-one.js';
import { batchFailure } from './failures.js';
import { activityRun } from './resume-check.js';

/** Heartbeats at most this often, whatever the rate at which bytes stream or downloads settle. */
const HEARTBEAT_EVERY_MS = 1_000;

/** Builds the download activities over the worker's download attempt; createActivities registers them by name. */
export function createDownloadActivities(downloadOne: DownloadOne) {
  return {
    /**
     * Downloads one resource and streams it into storage, verifying size and sha256 on the way.
     * Throws a classified ApplicationFailure: `type` is the failure kind, `nonRetryable` marks
     * permanent failures, and `nextRetryDelay` carries the origin's Retry-After. Attempts made
     * before this activity (the first one, in a batch) count through `attemptOffset`.
     */
    async downloadResource(input: DownloadInput): Promise<DownloadResult> {
      const activity = Context.current();
      let lastBeat = Date.now(); // as in downloadBatch below: no heartbeat in the first interval
      const beat = (bytes: number) => {
        const now = Date.now();
        if (now - lastBeat >= HEARTBEAT_EVERY_MS) {
          lastBeat = now;
          activity.heartbeat(bytes);
        }
      };
      const attempt = activity.info.attempt + (input.attemptOffset ?? 0);
      return downloadOne(input, input.task, attempt, activity.cancellationSignal, beat, activityRun(activity.info));
    },

    /** First attempts of many small downloads in one activity ({@link downloadBatch}). */
    async downloadBatch(input: DownloadBatchInput): Promise<BatchOutcome[]> {
      return downloadBatch(downloadOne, input);
    },
  };
}

/**
 * The `downloadBatch` activity (and `downloadInline`'s downloads): first attempts of many small downloads in one activity (Temporal's
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
  // The first heartbeat waits a full interval too: the SDK sends a first heartbeat at once, and a
  // small job's batch is done before one is useful (one Temporal write per job saved).
  let lastBeat = Date.now();
  const beat = (force = false) => {
    const now = Date.now();
    if (force || now - lastBeat >= HEARTBEAT_EVERY_MS) {
      lastBeat = now;
      activity.heartbeat(settled());
    }
  };
  // Hosts that asked, with Retry-After, to be left alone for a while (only with pauseOnRetryAfter).
  const paused = new Set<string>();
  const slots = input.overlapCommits === true ? requestSlots(input.concurrency, paused) : undefined;
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
      const index = take();
      if (index < 0 || activity.cancellationSignal.aborted) return;
      const task = input.tasks[index]!;
      const slot = slots?.slot(hostOf(task.url));
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
        const { finalUrl: _, ...result } = await downloadOne(input, task, 1, controller.signal, () => beat(), run, slot);
        outcomes[index] = { index, ok: result };
      } catch (err) {
        if (activity.cancellationSignal.aborted) return;
        if (err instanceof HostPausedError) continue; // not attempted: left out of the result
        const outcome = batchFailure(index, err, timedOut, input.attemptTimeoutMs);
        outcomes[index] = outcome;
        if (input.pauseOnRetryAfter === true && 'retry' in outcome && outcome.retry.retryAfterMs !== undefined)
          paused.add(hostOf(task.url));
      } finally {
        slot?.received();
        clearTimeout(timer);
        activity.cancellationSignal.removeEventListener('abort', onCancel);
      }
      beat();
    }
  };
  // Heartbeats also while every lane waits on a slow origin: that is how a cancel arrives.
  const ticker = setInterval(() => beat(), HEARTBEAT_EVERY_MS);
  try {
    // With overlapCommits, twice the lanes: `concurrency` requests, and as many downloads preparing
    // (the key's head) or committing beside them.
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

/** Thrown by a request slot whose host was paused while it waited: the task was not attempted. */
class HostPausedError extends Error {
  constructor(readonly host: string) {
    super(`${host} asked to be left alone (Retry-After)`);
  }
}

/**
 * The request slots of one batch (overlapCommits): `slots` requests at once; each download's slot
 * is taken right before its request and given back when its body has been received (or the attempt
 * ended), safe to give back twice. A slot taken for a host paused meanwhile is given back at once
 * and its download stops with HostPausedError.
 */
function requestSlots(slots: number, paused: ReadonlySet<string>): { slot(host: string): RequestSlot } {
  let free = slots;
  const waiting: (() => void)[] = [];
  const release = () => {
    const wake = waiting.shift();
    if (wake) wake();
    else free++;
  };
  return {
    slot(host) {
      let held = false;
      return {
        async take() {
          if (free > 0) free--;
          else await new Promise<void>((resolve) => waiting.push(resolve));
          held = true;
          if (paused.has(host)) {
            held = false;
            release();
            throw new HostPausedError(host);
          }
        },
        received() {
          if (held) release();
          held = false;
        },
      };
    },
  };
}
