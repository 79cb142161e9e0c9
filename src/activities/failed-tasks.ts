import type { Client } from '@temporalio/client';
import { restrictTaskHeaders } from '../fetch/origin-headers.js';
import { readPageStates } from '../ledger/page-states.js';
import type { Storage } from '../storage/storage.js';
import { ResourceStatus } from '../workflows/constants.js';
import { type DownloadTask, type ResourceState } from '../workflows/job-types.js';
import { readStagedPage } from './load-page.js';

/**
 * The failed tasks of a page after every earlier round, joined with the staged page for their
 * headers. Backs the `failedTasks` activity. It takes a Temporal Client because Temporal history
 * is FetchBox's ledger: each round's page results live only there (the job workflow keeps counts,
 * not states), so a retry round reads them back through the one ledger reader
 * (src/ledger/page-states.ts), the same one the API lists resources with.
 */
export async function failedTasksOf(
  client: Client,
  storage: Storage,
  input: { jobId: string; page: number; pageKey: string; round: number },
): Promise<DownloadTask[]> {
  if (input.round === 0) return [];
  // Earlier rounds are all closed when a retry round starts; one that closed without a result
  // (failed, terminated) leaves its failures unknown, so the activity fails rather than guess.
  const states = await readPageStates(
    client,
    { jobId: input.jobId, page: input.page, lastRound: input.round - 1 },
    { requireCompleted: true },
  );
  // One task per id (the last state of an id wins), in the order the ids first appear.
  const latest = new Map<string, ResourceState>(states.map((s) => [s.id, s]));
  const failed = [...latest.values()].filter((s) => s.status === ResourceStatus.failed);
  if (failed.length === 0) return [];
  const resources = await readStagedPage(storage, input.pageKey);
  const byId = new Map(resources.map((r) => [r.id, r]));
  // Joined by id: a handler's task may share an id with a resource on another origin.
  const tasks = failed.map((s) => {
    const headers = byId.get(s.id)?.headers;
    return { id: s.id, url: s.url, key: s.key, ...(headers ? { headers } : {}), ...(s.store !== undefined ? { store: s.store } : {}) };
  });
  return restrictTaskHeaders(tasks, resources);
}
