import { createHash } from 'node:crypto';

/**
 * HTTP validators (ETag, Last-Modified): read from an origin's response, kept in an object's
 * metadata, and sent back as `If-None-Match` / `If-Modified-Since` (conditional recrawls) or as
 * `If-Range` (resumed downloads). Origins are untrusted: only values that follow the RFC 9110
 * grammar, in printable ASCII and short, are kept, so they are safe as S3 user metadata and as
 * request header values; anything else is dropped (no conditional request, never a failure).
 */

/** Object metadata names of the validators and of the URL that issued them. */
export const VALIDATOR_METADATA = {
  etag: 'origin-etag',
  lastModified: 'origin-last-modified',
  /** The URL (after redirects) whose response carried the validators; absent when it is `source-url`. */
  url: 'validator-url',
  /**
   * {@link requestDigest} of the request headers the object was fetched with. Validators and
   * skip-if-present serve only a later request with the same digest: other headers (another
   * `Accept-Language`, other credentials) may select another representation.
   */
  requestDigest: 'request-digest',
} as const;

/** An ETag longer than this is not kept (S3 user metadata is 2 KB in all; real ETags are short). */
export const MAX_ETAG_CHARS = 256;

/** A validator URL longer than this is not kept, and then neither are the validators. */
export const MAX_VALIDATOR_URL_CHARS = 1024;

/**
 * S3 allows 2 KB of user metadata per object (names and values). Validators are added only when the
 * object's other metadata, its `sha256` entry and they stay within this, so keeping them can never
 * make an object unstorable.
 */
export const METADATA_BUDGET_BYTES = 2048 - 128;

/** The validators of one response, each already cleaned. */
export interface Validators {
  etag?: string;
  lastModified?: string;
}

// entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E (obs-text refused: ASCII only).
const ETAG = /^(W\/)?"[\x21\x23-\x7e]*"$/;

/** The ETag when it is well formed and at most {@link MAX_ETAG_CHARS}; undefined otherwise. */
export function cleanEtag(value: string | undefined): string | undefined {
  if (value === undefined || value.length > MAX_ETAG_CHARS || !ETAG.test(value)) return undefined;
  return value;
}

/** Whether an ETag is strong (usable for `If-Range`: byte-for-byte identity). */
export function isStrongEtag(etag: string): boolean {
  return !etag.startsWith('W/');
}

/** Last-Modified as an IMF-fixdate when it parses as an HTTP date; undefined otherwise. */
export function cleanLastModified(value: string | undefined): string | undefined {
  if (value === undefined || value.length > 64 || !/^[\x20-\x7e]+$/.test(value) || !/[a-z]/i.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return new Date(at).toUTCString();
}

/** The cleaned validators of a response's headers (either may be absent). */
export function validatorsOf(headers: { etag?: string | undefined; lastModified?: string | undefined }): Validators {
  const etag = cleanEtag(headers.etag);
  const lastModified = cleanLastModified(headers.lastModified);
  return { ...(etag !== undefined ? { etag } : {}), ...(lastModified !== undefined ? { lastModified } : {}) };
}

/**
 * A digest of the request headers a resource sends (its manifest headers and its handler's, names
 * compared case-insensitively, order ignored): what selects the representation on the origin's
 * side. Hex SHA-256, so no header value (a cookie, a token) shows in object metadata.
 */
export function requestDigest(headers: Record<string, string> | undefined): string {
  const pairs = Object.entries(headers ?? {})
    .map(([name, value]) => [name.toLowerCase(), value] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  return createHash('sha256').update(JSON.stringify(pairs)).digest('hex');
}

/**
 * Whether a stored object's metadata says it is the whole representation a request for `url` with
 * headers of digest `digest` would fetch: the same source URL, the same request digest and a
 * sha256 storage verified. Skip-if-present and conditional recrawls serve only such objects; one
 * stored before request digests were recorded does not qualify (it is downloaded once more).
 */
export function servesRequest(metadata: Record<string, string>, url: string, digest: string): boolean {
  return (
    metadata['source-url'] === url && metadata[VALIDATOR_METADATA.requestDigest] === digest && /^[0-9a-f]{64}$/.test(metadata.sha256 ?? '')
  );
}

/** UTF-8 bytes of metadata names and values (what S3 counts against its 2 KB). */
function metadataBytes(metadata: Record<string, string>): number {
  return Object.entries(metadata).reduce((n, [name, value]) => n + Buffer.byteLength(name) + Buffer.byteLength(value), 0);
}

/**
 * Metadata to store with an object fetched from `sourceUrl` whose body came from `finalUrl`: the
 * cleaned validators, and the final URL when a redirect led there. Empty when there is nothing
 * usable, the final URL is too long to keep, or `base` (the object's other metadata) leaves too
 * little room ({@link METADATA_BUDGET_BYTES}).
 */
export function validatorMetadata(
  validators: Validators,
  sourceUrl: string,
  finalUrl: string,
  base: Record<string, string> = {},
): Record<string, string> {
  if (validators.etag === undefined && validators.lastModified === undefined) return {};
  if (finalUrl !== sourceUrl && (finalUrl.length > MAX_VALIDATOR_URL_CHARS || !/^[\x21-\x7e]+$/.test(finalUrl))) return {};
  const added = {
    ...(validators.etag !== undefined ? { [VALIDATOR_METADATA.etag]: validators.etag } : {}),
    ...(validators.lastModified !== undefined ? { [VALIDATOR_METADATA.lastModified]: validators.lastModified } : {}),
    ...(finalUrl !== sourceUrl ? { [VALIDATOR_METADATA.url]: finalUrl } : {}),
  };
  return metadataBytes(base) + metadataBytes(added) <= METADATA_BUDGET_BYTES ? added : {};
}

/** A copy of handler-supplied metadata without the validator names: only FetchBox sets those. */
export function withoutValidatorMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  const names = new Set<string>(Object.values(VALIDATOR_METADATA));
  return Object.fromEntries(Object.entries(metadata ?? {}).filter(([name]) => !names.has(name.toLowerCase())));
}

/** A conditional request: headers sent only to the URL that issued the validators. */
export interface ConditionalRequest {
  url: string;
  headers: Record<string, string>;
}

/**
 * The conditional request for re-fetching `url` with request headers of digest `digest` when the
 * object at its key {@link servesRequest} and holds validators; undefined otherwise. The stored
 * values are cleaned again (metadata may have been edited), so nothing unsafe reaches a request header.
 */
export function conditionalFor(metadata: Record<string, string>, url: string, digest: string): ConditionalRequest | undefined {
  if (!servesRequest(metadata, url, digest)) return undefined;
  const etag = cleanEtag(metadata[VALIDATOR_METADATA.etag]);
  const lastModified = cleanLastModified(metadata[VALIDATOR_METADATA.lastModified]);
  if (etag === undefined && lastModified === undefined) return undefined;
  const issuer = metadata[VALIDATOR_METADATA.url] ?? url;
  return {
    url: issuer,
    headers: {
      ...(etag !== undefined ? { 'if-none-match': etag } : {}),
      ...(lastModified !== undefined ? { 'if-modified-since': lastModified } : {}),
    },
  };
}
