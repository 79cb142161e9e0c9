import { isGrpcServiceError } from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes.js';
import { readPageStates } from '../../ledger/page-states.js';
import { jobWorkflowId } from '../../model/ids.js';
import type { JobStatus } from '../../model/constants.js';
import type { JobMemo, JobResult, ResourceState } from '../../model/job-types.js';
import { SearchAttributes } from '../../model/search-attributes.js';
import { GrpcStatus } from '../../temporal/grpc-errors.js';
import { ApiError, ErrorCode } from '../api-error.js';
import { toIso } from '../visibility.js';
import type { JobContext } from '../jobs/job-context.js';
import { describeJob, statusOf } from '../jobs/job-status.js';

/** One job workflow run as visibility lists it. */
export interface VisibleRun {
  jobId: string;
  runId: string;
  handler: string;
  /** ISO 8601; absent while the run is open. */
  closedAt?: string;
}

/** A page of runs; `next` is visibility's page token (base64url), null after the last page. */
export interface VisibleRuns {
  runs: VisibleRun[];
  next: string | null;
}

/**
 * One page of job workflow runs matching a visibility `query`, in visibility's order (newest first).
 * A `token` visibility refuses (one this API did not hand out) is `400 invalid_request`.
 */
export async function listRuns(
  { deps, temporal }: JobContext,
  query: string,
  opts: { token?: string; pageSize: number },
): Promise<VisibleRuns> {
  let res;
  try {
    res = await temporal(() =>
      deps.client.workflowService.listWorkflowExecutions({
        namespace: deps.config.temporal.namespace,
        query,
        pageSize: opts.pageSize,
        ...(opts.token ? { nextPageToken: Buffer.from(opts.token, 'base64url') } : {}),
      }),
    );
  } catch (err) {
    if (opts.token && isGrpcServiceError(err) && err.code === GrpcStatus.INVALID_ARGUMENT) {
      throw new ApiError(400, ErrorCode.invalidRequest, 'not a cursor returned by this API (Temporal refused its page token)');
    }
    throw err;
  }
  const runs: VisibleRun[] = [];
  for (const info of res.executions ?? []) {
    const workflowId = info.execution?.workflowId ?? '';
    if (!workflowId.startsWith('job-') || !info.execution?.runId) continue;
    const attributes = decodeTypedSearchAttributes(info.searchAttributes?.indexedFields);
    const closedAt = toIso(info.closeTime);
    runs.push({
      jobId: workflowId.slice('job-'.length),
      runId: info.execution.runId,
      handler: attributes.get(SearchAttributes.handler) ?? 'default',
      ...(closedAt ? { closedAt } : {}),
    });
  }
  const next = res.nextPageToken && res.nextPageToken.length > 0 ? Buffer.from(res.nextPageToken).toString('base64url') : null;
  return { runs, next };
}

/**
 * The latest run of a listed job, when the listed run is it: the job's status then, or undefined
 * when the job is gone (retention) or a later run (a retry) has superseded the listed one, whose
 * failures are then no longer the job's.
 */
export async function latestStatus(ctx: JobContext, run: VisibleRun): Promise<JobStatus | undefined> {
  try {
    const desc = await describeJob(ctx, run.jobId);
    return desc.runId === run.runId ? statusOf(desc) : undefined;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

/** A closed job whose latest run recorded failures: where they are. */
export interface FailedJob extends VisibleRun {
  closedAt: string;
  /** Pages with at least one failed resource after their latest round, ascending. */
  failedPages: number[];
  /** The latest retry round (0: none): the rounds a page's states merge. */
  lastRound: number;
}

/**
 * Opens a listed closed run: undefined unless it is still the job's latest; else its failed pages
 * from the run's result (the job's carry), one history read that returns only the close event.
 */
export async function openFailedJob(ctx: JobContext, run: VisibleRun): Promise<FailedJob | undefined> {
  if (!run.closedAt) return undefined;
  let memo: Partial<JobMemo>;
  try {
    const desc = await describeJob(ctx, run.jobId);
    if (desc.runId !== run.runId) return undefined;
    memo = (desc.memo ?? {}) as Partial<JobMemo>;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
  const handle = ctx.deps.client.workflow.getHandle(jobWorkflowId(run.jobId), run.runId, { followRuns: false });
  const result = (await ctx.temporal(() => handle.result())) as JobResult;
  const carry = result.resume?.carry;
  const failedPages = [...new Set(carry?.failedPages ?? [])].sort((a, b) => a - b);
  return { ...run, closedAt: run.closedAt, failedPages, lastRound: carry?.round ?? memo.rounds ?? 0 };
}

/** The failed resources of one page of a failed job, in manifest order, merged across its rounds (the ledger reader). */
export async function failedStates(ctx: JobContext, job: FailedJob, page: number): Promise<ResourceState[]> {
  const states = await readPageStates(
    ctx.deps.client,
    { jobId: job.jobId, page, lastRound: job.lastRound },
    { call: (fn) => ctx.temporal(fn) },
  );
  return states.filter((s) => s.status === 'failed' && s.error !== undefined);
}
