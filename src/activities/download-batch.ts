import { Context } from '@temporalio/activity';
import type { BatchOutcome, DownloadBatchInput } from '../workflows/download-types.js';
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
 * workflow retries it alone, with the job's retry policy).
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
  let next = 0;
  const lane = async () => {
    while (next < input.tasks.length) {
      const index = next++;
      if (outcomes[index] !== undefined) continue;
      if (activity.cancellationSignal.aborted) return;
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
        const { finalUrl: _, ...result } = await downloadOne(input, task, 1, controller.signal, () => beat(), run);
        outcomes[index] = { index, ok: result };
      } catch (err) {
        if (activity.cancellationSignal.aborted) return;
        outcomes[index] = batchFailure(index, err, timedOut, input.attemptTimeoutMs);
      } finally {
        clearTimeout(timer);
        activity.cancellationSignal.removeEventListener('abort', onCancel);
      }
      beat();
    }
  };
  // Heartbeats also while every lane waits on a slow origin: that is how a cancel arrives.
  const ticker = setInterval(() => beat(), HEARTBEAT_EVERY_MS);
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(input.concurrency, input.tasks.length)) }, lane));
  } finally {
    clearInterval(ticker);
  }
  if (activity.cancellationSignal.aborted) {
    beat(true);
    throw activity.cancellationSignal.reason ?? new Error('canceled');
  }
  return settled();
}
