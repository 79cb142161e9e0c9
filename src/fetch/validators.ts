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

/**
 * Request headers that make a request conditional or partial. When a task sets any of them itself,
 * FetchBox adds none of its own (the task's request is sent as given).
 */
export const CONDITIONAL_REQUEST_HEADERS = [
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
] as const;

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

/** Whether request headers already make the request conditional or partial (any case). */
export function hasConditionalHeaders(headers: Record<string, string> | undefined): boolean {
  if (headers === undefined) return false;
  const names = new Set<string>(CONDITIONAL_REQUEST_HEADERS);
  return Object.keys(headers).some((name) => names.has(name.toLowerCase()));
}

/** A conditional request: headers sent only to the URL that issued the validators. */
export interface ConditionalRequest {
  url: string;
  headers: Record<string, string>;
}

/**
 * The conditional request for re-fetching `url` when the object at its key holds validators from
 * the same source URL and a verified sha256; undefined otherwise. The stored values are cleaned
 * again (metadata may have been edited), so nothing unsafe reaches a request header.
 */
export function conditionalFor(metadata: Record<string, string>, url: string): ConditionalRequest | undefined {
  if (metadata['source-url'] !== url || !/^[0-9a-f]{64}$/.test(metadata.sha256 ?? '')) return undefined;
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
