import { z } from 'zod';
import { CursorListing, type CursorSigner } from '../cursor.js';
import type { JobContext } from '../jobs/job-context.js';
import { failedStates, listRuns, openFailedJob } from './failed-jobs.js';
import type { FailureFilter, FailureItem, FailureListing } from './failure-views.js';
import { failedJobsQuery } from './visibility-query.js';
import type { ResourceState } from '../../model/job-types.js';

/** Strips the brackets of an IPv6 literal (`[::1]` → `::1`), so either spelling matches. */
function bare(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * True when `url`'s host is `host`, case-insensitively: the name alone (`cdn.example.com`, any
 * port) or with its port (`cdn.example.com:8443`, `127.0.0.1:9000`, `[::1]:8080`: that port only).
 * An unparsable URL matches nothing.
 */
export function hostMatches(url: string, host: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const wanted = host.toLowerCase();
  const name = parsed.hostname.toLowerCase();
  // URL.host leaves out the scheme's default port; a filter naming it still matches.
  const port = parsed.port || (parsed.protocol === 'https:' ? '443' : parsed.protocol === 'http:' ? '80' : '');
  return wanted === name || bare(wanted) === bare(name) || wanted === `${name}:${port}`;
}

/** True for a failed resource state that passes the filter's resource-level parts (`kind`, `host`). */
export function failureMatches(state: ResourceState, filter: Pick<FailureFilter, 'kind' | 'host'>): boolean {
  if (state.status !== 'failed' || !state.error) return false;
  if (filter.kind !== undefined && state.error.kind !== filter.kind) return false;
  if (filter.host !== undefined && !hostMatches(state.url, filter.host)) return false;
  return true;
}

/**
 * Where a `GET /failures` listing stopped: the visibility page it was reading (`token`: the page
 * token that page was fetched with, null for the first), the run it was in (`runId`, at `index` of
 * that page), the position in the run's failed pages (`page`) and in that page's states (`offset`).
 */
export interface FailuresPosition {
  token: string | null;
  runId: string | null;
  index: number;
  page: number;
  offset: number;
}

/** Where a listing without a cursor starts. */
export const START: FailuresPosition = { token: null, runId: null, index: 0, page: 0, offset: 0 };

const Position = z.strictObject({
  token: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,3000}$/)
    .nullable(),
  runId: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9-]+$/)
    .nullable(),
  index: z.number().int().min(0).max(10_000),
  page: z.number().int().min(0).max(10_000_000),
  offset: z.number().int().min(0).max(10_000_000),
});

/** What a failures cursor is bound to: every filter (the host case-insensitively). */
const bindingOf = (filter: FailureFilter) => [filter.since, filter.until, filter.handler, filter.kind, filter.host?.toLowerCase()];

/** The opaque cursor for a position of a listing under `filter`, in the API's one cursor format (cursor.ts). */
export function encodeFailuresCursor(signer: CursorSigner, filter: FailureFilter, at: FailuresPosition): string {
  const { token, runId, index, page, offset } = at;
  return signer.seal(CursorListing.failures, bindingOf(filter), { token, runId, index, page, offset });
}

/**
 * The position a cursor names. `400 invalid_request` for anything this API did not hand out
 * (garbage, a tampered field: its MAC is checked before the body is parsed) and for a cursor of
 * another filter: start again without one.
 */
export function decodeFailuresCursor(signer: CursorSigner, filter: FailureFilter, cursor: string): FailuresPosition {
  return signer.open(CursorListing.failures, bindingOf(filter), cursor, Position);
}

/**
 * Bounds of one `GET /failures` call, whatever `limit` asks: runs per visibility page, jobs opened
 * (a describe and a result read each) and job pages read (their page runs' results). A call that
 * reaches one answers what it found with a cursor to continue, so a sparse filter may return fewer
 * than `limit` items, even none, before its last page.
 */
export const FailuresBudget = { visibilityPageSize: 50, jobsPerCall: 50, pagesPerCall: 20 } as const;

/**
 * The dead-letter view: failed resources of the jobs that completed with failures, newest jobs
 * first (visibility's order), within a job by page and manifest order. Each job's failed pages come
 * from its run's result; their states from the ledger reader, so only pages with failures are read.
 */
export async function listFailures(
  ctx: JobContext,
  filter: FailureFilter,
  opts: { limit: number; cursor?: string; budget?: { visibilityPageSize: number; jobsPerCall: number; pagesPerCall: number } },
): Promise<FailureListing> {
  const budget = opts.budget ?? FailuresBudget;
  const query = failedJobsQuery(filter);
  let at: FailuresPosition = opts.cursor ? decodeFailuresCursor(ctx.cursors, filter, opts.cursor) : START;
  const items: FailureItem[] = [];
  let jobsOpened = 0;
  let pagesRead = 0;
  const stopAt = (position: FailuresPosition): FailureListing => ({ items, next: encodeFailuresCursor(ctx.cursors, filter, position) });

  let visibilityPages = 0;
  for (;;) {
    // Each visibility page but the last costs at least one job opened; this bounds empty ones too.
    if (visibilityPages++ > budget.jobsPerCall) return stopAt(at);
    const { runs, next } = await listRuns(ctx, query, { ...(at.token ? { token: at.token } : {}), pageSize: budget.visibilityPageSize });
    // Resume at the cursor's run: found by id (visibility pages are keyset pages and do not shift),
    // else at its index with the run's position forgotten.
    let index = at.index;
    let resume = { page: at.page, offset: at.offset };
    if (at.runId !== null) {
      const found = runs.findIndex((r) => r.runId === at.runId);
      if (found >= 0) index = found;
      else resume = { page: 0, offset: 0 };
    }
    for (; index < runs.length; index++) {
      const run = runs[index]!;
      const position = { token: at.token, runId: run.runId, index };
      if (jobsOpened === budget.jobsPerCall) return stopAt({ ...position, ...resume });
      jobsOpened++;
      const job = await openFailedJob(ctx, run);
      for (let p = resume.page; job && p < job.failedPages.length; p++) {
        if (pagesRead === budget.pagesPerCall) return stopAt({ ...position, page: p, offset: resume.offset });
        pagesRead++;
        const page = job.failedPages[p]!;
        const states = await failedStates(ctx, job, page);
        for (let o = resume.offset; o < states.length; o++) {
          const state = states[o]!;
          if (!failureMatches(state, filter)) continue;
          items.push({
            jobId: job.jobId,
            handler: job.handler,
            id: state.id,
            url: state.url,
            key: state.key,
            attempts: state.attempts,
            error: state.error!,
            when: job.closedAt,
            page,
          });
          // Full: the next call starts after this item (and may find nothing more: an empty last page).
          if (items.length === opts.limit) return stopAt({ ...position, page: p, offset: o + 1 });
        }
        resume = { page: 0, offset: 0 };
      }
      resume = { page: 0, offset: 0 };
    }
    if (next === null) return { items, next: null };
    at = { ...START, token: next };
  }
}
