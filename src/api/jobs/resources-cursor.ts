import { invalidCursor, type CursorSigner } from '../cursor-signer.js';

/** Where a `GET /jobs/{jobId}/resources` listing stopped: a page of the job and an offset in it. */
export interface ResourcesPosition {
  page: number;
  offset: number;
}

const scopeOf = (jobId: string) => `resources:${jobId}`;

/** The cursor for a position of one job's listing, signed for that job (cursor-signer.ts). */
export function encodeResourcesCursor(signer: CursorSigner, jobId: string, at: ResourcesPosition): string {
  return signer.sign(scopeOf(jobId), `${at.page}-${at.offset}`);
}

/**
 * The position in a cursor {@link encodeResourcesCursor} made for this job; `400 invalid_request`
 * for anything else (forged, tampered, another job's), before Temporal is asked about the job.
 */
export function decodeResourcesCursor(signer: CursorSigner, jobId: string, cursor: string): ResourcesPosition {
  const m = /^(\d{1,9})-(\d{1,9})$/.exec(signer.open(scopeOf(jobId), cursor));
  if (!m) throw invalidCursor();
  return { page: Number(m[1]), offset: Number(m[2]) };
}
