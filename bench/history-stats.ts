import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** History size of one job, and how well its batches kept the download window busy. */
export interface HistoryStats {
  /** Workflow executions counted (job runs + page runs). */
  executions: number;
  events: number;
  /** WorkflowTaskCompleted events: how many workflow tasks the worker answered. */
  workflowTasks: number;
  /**
   * Lane-seconds of `downloadBatch` activities (lanes × scheduled-to-closed) over `window` × the
   * job's wall time: 1.0 = every slot of the window held by a batch all the time. What is missing
   * went to page edges (child start, loadPage, the page's tail) and to batch hand-overs.
   */
  laneOccupancy: number;
  /** Median time from a page run's start to its first batch being scheduled, ms. */
  pageStartMs: number;
  /** Median time from a batch's close to the next batch scheduled in the same page, ms. */
  handOverMs: number;
}

const ms = (t: HistoryEvent['eventTime']) => Number(t?.seconds ?? 0) * 1000 + Math.round((t?.nanos ?? 0) / 1e6);
const median = (xs: number[]) => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!);

/**
 * Counts the events and completed workflow tasks of a job's histories (the job workflow's runs
 * and its pages': every id starts with `job-<jobId>`), read back from Temporal after the job
 * closed, and measures the batches' occupancy of a `window` of download slots.
 */
export async function jobHistoryStats(client: Client, jobId: string, window: number): Promise<HistoryStats> {
  const stats = { executions: 0, events: 0, workflowTasks: 0 };
  const runs: { workflowId: string; runId: string }[] = [];
  for await (const run of client.workflow.list({ query: `WorkflowId STARTS_WITH "job-${jobId}"` })) {
    runs.push({ workflowId: run.workflowId, runId: run.runId });
  }
  let first = Infinity;
  let last = 0;
  let laneMs = 0;
  const pageStarts: number[] = [];
  const handOvers: number[] = [];
  for (const run of runs) {
    const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
    const events = history.events ?? [];
    stats.executions++;
    const batches = new Map<string, { scheduled: number; lanes: number }>();
    let lastClose: number | undefined;
    let firstBatch = true;
    for (const event of events) {
      stats.events++;
      if (event.workflowTaskCompletedEventAttributes) stats.workflowTasks++;
      const at = ms(event.eventTime);
      if (event.workflowExecutionStartedEventAttributes && !run.workflowId.includes('/p')) first = Math.min(first, at);
      if (event.workflowExecutionCompletedEventAttributes && !run.workflowId.includes('/p')) last = Math.max(last, at);
      const scheduled = event.activityTaskScheduledEventAttributes;
      if (scheduled?.activityType?.name === 'downloadBatch') {
        const input = JSON.parse(Buffer.from(scheduled.input!.payloads![0]!.data!).toString('utf8')) as { concurrency: number };
        batches.set(String(event.eventId), { scheduled: at, lanes: input.concurrency });
        if (firstBatch) pageStarts.push(at - ms(events[0]!.eventTime));
        else if (lastClose !== undefined) handOvers.push(at - lastClose);
        firstBatch = false;
      }
      const closed =
        event.activityTaskCompletedEventAttributes ?? event.activityTaskFailedEventAttributes ?? event.activityTaskTimedOutEventAttributes;
      const batch = closed ? batches.get(String(closed.scheduledEventId)) : undefined;
      if (batch) {
        laneMs += batch.lanes * (at - batch.scheduled);
        lastClose = at;
      }
    }
  }
  return {
    ...stats,
    laneOccupancy: last > first ? laneMs / (window * (last - first)) : 0,
    pageStartMs: median(pageStarts),
    handOverMs: median(handOvers),
  };
}
