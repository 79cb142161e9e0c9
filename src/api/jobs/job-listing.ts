import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes.js';
import { JobStatus } from '../../model/constants.js';
import { SearchAttributes } from '../../model/search-attributes.js';
import { JOB_STATUS_CLAUSE, literal, toIso } from '../visibility.js';
import type { JobContext } from './job-context.js';
import { z } from 'zod';
import { CursorListing, type CursorSigner } from '../cursor.js';
import { statusOf } from './job-status.js';
import type { JobListItem, JobListing } from './job-views.js';
import { WorkflowTypes } from '../../model/ids.js';

/** What a `GET /jobs` cursor is bound to: visibility's page token is valid only for the query it came from. */
export interface JobsCursorFilter {
  status?: string | undefined;
  handler?: string | undefined;
}

const bindingOf = (filter: JobsCursorFilter) => [filter.status ?? null, filter.handler ?? null];

/** A `GET /jobs` cursor's position: visibility's page token, base64url. */
const JobsPosition = z.strictObject({ t: z.string().regex(/^[A-Za-z0-9_-]+$/) });

/**
 * A `GET /jobs` cursor: visibility's page token in the API's one cursor format (cursor.ts), bound
 * to the listing's filters, so a cursor this API never returned, or one of other filters, is a
 * `400` before Temporal sees it (Temporal answers an unreadable token with a retried UNKNOWN error:
 * a `500` or, at the deadline, a `503`).
 */
export function encodeJobsCursor(signer: CursorSigner, filter: JobsCursorFilter, token: Uint8Array): string {
  return signer.seal(CursorListing.jobs, bindingOf(filter), { t: Buffer.from(token).toString('base64url') });
}

/** The page token in a cursor {@link encodeJobsCursor} made for these filters; `400 invalid_request` for anything else. */
export function decodeJobsCursor(signer: CursorSigner, filter: JobsCursorFilter, cursor: string): Buffer {
  return Buffer.from(signer.open(CursorListing.jobs, bindingOf(filter), cursor, JobsPosition).t, 'base64url');
}

/** Most runs one look-up reads: a page of 1000 jobs with a few retry runs each. */
const MAX_RUNS = 1000;

/**
 * Of the listed closed runs (`workflowId` → `runId`), the workflow ids whose listed run is no longer
 * the job's latest: a retry of a closed job starts a new run under the same id, and visibility keeps
 * listing the old one with its old status. One visibility query for the whole page; the latest run
 * of an id is the one started last (only one run is open at a time, and a retry run starts after
 * the run it retries closed). An id the query did not return (more than {@link MAX_RUNS} runs, or not
 * indexed yet) counts as current.
 */
async function supersededRuns({ deps, temporal }: JobContext, listed: ReadonlyMap<string, string>): Promise<Set<string>> {
  if (listed.size === 0) return new Set();
  const ids = [...listed.keys()].map(literal).join(', ');
  const res = await temporal(() =>
    deps.client.workflowService.listWorkflowExecutions({
      namespace: deps.config.temporal.namespace,
      query: `WorkflowType = '${WorkflowTypes.job}' AND ExecutionStatus != 'ContinuedAsNew' AND WorkflowId IN (${ids})`,
      pageSize: MAX_RUNS,
    }),
  );
  const latest = new Map<string, { runId: string; startedAt: string }>();
  for (const info of res.executions ?? []) {
    const workflowId = info.execution?.workflowId ?? '';
    const runId = info.execution?.runId ?? '';
    const startedAt = toIso(info.startTime) ?? '';
    const known = latest.get(workflowId);
    if (runId && (!known || startedAt > known.startedAt)) latest.set(workflowId, { runId, startedAt });
  }
  const superseded = new Set<string>();
  for (const [workflowId, runId] of listed) {
    const run = latest.get(workflowId);
    if (run && run.runId !== runId) superseded.add(workflowId);
  }
  return superseded;
}

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
  // A cursor this API never returned (or of other filters) is a 400 here, before Temporal sees it.
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
