import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCode, issuesError } from './api-error.js';

/** Longest cursor looked at; the routes' schemas refuse longer ones too. */
export const MAX_CURSOR_LENGTH = 4096;

/** The characters of every cursor the API hands out: a base64url-alphabet body, then its MAC (base64url). */
export const CURSOR_PATTERN = /^[A-Za-z0-9_-]+$/;

/** Characters of a base64url HMAC-SHA256, the last of every cursor. */
const MAC_LENGTH = 43;

/** The 400 every cursor the API did not issue gets (forged, tampered, of another listing), before Temporal sees it. */
export function invalidCursor(message = 'not a cursor returned by this API'): Error {
  return issuesError(ErrorCode.invalidRequest, 'invalid query parameters', [{ path: 'cursor', message }]);
}

/**
 * Signs and checks the API's pagination cursors: `<body><mac>`, where mac is HMAC-SHA256 (base64url, 43 characters)
 * under the server's key over the listing it belongs to (`scope`: the route and what the position
 * depends on, e.g. a job id or filters) and the body. A cursor is opaque to clients and only
 * trusted after its MAC matches, compared in constant time: a forged or tampered one, or one of
 * another listing, is refused before anything reads its body.
 */
export class CursorSigner {
  private constructor(private readonly key: Buffer) {}

  /** A signer keyed by `FETCHBOX_CURSOR_SECRET`: cursors survive restarts and work on every replica with the same secret. */
  static fromSecret(secret: string): CursorSigner {
    return new CursorSigner(Buffer.from(secret, 'utf8'));
  }

  /** A signer with a random key: its cursors are valid in this process only. */
  static random(): CursorSigner {
    return new CursorSigner(randomBytes(32));
  }

  private mac(scope: string, body: string): string {
    // The scope's length first, so no (scope, body) pair can be re-split into another.
    return createHmac('sha256', this.key).update(`${scope.length}:${scope}\n${body}`).digest('base64url');
  }

  /** The cursor for `body` (characters of {@link CURSOR_PATTERN}) in the listing `scope`. */
  sign(scope: string, body: string): string {
    if (!CURSOR_PATTERN.test(body)) throw new Error(`a cursor body must match ${CURSOR_PATTERN}`);
    return `${body}${this.mac(scope, body)}`;
  }

  /** The body of a cursor {@link sign} made for `scope`; undefined for anything else. */
  verify(scope: string, cursor: string): string | undefined {
    if (cursor.length > MAX_CURSOR_LENGTH || cursor.length <= MAC_LENGTH || !CURSOR_PATTERN.test(cursor)) return undefined;
    const body = cursor.slice(0, -MAC_LENGTH);
    const given = Buffer.from(cursor.slice(-MAC_LENGTH), 'latin1');
    const expected = Buffer.from(this.mac(scope, body), 'latin1');
    // Both are 43 characters; the content is compared in constant time.
    if (!timingSafeEqual(given, expected)) return undefined;
    return body;
  }

  /** {@link verify}, or the `400 invalid_request` naming `cursor`. */
  open(scope: string, cursor: string): string {
    const body = this.verify(scope, cursor);
    if (body === undefined) throw invalidCursor();
    return body;
  }
}
