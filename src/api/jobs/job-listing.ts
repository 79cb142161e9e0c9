import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes.js';
import { JobStatus } from '../../workflows/constants.js';
import { SearchAttributes } from '../../workflows/search-attributes.js';
import { JOB_STATUS_CLAUSE, literal, toIso } from '../visibility.js';
import type { JobContext } from './job-context.js';
import { decodeJobsCursor, encodeJobsCursor } from './jobs-cursor.js';
import { supersededRuns } from './latest-runs.js';
import { statusOf } from './job-status.js';
import type { JobListItem, JobListing } from './job-views.js';
import { WorkflowTypes } from '../../workflows/ids.js';

/**
 * When the job was submitted: the memo's `startedAt`, which every run of the job carries (a retry
 * of a closed job is a new run, started later), else the run's own start.
 */
function submittedAt(info: { memo?: { fields?: Record<string, Payload> | null } | null; startTime?: Parameters<typeof toIso>[0] }): string {
  const field = info.memo?.fields?.startedAt;
  if (field) {
    try {
      const value = defaultPayloadConverter.fromPayload(field);
      if (typeof value === 'string') return value;
    } catch {
      // An undecodable memo falls back to the run's start.
    }
  }
  return toIso(info.startTime) ?? '';
}

/** Visibility's ExecutionStatus enum → the workflow status names describe() uses. */
const RAW_STATUS: Record<number, string> = {
  1: 'RUNNING',
  2: 'COMPLETED',
  3: 'FAILED',
  4: 'CANCELLED',
  5: 'TERMINATED',
  6: 'CONTINUED_AS_NEW',
  7: 'TIMED_OUT',
};

/**
 * Jobs from Temporal visibility, newest first, filtered by status and handler. Continued-as-new
 * runs are left out, and so is a retried job's earlier run (the job is listed by its latest run
 * only, with its current status): a page may then hold fewer than `limit` jobs.
 */
export async function listJobs(
  ctx: JobContext,
  opts: { status?: JobStatus; handler?: string; limit: number; cursor?: string },
): Promise<JobListing> {
  const { deps, temporal, cursors } = ctx;
  const { client, config } = deps;
  const clauses = [`WorkflowType = '${WorkflowTypes.job}'`, `ExecutionStatus != 'ContinuedAsNew'`];
  if (opts.status) clauses.push(JOB_STATUS_CLAUSE[opts.status]);
  if (opts.handler) clauses.push(`${SearchAttributes.handler.name} = ${literal(opts.handler)}`);
  // A cursor this API never returned (or of other filters) is a 400 here, before Temporal sees it (jobs-cursor.ts).
  const filter = { status: opts.status, handler: opts.handler };
  const pageToken = opts.cursor ? decodeJobsCursor(cursors, filter, opts.cursor) : undefined;
  const res = await temporal(() =>
    client.workflowService.listWorkflowExecutions({
      namespace: config.temporal.namespace,
      query: clauses.join(' AND '),
      pageSize: opts.limit,
      ...(pageToken ? { nextPageToken: pageToken } : {}),
    }),
  );
  // Closed runs may have been superseded by a retry run (an open run is always its job's latest).
  const closedRuns = new Map<string, string>();
  for (const info of res.executions ?? []) {
    const workflowId = info.execution?.workflowId ?? '';
    if (info.closeTime && info.execution?.runId && !closedRuns.has(workflowId)) closedRuns.set(workflowId, info.execution.runId);
  }
  const superseded = await supersededRuns(ctx, closedRuns);
  const seen = new Set<string>();
  const items: JobListItem[] = [];
  for (const info of res.executions ?? []) {
    const workflowId = info.execution?.workflowId ?? '';
    if (!workflowId.startsWith('job-') || seen.has(workflowId)) continue;
    seen.add(workflowId);
    if (superseded.has(workflowId) && info.closeTime) continue;
    const typedSearchAttributes = decodeTypedSearchAttributes(info.searchAttributes?.indexedFields);
    const status = statusOf({
      status: { code: info.status ?? 0, name: RAW_STATUS[info.status ?? 0] ?? 'UNKNOWN' } as never,
      typedSearchAttributes,
    });
    const total = typedSearchAttributes.get(SearchAttributes.total) ?? 0;
    const succeeded = typedSearchAttributes.get(SearchAttributes.succeeded) ?? 0;
    const failed = typedSearchAttributes.get(SearchAttributes.failed) ?? 0;
    const closedAt = toIso(info.closeTime);
    items.push({
      jobId: workflowId.slice('job-'.length),
      handler: typedSearchAttributes.get(SearchAttributes.handler) ?? 'default',
      status,
      resources: { total, succeeded, failed, pending: Math.max(total - succeeded - failed, 0) },
      bytes: typedSearchAttributes.get(SearchAttributes.bytes) ?? 0,
      startedAt: submittedAt(info),
      ...(closedAt && status !== JobStatus.running ? { closedAt } : {}),
    });
  }
  const token = res.nextPageToken && res.nextPageToken.length > 0 ? encodeJobsCursor(cursors, filter, res.nextPageToken) : null;
  return { items, next: token };
}
