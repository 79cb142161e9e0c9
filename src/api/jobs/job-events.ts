import { queryPageStates, readPageRun, type LedgerReadOptions, type PageRun } from '../../ledger/page-states.js';
import { jobWorkflowId } from '../../model/ids.js';
import { summaryQuery } from '../../model/messages.js';
import { JobStatus } from '../../model/constants.js';
import { type JobMemo } from '../../model/job-types.js';
import { ApiError, ErrorCode } from '../api-error.js';
import type { JobContext } from './job-context.js';
import { jobSummary } from './job-reader.js';
import { describeJob } from './job-status.js';
import type { JobSummary } from './job-views.js';
import { ResourceEventTracker, type PageRunRef, type ResourceEvent, type ResourceEventFilter } from './resource-event-tracker.js';

/** How long a live query to a running job or page may take before this poll goes without it. */
const QUERY_DEADLINE_MS = 3_000;

/** An idle event stream gets a keepalive this often, so proxies keep it open. */
export const KEEPALIVE_MS = 15_000;

/**
 * One item of a job's event stream: `summary` (the job's counts, when they changed), `resource`
 * (a resource that settled), `end` (the closed job's summary; the last event), or `keepalive`
 * (nothing happened for a while: the route writes a comment line).
 */
export type JobEvent = { event: 'summary' | 'end'; data: JobSummary } | { event: 'resource'; data: ResourceEvent } | { event: 'keepalive' };

/** How a stream polls and what it reports. */
export interface JobEventsOptions {
  intervalMs: number;
  resources: ResourceEventFilter;
  /** Aborts when the client went away: the stream stops at its next step. */
  signal: AbortSignal;
}

const queryDeadline = ({ deps }: JobContext) => Math.min(QUERY_DEADLINE_MS, deps.config.api.temporalTimeoutMs);

/** How the stream reads the ledger: each call bounded, live queries under the shorter deadline. */
function ledgerOptions(ctx: JobContext): LedgerReadOptions {
  return { call: (fn) => ctx.temporal(fn), queryCall: (fn) => ctx.temporal(fn, queryDeadline(ctx)) };
}

/** The job's running page runs; `undefined` when no worker answered in time. */
function runningPages(ctx: JobContext, jobId: string): Promise<PageRunRef[] | undefined> {
  const { deps, temporal } = ctx;
  return temporal(() => deps.client.workflow.getHandle(jobWorkflowId(jobId)).query(summaryQuery), queryDeadline(ctx)).then(
    (live) => live.runningPages,
    () => undefined,
  );
}

/**
 * The resource events one poll finds: followed page runs that closed (their results), running
 * ones (their live states), then page runs that started and closed since the last poll, or
 * before the stream began. With `closed` (the job closed) every page run is read to its result.
 * Reads one page run at a time and yields as it goes, so a slow client holds the poll back
 * instead of events piling up.
 */
async function* resourceEvents(
  ctx: JobContext,
  jobId: string,
  tracker: ResourceEventTracker,
  closed: boolean,
  signal: AbortSignal,
): AsyncGenerator<ResourceEvent> {
  const client = ctx.deps.client;
  const options = ledgerOptions(ctx);
  let running: PageRunRef[] = [];
  if (!closed) {
    const live = await runningPages(ctx, jobId);
    if (!live) return; // no worker answered: the next poll tries again
    running = live;
  }
  /** What a page run read from the ledger reports: live states while it runs, the rest once it closed. */
  const report = (ref: PageRunRef, run: PageRun): ResourceEvent[] => {
    if (run.status === 'running') return tracker.running(ref, run.states ?? []);
    return tracker.closed(ref, run.status === 'completed' ? run.result.states : undefined);
  };
  const isRunning = new Set(running.map((r) => `${r.page}/${r.round}`));
  for (const ref of tracker.followed()) {
    if (isRunning.has(`${ref.page}/${ref.round}`) || signal.aborted) continue;
    yield* report(ref, await readPageRun(client, { jobId, ...ref }, options));
  }
  for (const ref of running) {
    if (signal.aborted) return;
    const states = await queryPageStates(client, { jobId, ...ref }, options);
    if (states) yield* tracker.running(ref, states);
  }
  for (let ref = tracker.nextUnseen(); ref && !signal.aborted; ref = tracker.nextUnseen()) {
    const run = await readPageRun(client, { jobId, ...ref }, options);
    if (run.status === 'not_started') {
      // Running: not started yet, nor has any later one. Closed: a first-round page that never
      // started (the job was canceled first) or whose history is gone (retention): look further.
      if (!closed || ref.round > 0) return;
      tracker.closed(ref, undefined);
      continue;
    }
    yield* report(ref, run);
  }
}

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}

/**
 * Opens a job's event stream: checks the job (404 and 503 are thrown here, before a stream
 * starts) and returns its events. Every `intervalMs` the stream reports the resources that
 * settled since its last poll, then a `summary` when the counts changed; when the job closes it
 * reports the rest and `end`. A stream reports every settled resource of the job from its first
 * page once per page round, those that settled before it began first, so a job that is already
 * closed gets its failures (all its resources with `all`), one `summary` and `end`.
 */
export async function openJobEvents(ctx: JobContext, jobId: string, opts: JobEventsOptions): Promise<AsyncGenerator<JobEvent>> {
  const desc = await describeJob(ctx, jobId);
  const memo = (desc.memo ?? {}) as Partial<JobMemo>;
  if (memo.pageCount === undefined) throw new ApiError(404, ErrorCode.jobNotFound, `job ${jobId} has no FetchBox manifest`);
  const first = await jobSummary(ctx, jobId);
  return jobEvents(ctx, first, new ResourceEventTracker(jobId, memo.pageCount, opts.resources), opts);
}

async function* jobEvents(
  ctx: JobContext,
  first: JobSummary,
  tracker: ResourceEventTracker,
  opts: JobEventsOptions,
): AsyncGenerator<JobEvent> {
  const { jobId } = first;
  let summary = first;
  let lastSummary = '';
  let lastYield = Date.now();
  for (;;) {
    const closed = summary.status !== JobStatus.running;
    for await (const data of resourceEvents(ctx, jobId, tracker, closed, opts.signal)) {
      yield { event: 'resource', data };
      lastYield = Date.now();
    }
    if (opts.signal.aborted) return;
    if (closed) {
      // Every stream has a summary before its end, also one opened on a closed job.
      if (lastSummary === '') yield { event: 'summary', data: summary };
      return yield { event: 'end', data: summary };
    }
    const key = JSON.stringify(summary);
    if (key !== lastSummary) {
      lastSummary = key;
      yield { event: 'summary', data: summary };
      lastYield = Date.now();
    } else if (Date.now() - lastYield >= KEEPALIVE_MS) {
      yield { event: 'keepalive' };
      lastYield = Date.now();
    }
    await pause(opts.intervalMs, opts.signal);
    if (opts.signal.aborted) return;
    summary = await jobSummary(ctx, jobId);
  }
}
