import type { CursorSigner } from '../cursor-signer.js';

/** What a `GET /jobs` cursor is bound to: visibility's page token is valid only for the query it came from. */
export interface JobsCursorFilter {
  status?: string | undefined;
  handler?: string | undefined;
}

function scopeOf(filter: JobsCursorFilter): string {
  return `jobs:${JSON.stringify([filter.status ?? null, filter.handler ?? null])}`;
}

/**
 * A `GET /jobs` cursor: visibility's page token (base64url) signed for the listing's filters
 * (cursor-signer.ts), so a cursor this API never returned, or one of other filters, is a `400`
 * before Temporal sees it (Temporal answers an unreadable token with a retried UNKNOWN error: a
 * `500` or, at the deadline, a `503`).
 */
export function encodeJobsCursor(signer: CursorSigner, filter: JobsCursorFilter, token: Uint8Array): string {
  return signer.sign(scopeOf(filter), Buffer.from(token).toString('base64url'));
}

/** The page token in a cursor {@link encodeJobsCursor} made for these filters; `400 invalid_request` for anything else. */
export function decodeJobsCursor(signer: CursorSigner, filter: JobsCursorFilter, cursor: string): Buffer {
  return Buffer.from(signer.open(scopeOf(filter), cursor), 'base64url');
}
