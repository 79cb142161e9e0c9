import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

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

/** EventType numbers to names (the enum object maps both ways). */
const EVENT_TYPE_NAMES = temporal.api.enums.v1.EventType as unknown as Record<number, string>;

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

/** What the executions of one workflow type cost in Temporal, summed over the runs counted. */
export interface WorkflowTypeCost {
  /** Executions (runs), a continue-as-new counting as a run of its own. */
  runs: number;
  events: number;
  /** WorkflowTaskCompleted events. */
  workflowTasks: number;
  /** ActivityTaskScheduled events by activity type (each an activity task a worker polled). */
  activityTasks: Record<string, number>;
  /** Local activities (MarkerRecorded `core_local_activity`). */
  localActivities: number;
  /** MarkerRecorded events by marker name (`core_patch`: a patched() call recorded; `core_local_activity`). */
  markers: Record<string, number>;
  /** Every event by type (`WORKFLOW_TASK_COMPLETED`, ...). */
  eventTypes: Record<string, number>;
  /**
   * Where a run's wall time goes, ms (p50 / p90 over every occurrence): `run` = execution started →
   * closed; `workflow task queue` / `run` = scheduled → started (waiting for a poller) / started →
   * completed (the worker's activation); `activity <type> queue` / `run` likewise per activity type.
   */
  latencyMs: Record<string, { p50: number; p90: number; n: number }>;
}

const at = (q: number, sorted: number[]) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;

/**
 * The cost of every execution a visibility `query` selects, by workflow type: events, workflow
 * tasks, activity tasks by activity type, markers, events by type and the queue and run times of
 * tasks, read from the recorded histories `parallel` at a time (after the measured window: reading
 * histories is load of its own).
 */
export async function historyBreakdown(client: Client, query: string, parallel = 8): Promise<Record<string, WorkflowTypeCost>> {
  const runs: { workflowId: string; runId: string; type: string }[] = [];
  for await (const run of client.workflow.list({ query, pageSize: 1000 }))
    runs.push({ workflowId: run.workflowId, runId: run.runId, type: run.type });
  const out: Record<string, WorkflowTypeCost> = {};
  const samples: Record<string, Record<string, number[]>> = {};
  let next = 0;
  const reader = async () => {
    while (next < runs.length) {
      const run = runs[next++]!;
      const cost = (out[run.type] ??= {
        runs: 0,
        events: 0,
        workflowTasks: 0,
        activityTasks: {},
        localActivities: 0,
        markers: {},
        eventTypes: {},
        latencyMs: {},
      });
      const sample = (samples[run.type] ??= {});
      const add = (name: string, value: number) => (sample[name] ??= []).push(value);
      const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      const events = history.events ?? [];
      cost.runs++;
      const time = new Map<string, number>();
      const activityOf = new Map<string, string>();
      for (const event of events) {
        cost.events++;
        const id = String(event.eventId);
        const t = ms(event.eventTime);
        time.set(id, t);
        const type = eventTypeName(event.eventType);
        cost.eventTypes[type] = (cost.eventTypes[type] ?? 0) + 1;
        if (event.workflowTaskStartedEventAttributes) {
          add('workflow task queue', t - (time.get(String(event.workflowTaskStartedEventAttributes.scheduledEventId)) ?? t));
        }
        if (event.workflowTaskCompletedEventAttributes) {
          cost.workflowTasks++;
          add('workflow task run', t - (time.get(String(event.workflowTaskCompletedEventAttributes.startedEventId)) ?? t));
        }
        const activity = event.activityTaskScheduledEventAttributes?.activityType?.name;
        if (activity) {
          cost.activityTasks[activity] = (cost.activityTasks[activity] ?? 0) + 1;
          activityOf.set(id, activity);
        }
        const started = event.activityTaskStartedEventAttributes;
        if (started) {
          const scheduled = String(started.scheduledEventId);
          add(`activity ${activityOf.get(scheduled)} queue`, t - (time.get(scheduled) ?? t));
        }
        const completed = event.activityTaskCompletedEventAttributes;
        if (completed) {
          add(`activity ${activityOf.get(String(completed.scheduledEventId))} run`, t - (time.get(String(completed.startedEventId)) ?? t));
        }
        const marker = event.markerRecordedEventAttributes?.markerName;
        if (marker) {
          cost.markers[marker] = (cost.markers[marker] ?? 0) + 1;
          if (marker === 'core_local_activity') cost.localActivities++;
        }
      }
      if (events.length > 1) add('run', ms(events[events.length - 1]!.eventTime) - ms(events[0]!.eventTime));
    }
  };
  await Promise.all(Array.from({ length: parallel }, reader));
  for (const [type, byName] of Object.entries(samples)) {
    for (const [name, values] of Object.entries(byName)) {
      const sorted = values.sort((a, b) => a - b);
      out[type]!.latencyMs[name] = { p50: at(0.5, sorted), p90: at(0.9, sorted), n: sorted.length };
    }
  }
  return out;
}

/** `WORKFLOW_TASK_COMPLETED` for the enum's number (history events carry the number). */
function eventTypeName(type: HistoryEvent['eventType']): string {
  const name = typeof type === 'number' ? EVENT_TYPE_NAMES[type] : type;
  return String(name ?? type).replace(/^EVENT_TYPE_/, '');
}

/**
 * The event types of one workflow's history in order, runs of the same type folded
 * (`UPSERT_WORKFLOW_SEARCH_ATTRIBUTES ×2`): what one job or page costs, step by step.
 */
export async function eventSequence(client: Client, workflowId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const out: { type: string; n: number }[] = [];
  for (const event of history.events ?? []) {
    const type = eventTypeName(event.eventType);
    const last = out[out.length - 1];
    if (last?.type === type) last.n++;
    else out.push({ type, n: 1 });
  }
  return out.map((x) => (x.n > 1 ? `${x.type} ×${x.n}` : x.type));
}
