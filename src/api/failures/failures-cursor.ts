import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ApiError, ErrorCode } from '../api-error.js';
import type { CursorSigner } from '../cursor-signer.js';
import type { FailureFilter } from './failure-views.js';

/**
 * Where a `GET /failures` listing stopped: the visibility page it was reading (`token`: the page
 * token that page was fetched with, null for the first), the run it was in (`runId`, at `index` of
 * that page), the position in the run's failed pages (`page`) and in that page's states (`offset`),
 * and a fingerprint of the filter the cursor belongs to.
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

const Encoded = z.strictObject({
  v: z.literal(1),
  f: z.string().regex(/^[0-9a-f]{12}$/),
  t: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,3000}$/)
    .nullable(),
  r: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9-]+$/)
    .nullable(),
  j: z.number().int().min(0).max(10_000),
  p: z.number().int().min(0).max(10_000_000),
  o: z.number().int().min(0).max(10_000_000),
});

/** A short digest of the filter: a cursor is valid only with the filter that produced it. */
function fingerprint(filter: FailureFilter): string {
  const canonical = JSON.stringify([filter.since, filter.until, filter.handler, filter.kind, filter.host?.toLowerCase()]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}

/** The listing every failures cursor is signed for; the filter is bound by the fingerprint inside. */
const SCOPE = 'failures';

/** The opaque cursor for a position of a listing under `filter`: base64url JSON, signed (cursor-signer.ts). */
export function encodeFailuresCursor(signer: CursorSigner, filter: FailureFilter, at: FailuresPosition): string {
  const body: z.infer<typeof Encoded> = { v: 1, f: fingerprint(filter), t: at.token, r: at.runId, j: at.index, p: at.page, o: at.offset };
  return signer.sign(SCOPE, Buffer.from(JSON.stringify(body)).toString('base64url'));
}

function refused(message: string): ApiError {
  return new ApiError(400, ErrorCode.invalidRequest, message);
}

/**
 * The position a cursor names. `400 invalid_request` for anything this API did not hand out
 * (garbage, a tampered field: its MAC is checked before the body is parsed) and for a cursor of
 * another filter: start again without one.
 */
export function decodeFailuresCursor(signer: CursorSigner, filter: FailureFilter, cursor: string): FailuresPosition {
  const body = signer.verify(SCOPE, cursor);
  if (body === undefined) throw refused('not a cursor returned by this API');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw refused('not a cursor returned by this API');
  }
  const parsed = Encoded.safeParse(json);
  if (!parsed.success) throw refused('not a cursor returned by this API');
  const c = parsed.data;
  if (c.f !== fingerprint(filter)) throw refused('the cursor belongs to a listing with other filters; start again without a cursor');
  return { token: c.t, runId: c.r, index: c.j, page: c.p, offset: c.o };
}
