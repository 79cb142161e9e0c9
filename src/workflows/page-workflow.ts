import { CancellationScope, condition, isCancellation, setHandler } from '@temporalio/workflow';
import type { PageResult, PageWorkflowInput } from './job-types.js';
import { pageStatesQuery, pageSummaryQuery } from './messages.js';
import { runBatched } from './page-batch-scheduler.js';
import { runPerHostBatched } from './page-host-batch-scheduler.js';
import { runPerHost } from './page-host-scheduler.js';
import { loadPageTasks, pageIo } from './page-loader.js';
import { runPlain } from './page-plain-scheduler.js';
import { PageState } from './page-state.js';

/**
 * One page of a job in one round: loads its download tasks (page-loader.ts: round 0 the staged
 * page through the handler, retry rounds the resources still failed after earlier rounds),
 * downloads them with at most `window` downloads in flight through one scheduler (per-host limit:
 * page-host-batch-scheduler.ts, or page-host-scheduler.ts without batches; batches:
 * page-batch-scheduler.ts; else page-plain-scheduler.ts),
 * and returns every outcome (page-state.ts). A page stays well inside Temporal's history limits
 * (about 3 events per resource, pages of at most 5,000 resources). Cancellation stops new
 * downloads, cancels running ones, and returns what finished.
 */
export async function pageWorkflow(input: PageWorkflowInput): Promise<PageResult> {
  const io = pageIo();
  const state = new PageState(input);
  setHandler(pageSummaryQuery, () => state.progress());
  setHandler(pageStatesQuery, () => state.states);

  try {
    if ((await loadPageTasks(state, io)) === 'handler-failed') {
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
    state.canceled = true;
    // Running downloads were asked to cancel; wait until each has settled one way or the other.
    await CancellationScope.nonCancellable(() => condition(() => state.inFlight === 0));
  }
  return state.result();
}
