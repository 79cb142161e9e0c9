/**
 * The one reader of per-resource states. Temporal history is FetchBox's ledger: each page workflow
 * run (`job-<jobId>/p<NNNNNN>[/r<round>]`) returns the state of every resource it ran, and a running
 * one answers the `pageStates` query; a small job that ran its page's first round inline keeps that
 * round in the job workflow (its `inlinePage` query, and the carry of its result). The API (listing, events) and the `failedTasks` activity
 * (a retry round's tasks) read them here, so both see the same states merged the same way.
 */
import type { Client } from '@temporalio/client';
import { isNotFound } from '../temporal/grpc-errors.js';
import { jobWorkflowId, pageWorkflowId } from '../model/ids.js';
import { inlinePageQuery, pageStatesQuery } from '../model/messages.js';
import type { JobResult, PageResult, ResourceState } from '../model/job-types.js';
import { mergeRoundStates } from '../model/round-merge.js';

/**
 * One page run: which job, which page (0-based), which round (0: the first). `inline`: known to
 * run inside the job workflow (the job's summary says so), so it is asked there directly.
 */
export interface PageRunRef {
  jobId: string;
  page: number;
  round: number;
  inline?: boolean;
}

/**
 * Wraps each Temporal call the reader makes, e.g. the API's bounded `temporal()` call
 * (src/api/jobs/job-context.ts) that adds a deadline and maps outages to 503s. Default: the call as is.
 */
export type LedgerCall = <T>(fn: () => Promise<T>) => Promise<T>;

/** Options of every read. */
export interface LedgerReadOptions {
  /** Wraps each Temporal call (deadline, error mapping); the call runs as is when omitted. */
  call?: LedgerCall;
  /**
   * Wraps the live `pageStates` query instead of `call`, e.g. with a shorter deadline: a busy or
   * absent worker should cost a poll little. Default: `call`.
   */
  queryCall?: LedgerCall;
  /**
   * Throw {@link PageRunNotCompletedError} for a run that closed without completing (failed,
   * terminated, timed out) instead of reading it as absent: a retry round must not guess what such
   * a run left failed. Default false (a listing shows what is known).
   */
  requireCompleted?: boolean;
}

/**
 * What the ledger holds for one page run: never started (no workflow with that id: the page
 * had nothing to retry in that round, or the job has not reached it), running (with the states so
 * far, undefined when no worker answered the query), completed (its result), or closed otherwise.
 */
export type PageRun =
  | { status: 'not_started' }
  | { status: 'running'; states: ResourceState[] | undefined }
  | { status: 'completed'; result: PageResult }
  | { status: 'closed'; closedAs: string };

/** A page run closed without a result (failed, terminated, timed out): its states are unknown. */
export class PageRunNotCompletedError extends Error {
  override readonly name = 'PageRunNotCompletedError';
  constructor(
    readonly run: PageRunRef,
    readonly closedAs: string,
  ) {
    super(`page ${run.page} of job ${run.jobId}, round ${run.round}, closed ${closedAs} without a result`);
  }
}

const direct: LedgerCall = (fn) => fn();

/** Whether a page run may have run inline in its job workflow: only page 0's first round does (JobWorkflowInput.inlineRun). */
function mayRunInline(run: PageRunRef): boolean {
  return run.page === 0 && run.round === 0;
}

/**
 * Reads page 0's first round of a job that ran it inline, from the job workflow (the ledger of
 * that round: its `inlinePage` query while the job runs, the carry in its result once it
 * completed). `not_started` when the job does not run it inline (or has not started it yet).
 */
async function readInlineRun(client: Client, run: PageRunRef, options: LedgerReadOptions): Promise<PageRun> {
  const call = options.call ?? direct;
  const handle = client.workflow.getHandle(jobWorkflowId(run.jobId));
  let status: string;
  try {
    status = (await call(() => handle.describe())).status.name;
  } catch (err) {
    if (isNotFound(err)) return { status: 'not_started' };
    throw err;
  }
  if (status === 'RUNNING') {
    const answer = await (options.queryCall ?? call)(() => handle.query(inlinePageQuery)).catch(() => null);
    if (answer === null) return { status: 'running', states: undefined }; // no worker answered: unknown for now
    if (answer === undefined) return { status: 'not_started' };
    return 'result' in answer ? { status: 'completed', result: answer.result } : { status: 'running', states: answer.states };
  }
  if (status === 'COMPLETED') {
    const result = (await call(() => handle.result())) as Partial<JobResult> | undefined;
    const page = result?.resume?.carry?.inlinePage;
    return page ? { status: 'completed', result: page } : { status: 'not_started' };
  }
  return { status: 'closed', closedAs: status };
}

