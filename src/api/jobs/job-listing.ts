import { isGrpcServiceError } from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes.js';
import { GrpcStatus } from '../../temporal/grpc-errors.js';
import { JobStatus } from '../../workflows/constants.js';
import { SearchAttributes } from '../../workflows/search-attributes.js';
import { ErrorCode, issuesError } from '../api-error.js';
import { JOB_STATUS_CLAUSE, literal, toIso } from '../visibility.js';
import type { JobContext } from './job-context.js';
import { statusOf } from './job-status.js';
import type { JobListItem, JobListing } from './job-views.js';
import { WorkflowTypes } from '../../workflows/ids.js';

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

/** gRPC codes Temporal answers a page token it cannot read with (the SQL stores fail to parse it: UNKNOWN). */
const BAD_TOKEN_CODES: readonly number[] = [GrpcStatus.INVALID_ARGUMENT, 2 /* UNKNOWN */];

/**
 * Jobs from Temporal visibility, newest first, filtered by status and handler. Continued-as-new
 * runs are left out; a retried job's earlier run is shown once per page at most (its latest).
 */
export async function listJobs(
  { deps, temporal }: JobContext,
  opts: { status?: JobStatus; handler?: string; limit: number; cursor?: string },
): Promise<JobListing> {
  const { client, config } = deps;
  const clauses = [`WorkflowType = '${WorkflowTypes.job}'`, `ExecutionStatus != 'ContinuedAsNew'`];
  if (opts.status) clauses.push(JOB_STATUS_CLAUSE[opts.status]);
  if (opts.handler) clauses.push(`${SearchAttributes.handler.name} = ${literal(opts.handler)}`);
  const res = await temporal(() =>
    client.workflowService.listWorkflowExecutions({
      namespace: config.temporal.namespace,
      query: clauses.join(' AND '),
      pageSize: opts.limit,
      ...(opts.cursor ? { nextPageToken: Buffer.from(opts.cursor, 'base64url') } : {}),
    }),
  ).catch((err: unknown) => {
    // The cursor is visibility's page token: one Temporal cannot read is the client's mistake (400), not a 500.
    if (opts.cursor && isGrpcServiceError(err) && BAD_TOKEN_CODES.includes(err.code)) {
      throw issuesError(ErrorCode.invalidRequest, 'invalid query parameters', [
        { path: 'cursor', message: 'not a cursor returned by this API' },
      ]);
    }
    throw err;
  });
  const seen = new Set<string>();
  const items: JobListItem[] = [];
  for (const info of res.executions ?? []) {
    const workflowId = info.execution?.workflowId ?? '';
    if (!workflowId.startsWith('job-') || seen.has(workflowId)) continue;
    seen.add(workflowId);
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
      startedAt: toIso(info.startTime) ?? '',
      ...(closedAt && status !== JobStatus.running ? { closedAt } : {}),
    });
  }
  const token = res.nextPageToken && res.nextPageToken.length > 0 ? Buffer.from(res.nextPageToken).toString('base64url') : null;
  return { items, next: token };
}
