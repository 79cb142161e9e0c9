import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ApiError, ErrorCode } from './api-error.js';

/** Longest cursor looked at; the routes' query schema (schemas.ts) refuses longer ones too. */
export const MAX_CURSOR_LENGTH = 4096;

/** The characters of every cursor the API hands out: a base64url body, then its MAC (base64url). */
export const CURSOR_PATTERN = /^[A-Za-z0-9_-]+$/;

/** The listings that hand out cursors; a cursor names its own and every other one refuses it. */
export const CursorListing = { jobs: 'jobs', resources: 'resources', failures: 'failures' } as const;
export type CursorListing = (typeof CursorListing)[keyof typeof CursorListing];

/** Version of the cursor format; a cursor of another version (or of no version) is refused. */
const FORMAT_VERSION = 2;

/** Characters of a base64url HMAC-SHA256, the last of every cursor. */
const MAC_LENGTH = 43;

/** What the MAC covers before the body, so no other HMAC this key might make can pass for a cursor. */
const MAC_DOMAIN = 'fetchbox-cursor\n';

/** A cursor's body before base64url: the format version, the listing, its binding's digest and the position. */
const Envelope = z.strictObject({
  v: z.literal(FORMAT_VERSION),
  l: z.enum(CursorListing),
  b: z.string().regex(/^[0-9a-f]{12}$/),
  p: z.unknown(),
});

/** Why a cursor is refused when the MAC holds but it belongs to another listing of the same route. */
const OTHER_LISTING = 'the cursor belongs to a listing with other filters (or of another job); start again without a cursor';

/** The `400 invalid_request` every cursor the API did not issue gets (forged, tampered, of another listing), before Temporal sees it. */
export function invalidCursor(message = 'not a cursor returned by this API'): ApiError {
  return new ApiError(400, ErrorCode.invalidRequest, message, [{ path: 'cursor', message }]);
}

/** A short digest of what a listing's positions depend on (filters, a job id): a cursor is valid only with the same. */
function bindingDigest(binding: unknown): string {
  return createHash('sha256').update(JSON.stringify(binding)).digest('hex').slice(0, 12);
}

/**
 * The API's one cursor format, for every paginated listing (`GET /jobs`, `GET /jobs/{jobId}/resources`,
 * `GET /failures`): `<body><mac>`, where body is base64url JSON `{v, l, b, p}` (format version,
 * listing, a digest of the filters or job the position depends on, the listing's position) and mac
 * is HMAC-SHA256 (base64url, 43 characters) over the body under the server's key. A cursor is
 * opaque to clients and trusted only after its MAC matches, compared in constant time: a forged or
 * tampered one is refused before its body is parsed, and one of another listing or other filters
 * after.
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

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(`${MAC_DOMAIN}${body}`).digest('base64url');
  }

  /** The cursor for `position` of `listing` under `binding` (the filters or job id the position depends on). */
  seal(listing: CursorListing, binding: unknown, position: unknown): string {
    const envelope: z.infer<typeof Envelope> = { v: FORMAT_VERSION, l: listing, b: bindingDigest(binding), p: position };
    const body = Buffer.from(JSON.stringify(envelope)).toString('base64url');
    return `${body}${this.mac(body)}`;
  }

  /**
   * The position of a cursor {@link seal} made for `listing` and `binding`, checked by `schema`;
   * `400 invalid_request` naming `cursor` for anything else.
   */
  open<T>(listing: CursorListing, binding: unknown, cursor: string, schema: z.ZodType<T>): T {
    if (cursor.length > MAX_CURSOR_LENGTH || cursor.length <= MAC_LENGTH || !CURSOR_PATTERN.test(cursor)) throw invalidCursor();
    const body = cursor.slice(0, -MAC_LENGTH);
    const given = Buffer.from(cursor.slice(-MAC_LENGTH), 'latin1');
    const expected = Buffer.from(this.mac(body), 'latin1');
    // Both are 43 characters; the content is compared in constant time.
    if (!timingSafeEqual(given, expected)) throw invalidCursor();
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      throw invalidCursor();
    }
    const envelope = Envelope.safeParse(json);
    if (!envelope.success || envelope.data.l !== listing) throw invalidCursor();
    if (envelope.data.b !== bindingDigest(binding)) throw invalidCursor(OTHER_LISTING);
    const position = schema.safeParse(envelope.data.p);
    if (!position.success) throw invalidCursor();
    return position.data;
  }
}
