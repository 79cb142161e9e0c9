import { condition, isCancellation, sleep } from '@temporalio/workflow';
import { BatchRunner } from './batch-runner.js';
import { hostOf } from '../model/host-of.js';
import type { PageState } from './page-state.js';

/**
 * The polite batched page scheduler: a per-host limit without a Temporal
 * round trip per resource. Each host's tasks run in `downloadBatch` activities of that host only,
 * of at most `batchSize` tasks; a batch's lanes count against its host's `perHost` slots and the
 * page's `window`, and so does each lone retry of a resource that failed retryably in a batch (it
 * holds its slot through all its Temporal retries). Hosts with work take turns for free slots,
 * lone retries first. A host that answers with Retry-After is paused: its batch starts no more
 * requests to it (`pauseOnRetryAfter`), the tasks it left are queued again, and nothing is started
 * on that host until the delay has passed. Returns once every task has settled or been handed to
 * its lone download.
 */
export async function runPerHostBatched(state: PageState, perHost: number, batchSize: number): Promise<void> {
  const { tasks, window } = state;
  const runner = new BatchRunner(state);
  const { ready } = runner;
  const hostOfTask = tasks.map((t) => hostOf(t.url));
  // Each host's tasks in page order; hosts take turns in order of first appearance.
  const queues = new Map<string, number[]>();
  for (const [i, host] of hostOfTask.entries()) {
    const queue = queues.get(host);
    if (queue) queue.push(i);
    else queues.set(host, [i]);
  }
  const hosts = [...queues.keys()];
  const busy = new Map<string, number>(); // slots held per host: batch lanes and lone downloads
  const pauses = new Map<string, number>(); // Retry-After delays running per host
  let queued = tasks.length;
  let turn = 0;

  const hold = (host: string, n: number): void => {
    busy.set(host, (busy.get(host) ?? 0) + n);
    state.inFlight += n;
  };
  const release = (host: string, n: number): void => {
    busy.set(host, busy.get(host)! - n);
    state.inFlight -= n;
  };
  const open = (host: string): boolean => (busy.get(host) ?? 0) < perHost && (pauses.get(host) ?? 0) === 0;
  const pause = (host: string, ms: number): void => {
    pauses.set(host, (pauses.get(host) ?? 0) + 1);
    const resume = () => void pauses.set(host, pauses.get(host)! - 1);
    void sleep(ms).then(resume, resume);
  };
  const nextRetry = (): number => ready.findIndex((r) => open(hostOfTask[r.index]!));
  const nextHost = (): number => {
    for (let k = 0; k < hosts.length; k++) {
      const h = (turn + k) % hosts.length;
      const host = hosts[h]!;
      if (queues.get(host)!.length > 0 && open(host)) return h;
    }
    return -1;
  };

  const batch = async (host: string, indices: number[], lanes: number): Promise<void> => {
    try {
      const { unsettled, retryAfterMs } = await runner.run(indices, lanes, indices.length, {
        pauseOnRetryAfter: true,
        overlapCommits: true,
      });
      if (retryAfterMs !== undefined) pause(host, retryAfterMs);
      // Left unattempted behind the host's Retry-After: first in its queue again, in page order.
      queues.get(host)!.unshift(...unsettled);
      queued += unsettled.length;
    } catch (err) {
      if (isCancellation(err)) return;
      for (const i of indices) runner.later(i, undefined);
    } finally {
      release(host, lanes);
    }
  };

  for (;;) {
    await condition(
      () =>
        (state.inFlight < window && (nextRetry() >= 0 || nextHost() >= 0)) ||
        (queued === 0 && ready.length === 0 && runner.sleeping === 0 && state.inFlight === 0),
    );
    const r = state.inFlight < window ? nextRetry() : -1;
    if (r >= 0) {
      const [retry] = ready.splice(r, 1);
      const host = hostOfTask[retry!.index]!;
      hold(host, 1);
      void runner.download(retry!).finally(() => {
        // download() gave back the page's slot when it settled; this gives back the host's.
        busy.set(host, busy.get(host)! - 1);
      });
      continue;
    }
    const h = state.inFlight < window ? nextHost() : -1;
    if (h < 0) return;
    const host = hosts[h]!;
    turn = (h + 1) % hosts.length;
    const queue = queues.get(host)!;
    const indices = queue.splice(0, Math.min(batchSize, queue.length));
    queued -= indices.length;
    const lanes = Math.min(perHost - (busy.get(host) ?? 0), window - state.inFlight, indices.length);
    hold(host, lanes);
    void batch(host, indices, lanes);
  }
}
