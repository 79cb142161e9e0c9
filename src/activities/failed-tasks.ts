import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { restrictTaskCredentials } from '../fetch/credentials.js';
import type { Storage } from '../storage/storage.js';
import { pageWorkflowId } from '../workflows/ids.js';
import type { DownloadTask, PageResult, ResourceState } from '../workflows/job-types.js';
import { readStagedPage } from './load-page.js';

/**
 * The failed tasks of a page after every earlier round, read from those rounds' page results in
 * Temporal (the ledger: hence a Client in an activity) and joined with the staged page for their
 * headers. Backs the `failedTasks` activity.
 */
export async function failedTasksOf(
  client: Client,
  storage: Storage,
  input: { jobId: string; page: number; pageKey: string; round: number },
): Promise<DownloadTask[]> {
  const latest = new Map<string, ResourceState>();
  for (let round = 0; round < input.round; round++) {
    let result: PageResult;
    try {
      result = (await client.workflow.getHandle(pageWorkflowId(input.jobId, input.page, round)).result()) as PageResult;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) continue; // this page had no failures in that round
      throw err;
    }
    for (const state of result.states) if (state.status !== 'pending') latest.set(state.id, state);
  }
  const failed = [...latest.values()].filter((s) => s.status === 'failed');
  if (failed.length === 0) return [];
  const resources = await readStagedPage(storage, input.pageKey);
  const byId = new Map(resources.map((r) => [r.id, r]));
  // Joined by id: a handler's task may share an id with a resource on another origin.
  const tasks = failed.map((s) => {
    const headers = byId.get(s.id)?.headers;
    return { id: s.id, url: s.url, key: s.key, ...(headers ? { headers } : {}) };
  });
  return restrictTaskCredentials(tasks, resources);
}
