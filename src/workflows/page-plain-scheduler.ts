import { condition } from '@temporalio/workflow';
import type { PageState } from './page-state.js';

/**
 * The plain page scheduler (no per-host limit, no batches): every task in its own activity, in
 * task order, with at most `window` downloads in flight. Returns once the last one has started.
 */
export async function runPlain(state: PageState): Promise<void> {
  for (const [i, task] of state.tasks.entries()) {
    await condition(() => state.inFlight < state.window);
    state.inFlight++;
    void state.download(task, state.states[i]!);
  }
}
