import type { Client } from '@temporalio/client';

/** History size of one job: every run of its job workflow and of its page workflows. */
export interface HistoryStats {
  /** Workflow executions counted (job runs + page runs). */
  executions: number;
  events: number;
  /** WorkflowTaskCompleted events: how many workflow tasks the worker answered. */
  workflowTasks: number;
}

/**
 * Counts the events and completed workflow tasks of a job's histories: the job workflow's runs
 * and its pages' (every id starts with `job-<jobId>`), read back from Temporal after the job closed.
 */
export async function jobHistoryStats(client: Client, jobId: string): Promise<HistoryStats> {
  const stats: HistoryStats = { executions: 0, events: 0, workflowTasks: 0 };
  const runs: { workflowId: string; runId: string }[] = [];
  for await (const run of client.workflow.list({ query: `WorkflowId STARTS_WITH "job-${jobId}"` })) {
    runs.push({ workflowId: run.workflowId, runId: run.runId });
  }
  for (const run of runs) {
    const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
    stats.executions++;
    for (const event of history.events ?? []) {
      stats.events++;
      if (event.workflowTaskCompletedEventAttributes) stats.workflowTasks++;
    }
  }
  return stats;
}
