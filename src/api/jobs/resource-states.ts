import { z } from 'zod';
import { defaultStorageKey } from '../../handlers/handler.js';
import { readPageStates } from '../../ledger/page-states.js';
import { ObjectNotFoundError } from '../../storage/errors.js';
import { pageKey } from '../../model/ids.js';
import { ResourceStatus } from '../../model/constants.js';
import { type JobMemo, type ManifestResource, type ResourceState } from '../../model/job-types.js';
import { ApiError, ErrorCode } from '../api-error.js';
import type { JobContext } from './job-context.js';
import { describeJob } from './job-status.js';
import type { ResourceListing } from './job-views.js';
import { CursorListing, type CursorSigner } from '../cursor.js';

/** Where a `GET /jobs/{jobId}/resources` listing stopped: a page of the job and an offset in it. */
export interface ResourcesPosition {
  page: number;
  offset: number;
}

const Position = z.strictObject({ page: z.number().int().min(0).max(1e9), offset: z.number().int().min(0).max(1e9) });

/** The cursor for a position of one job's listing, in the API's one cursor format bound to that job (cursor.ts). */
export function encodeResourcesCursor(signer: CursorSigner, jobId: string, at: ResourcesPosition): string {
  return signer.seal(CursorListing.resources, jobId, { page: at.page, offset: at.offset });
}

/**
 * The position in a cursor {@link encodeResourcesCursor} made for this job; `400 invalid_request`
 * for anything else (forged, tampered, another job's), before Temporal is asked about the job.
 */
export function decodeResourcesCursor(signer: CursorSigner, jobId: string, cursor: string): ResourcesPosition {
  return signer.open(CursorListing.resources, jobId, cursor, Position);
}

/** Pages one `GET /jobs/{jobId}/resources` call reads at most; the cursor continues from there. */
const MAX_PAGES_PER_LISTING = 10;

/**
 * Every resource of one page in its latest state, read through the ledger reader (later rounds
 * override, attempts add up). Before the first round ran, the staged resources as pending.
 */
async function pageStates(
  { deps, temporal }: JobContext,
  jobId: string,
  prefix: string,
  page: number,
  rounds: number,
): Promise<ResourceState[]> {
  const beforeFirstRound = async (): Promise<ResourceState[]> => {
    // An inline manifest is staged by the workflow's first activity: until a worker ran it,
    // the page has no resources to list yet.
    const resources = await deps.storage.getJson<ManifestResource[]>(pageKey(prefix, page)).catch((err: unknown) => {
      if (err instanceof ObjectNotFoundError) return [];
      throw err;
    });
    // Not started yet: the manifest's resources as given (a handler's expand may change them).
    return resources.map((r) => ({
      id: r.id,
      url: r.url,
      key: defaultStorageKey(r, { jobId }),
      status: ResourceStatus.pending,
      attempts: 0,
    }));
  };
  return readPageStates(deps.client, { jobId, page, lastRound: rounds }, { call: (fn) => temporal(fn), beforeFirstRound });
}

/**
 * A page of per-resource states in manifest order, optionally filtered by status. The cursor
 * names a page and an offset, signed for the job (encodeResourcesCursor above); a call reads at most
 * MAX_PAGES_PER_LISTING pages, so a sparse filter may return fewer than `limit` items with a
 * cursor to continue.
 */
export async function listResources(
  ctx: JobContext,
  jobId: string,
  opts: { status?: ResourceStatus; cursor?: string; limit: number },
): Promise<ResourceListing> {
  // A cursor this API did not issue for this job is a 400 before Temporal is asked anything.
  const start = opts.cursor ? decodeResourcesCursor(ctx.cursors, jobId, opts.cursor) : { page: 0, offset: 0 };
  const next = (at: ResourcesPosition) => encodeResourcesCursor(ctx.cursors, jobId, at);
  const desc = await describeJob(ctx, jobId);
  const memo = (desc.memo ?? {}) as Partial<JobMemo>;
  if (memo.manifestPrefix === undefined || memo.pageCount === undefined) {
    throw new ApiError(404, ErrorCode.jobNotFound, `job ${jobId} has no FetchBox manifest`);
  }
  let { page, offset } = start;
  const items: ResourceState[] = [];
  for (let read = 0; page < memo.pageCount && read < MAX_PAGES_PER_LISTING; read++) {
    const states = await pageStates(ctx, jobId, memo.manifestPrefix, page, memo.rounds ?? 0);
    for (; offset < states.length; offset++) {
      const state = states[offset]!;
      if (opts.status !== undefined && state.status !== opts.status) continue;
      if (items.length === opts.limit) return { items, next: next({ page, offset }) };
      items.push(state);
    }
    page++;
    offset = 0;
  }
  return { items, next: page < memo.pageCount ? next({ page, offset }) : null };
}
