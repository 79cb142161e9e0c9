import { createHash } from 'node:crypto';
import { ErrorCode, issuesError } from '../api-error.js';

/** Hex digits of the token's sha256 a `GET /jobs` cursor carries after its last `_`. */
const CHECK_LENGTH = 8;

function check(token: Uint8Array): string {
  return createHash('sha256').update(token).digest('hex').slice(0, CHECK_LENGTH);
}

/**
 * A `GET /jobs` cursor: visibility's page token (base64url), `_`, and a short digest of the token, so a
 * cursor this API never returned is a `400` before Temporal sees it (Temporal answers an unreadable
 * token with a retried UNKNOWN error: a `500` or, at the deadline, a `503`).
 */
export function encodeJobsCursor(token: Uint8Array): string {
  return `${Buffer.from(token).toString('base64url')}_${check(token)}`;
}

/** The page token in a cursor {@link encodeJobsCursor} made; `400 invalid_request` for anything else. */
export function decodeJobsCursor(cursor: string): Buffer {
  const at = cursor.length - CHECK_LENGTH - 1;
  const token = at > 0 && cursor[at] === '_' ? Buffer.from(cursor.slice(0, at), 'base64url') : undefined;
  if (!token || token.length === 0 || check(token) !== cursor.slice(at + 1)) {
    throw issuesError(ErrorCode.invalidRequest, 'invalid query parameters', [
      { path: 'cursor', message: 'not a cursor returned by this API' },
    ]);
  }
  return token;
}
