import type { Info } from '@temporalio/activity';
import type { Storage } from '../storage/storage.js';
import type { DownloadResult } from '../model/download-types.js';
import type { DownloadTask } from '../model/job-types.js';

/**
 * Object metadata naming the page workflow run that stored the object. A retried activity uses it
 * to recognise objects an earlier attempt of the same run stored before its completion was lost
 * (worker killed, Temporal server restarted), instead of downloading and storing them again.
 */
export const PAGE_RUN_METADATA = 'page-run';

/** The workflow run an activity attempt works for, and whether Temporal is retrying it. */
export interface ActivityRun {
  workflowId?: string;
  runId?: string;
  /** True from the activity's second attempt on: an earlier attempt may have stored objects. */
  retried: boolean;
  /**
   * True on the last attempt Temporal makes of a one-resource activity (its retry policy's
   * `maximumAttempts`): a failure now fails the resource for good, so its partial download goes.
   * Never set for a batch, whose failed resources are retried one by one afterwards.
   */
  lastAttempt?: boolean;
}

/** The activity that downloads many first attempts; its failed resources are retried as `downloadResource`. */
const BATCH_ACTIVITY = 'downloadBatch';

/** The {@link ActivityRun} of a running activity, from its Temporal info. */
export function activityRun(info: Pick<Info, 'attempt' | 'workflowExecution' | 'retryPolicy' | 'activityType'>): ActivityRun {
  const max = info.retryPolicy?.maximumAttempts;
  const lastAttempt = info.activityType !== BATCH_ACTIVITY && max !== undefined && max > 0 && info.attempt >= max;
  return {
    ...(info.workflowExecution?.workflowId ? { workflowId: info.workflowExecution.workflowId } : {}),
    ...(info.workflowExecution?.runId ? { runId: info.workflowExecution.runId } : {}),
    retried: info.attempt > 1,
    ...(lastAttempt ? { lastAttempt } : {}),
  };
}

/**
 * The stored object of `task` when this page run stored it already (same run id, resource id and
 * URL, with a verified sha256), as a download result; undefined otherwise. Only whole, verified
 * objects exist in storage, so a match is a finished download. One HEAD, made only on retries.
 */
export async function storedByRun(
  storage: Storage,
  task: DownloadTask,
  runId: string,
): Promise<Omit<DownloadResult, 'attempts'> | undefined> {
  const existing = await storage.head(task.key).catch(() => undefined);
  const meta = existing?.metadata;
  if (
    !existing ||
    !meta ||
    meta[PAGE_RUN_METADATA] !== runId ||
    meta['resource-id'] !== task.id ||
    meta['source-url'] !== task.url ||
    !meta.sha256
  ) {
    return undefined;
  }
  return {
    tier: 'resumed',
    skipped: true,
    bytes: existing.bytes,
    sha256: meta.sha256,
    finalUrl: task.url,
    ...(meta['content-type'] ? { contentType: meta['content-type'] } : {}),
  };
}
