import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/create-activities.js';
import { clipJson } from './failure-rules.js';
import { ErrorKind, ResourceStatus } from './constants.js';
import { MAX_MESSAGE_BYTES } from './page-budget.js';
import { ioTimeouts } from './io-timeouts.js';
import type { PageState } from './page-state.js';
import type { DownloadTask, RejectedResource } from './job-types.js';
import type { InlineRunResult } from './download-types.js';

/**
 * The page's I/O activities. loadPage and failedTasks wait out a storage outage as publishManifest
 * does; what retrying cannot fix (a corrupt or missing staged page, a bug) they throw non-retryable
 * (load-page.ts).
 */
export function pageIo() {
  const retry = { maximumAttempts: Number.POSITIVE_INFINITY, initialInterval: '1 second', maximumInterval: '1 minute' };
  return proxyActivities<Activities>({ ...ioTimeouts(), retry });
}

/** Whether the page has downloads to run, or ended already (its handler could not expand it). */
export type PageLoad = 'ready' | 'handler-failed';

/**
 * Loads the page round's download tasks into `state`: round 0 the staged page through the handler
 * (resources its expansion did not fit fail with kind `handler`, after the tasks); retry rounds the
 * resources still failed after earlier rounds. Every task starts pending.
 */
export async function loadPageTasks(state: PageState, io: ReturnType<typeof pageIo>): Promise<PageLoad> {
  const { jobId, handler, page, round } = state.input;
  if (round === 0) {
    const { manifestKey, maxExtraTasks } = state.input;
    const loaded = await io.loadPage({
      jobId,
      handler,
      pageKey: state.input.pageKey,
      manifestKey,
      ...(maxExtraTasks !== undefined ? { maxExtraTasks } : {}),
      ...(state.input.policy.store !== undefined ? { store: state.input.policy.store } : {}),
    });
    return recordLoadedPage(state, loaded);
  }
  return recordTasks(state, await io.failedTasks({ jobId, handler, page, pageKey: state.input.pageKey, round }), []);
}

/**
 * Records a first round's tasks as the handler made them (loadPage's answer, or the inline run's):
 * every task pending, then the resources its expansion did not fit failed with kind `handler`. A
 * page the handler could not expand at all fails every resource with kind `handler`.
 */
export function recordLoadedPage(state: PageState, loaded: Omit<InlineRunResult, 'outcomes'>): PageLoad {
  state.pageResources = loaded.pageResources;
  if (loaded.handlerError) {
    // The handler could not expand this page: every resource fails with kind `handler`.
    const error = { kind: ErrorKind.handler, message: clipJson(loaded.handlerError.message, MAX_MESSAGE_BYTES) };
    for (const r of loaded.handlerError.resources) {
      state.states.push({ id: r.id, url: r.url, key: r.key, status: ResourceStatus.failed, attempts: 1, error });
    }
    state.failed = state.states.length;
    state.countFailedWithoutDownload(state.failed, ErrorKind.handler);
    state.tasks = loaded.handlerError.resources;
    return 'handler-failed';
  }
  return recordTasks(state, loaded.tasks, loaded.rejected ?? []);
}

/** Records `tasks` as pending and `rejected` as failed (`handler`), in that order. */
function recordTasks(state: PageState, tasks: DownloadTask[], rejected: RejectedResource[]): PageLoad {
  state.tasks = tasks;
  state.rejected = rejected;
  for (const task of state.tasks) {
    state.states.push({
      id: task.id,
      url: task.url,
      key: task.key,
      status: ResourceStatus.pending,
      attempts: 0,
      ...(task.store !== undefined ? { store: task.store } : {}),
    });
  }
  for (const r of state.rejected) {
    const error = { kind: ErrorKind.handler, message: clipJson(r.message, MAX_MESSAGE_BYTES) };
    state.states.push({ id: r.id, url: r.url, key: r.key, status: ResourceStatus.failed, attempts: 1, error });
  }
  state.failed += state.rejected.length;
  state.countFailedWithoutDownload(state.rejected.length, ErrorKind.handler);
  return 'ready';
}
