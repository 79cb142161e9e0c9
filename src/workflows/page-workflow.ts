import { CancellationScope, condition, isCancellation, setHandler } from '@temporalio/workflow';
import type { PageResult, PageWorkflowInput } from '../model/job-types.js';
import { pageStatesQuery, pageSummaryQuery } from '../model/messages.js';
import { runBatched } from './page-batch-scheduler.js';
import { runPerHostBatched } from './page-host-batch-scheduler.js';
import { runPerHost } from './page-host-scheduler.js';
import { PageState } from './page-state.js';

/**
 * The plain page scheduler (no per-host limit, no batches): every task in its own activity, in
 * task order, with at most `window` downloads in flight. Returns once the last one has started.
 */
async function runPlain(state: PageState): Promise<void> {
  for (const [i, task] of state.tasks.entries()) {
    await condition(() => state.inFlight < state.window);
    state.inFlight++;
    void state.download(task, state.states[i]!);
  }
}

/**
 * One page of a job in one round: loads its download tasks (`PageState.load`: round 0 the staged
 * page through the handler, retry rounds the resources still failed after earlier rounds),
 * downloads them with at most `window` downloads in flight through one scheduler (per-host limit:
 * page-host-batch-scheduler.ts, or page-host-scheduler.ts without batches; batches:
 * page-batch-scheduler.ts; else `runPlain` above), and returns every outcome (page-state.ts). A page stays well inside Temporal's history limits
 * (about 3 events per resource, pages of at most 5,000 resources). Cancellation stops new
 * downloads, cancels running ones, and returns what finished.
 */
export async function pageWorkflow(input: PageWorkflowInput): Promise<PageResult> {
  const state = new PageState(input);
  setHandler(pageSummaryQuery, () => state.progress());
  setHandler(pageStatesQuery, () => state.states);

  try {
    if ((await state.load()) === 'handler-failed') {
      return { ...state.result(), tasks: state.tasks.length };
    }
    const perHost = input.policy.perHostConcurrency ?? 0;
    const batchSize = input.policy.batchSize ?? 1;
    // Polite batches: host-grouped downloadBatch activities under the per-host limit. Polite pages of
    // jobs without batches run one activity per resource.
    if (perHost > 0 && batchSize > 1) await runPerHostBatched(state, perHost, batchSize);
    else if (perHost > 0) await runPerHost(state, perHost);
    else if (batchSize > 1) await runBatched(state, batchSize);
    else await runPlain(state);
    await condition(() => state.inFlight === 0);
  } catch (err) {
    if (!isCancellation(err)) throw err;
    state.markCanceled();
    // Running downloads were asked to cancel; wait until each has settled one way or the other.
    await CancellationScope.nonCancellable(() => condition(() => state.inFlight === 0));
  }
  return state.result();
}