/**
 * Reads one page run from the ledger: describe, then its result (closed) or its live states
 * (running). Page 0's first round is looked for in the job workflow when no page child ran it
 * (a small job runs it inline).
 */
export async function readPageRun(client: Client, run: PageRunRef, options: LedgerReadOptions = {}): Promise<PageRun> {
  if (run.inline) return readInlineRun(client, run, options);
  const call = options.call ?? direct;
  const handle = client.workflow.getHandle(pageWorkflowId(run.jobId, run.page, run.round));
  let status: string;
  try {
    status = (await call(() => handle.describe())).status.name;
  } catch (err) {
    if (isNotFound(err)) return mayRunInline(run) ? readInlineRun(client, run, options) : { status: 'not_started' };
    throw err;
  }
  if (status === 'COMPLETED') return { status: 'completed', result: (await call(() => handle.result())) as PageResult };
  if (status === 'RUNNING') return { status: 'running', states: await queryPageStates(client, run, options) };
  return { status: 'closed', closedAs: status };
}

/**
 * The live states of a page run believed running (its `pageStates` query), without describing it
 * first; undefined when no worker answered (in time), or the run is gone: not an error, the
 * states are unknown for now.
 */
export async function queryPageStates(
  client: Client,
  run: PageRunRef,
  options: LedgerReadOptions = {},
): Promise<ResourceState[] | undefined> {
  const call = options.queryCall ?? options.call ?? direct;
  if (run.inline) {
    const answer = await call(() => client.workflow.getHandle(jobWorkflowId(run.jobId)).query(inlinePageQuery)).catch(() => undefined);
    return answer === undefined ? undefined : 'result' in answer ? answer.result.states : answer.states;
  }
  const handle = client.workflow.getHandle(pageWorkflowId(run.jobId, run.page, run.round));
  return call(() => handle.query(pageStatesQuery)).catch(() => undefined);
}

/**
 * The states of one page in one round: the result's states for a completed run, the `pageStates`
 * query's answer for a running one, undefined when the run never started (or no worker answered,
 * or it closed without a result and `requireCompleted` is off).
 */
export async function readRoundStates(
  client: Client,
  run: PageRunRef,
  options: LedgerReadOptions = {},
): Promise<ResourceState[] | undefined> {
  const read = await readPageRun(client, run, options);
  switch (read.status) {
    case 'completed':
      return read.result.states;
    case 'running':
      return read.states;
    case 'closed':
      if (options.requireCompleted) throw new PageRunNotCompletedError(run, read.closedAs);
      return undefined;
    case 'not_started':
      return undefined;
  }
}

/** Options of {@link readPageStates}. */
export interface PageStatesOptions extends LedgerReadOptions {
  /**
   * The states to start from while the first round has no states (not started yet): the API lists
   * the staged resources as pending. None when omitted.
   */
  beforeFirstRound?: () => Promise<ResourceState[]>;
}

/**
 * Every resource of one page in its latest state after rounds `0..lastRound`: the first round's
 * states (or `beforeFirstRound`'s while it has none), with later rounds merged over them
 * (src/model/round-merge.ts: settled states override, attempts add up, pending ones do not).
 */
export async function readPageStates(
  client: Client,
  page: { jobId: string; page: number; lastRound: number },
  options: PageStatesOptions = {},
): Promise<ResourceState[]> {
  const first = await readRoundStates(client, { jobId: page.jobId, page: page.page, round: 0 }, options);
  const base = first ?? (options.beforeFirstRound ? await options.beforeFirstRound() : []);
  const later: (ResourceState[] | undefined)[] = [];
  for (let round = 1; round <= page.lastRound; round++) {
    later.push(await readRoundStates(client, { jobId: page.jobId, page: page.page, round }, options));
  }
  return mergeRoundStates(base, later);
}
