import type { ApplicationFailure } from '@temporalio/activity';
import { partialId } from '../storage/partials.js';
import type { Storage } from '../storage/storage.js';
import type { DownloadTask } from '../workflows/job-types.js';
import type { ActivityRun } from './resume-check.js';

/**
 * After a failed download attempt: when the resource failed for good (a permanent failure, or the
 * last attempt Temporal makes), its partial download in the task's store is removed, since no
 * attempt will continue it. Other failures keep it for the next attempt. Never throws: a removal
 * that fails is left to the partial sweeper (partial-sweeper.ts).
 */
export async function dropPartialIfFinal(
  storage: Storage,
  task: DownloadTask,
  failure: ApplicationFailure,
  run: ActivityRun,
): Promise<void> {
  if (!storage.resumable || !(failure.nonRetryable || run.lastAttempt === true)) return;
  await storage.resumable.drop(partialId(task.key, task.url, task.headers)).catch(() => undefined);
}
