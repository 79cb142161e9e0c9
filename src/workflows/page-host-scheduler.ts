import { condition } from '@temporalio/workflow';
import { hostOf } from '../model/host-of.js';
import type { PageState } from './page-state.js';

/**
 * The polite page scheduler of one activity per resource (jobs with `batchSize` 1): at most
 * `perHost` downloads per host in this page, and `window` in all. A download holds its slot through
 * all its Temporal retries; the job workflow runs one polite page at a time, so the limit holds
 * job-wide. Hosts take turns. Returns once the last download has started.
 */
export async function runPerHost(state: PageState, perHost: number): Promise<void> {
  const { tasks, states } = state;
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
    await condition(() => state.inFlight < state.window && [...byHost.keys()].some((h) => (busy.get(h) ?? 0) < perHost));
    for (const [host, queue] of byHost) {
      if (state.inFlight >= state.window) break;
      if ((busy.get(host) ?? 0) >= perHost) continue;
      const i = queue.shift()!;
      if (queue.length === 0) byHost.delete(host);
      remaining--;
      state.inFlight++;
      busy.set(host, (busy.get(host) ?? 0) + 1);
      void state.download(tasks[i]!, states[i]!).finally(() => busy.set(host, busy.get(host)! - 1));
    }
  }
}
