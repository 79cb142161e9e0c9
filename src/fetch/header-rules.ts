/**
 * Request header names a manifest may not set (lower case; `*` ends a prefix). They route the
 * request (`Host` reaches another virtual host behind an allowed address), frame the message
 * (`Content-Length`, `Transfer-Encoding`, `TE`, `Trailer`, `Expect`) or belong to one hop
 * (`Connection`, `Keep-Alive`, `Upgrade`, `Proxy-*`): only the HTTP client may set them. The API
 * refuses them with 400 and the fetcher can drop them with {@link isRefusedRequestHeader}, so both
 * sides follow this one list.
 */
export const REFUSED_REQUEST_HEADERS = [
  'host',
  'connection',
  'keep-alive',
  'proxy-*',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'expect',
] as const;

/**
 * Request headers that make a request conditional or partial (lower case). FetchBox sets them
 * itself (`If-None-Match` / `If-Modified-Since` for conditional recrawls, `Range` + `If-Range` to
 * resume a body), only where it can tell that the answer is the whole representation or an exact
 * continuation of one. A manifest that sets one is refused at submit (400 naming the header) and a
 * handler that adds one fails its resource (`handler`): a 206 to a task's own `Range` or a 304 to
 * its own `If-None-Match` is not a representation FetchBox could verify, store and keep
 * validators for (docs/storage.md, "What an object's record means").
 */
export const CONDITIONAL_REQUEST_HEADERS = [
  'range',
  'if-range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
] as const;

const conditional = new Set<string>(CONDITIONAL_REQUEST_HEADERS);

/** Whether a header name (any case) is one of the {@link CONDITIONAL_REQUEST_HEADERS}. */
export function isConditionalRequestHeader(name: string): boolean {
  return conditional.has(name.toLowerCase());
}

/** The first of `headers`' names that is a {@link CONDITIONAL_REQUEST_HEADERS} entry, as written; undefined when none is. */
export function conditionalHeaderIn(headers: Record<string, string> | undefined): string | undefined {
  return headers === undefined ? undefined : Object.keys(headers).find(isConditionalRequestHeader);
}

/** Per-resource header budget: at most this many headers and bytes of names plus values. */
export const HEADER_LIMITS = { maxCount: 32, maxBytes: 8 * 1024 } as const;

const exact = new Set<string>(REFUSED_REQUEST_HEADERS.filter((name) => !name.endsWith('*')));
const prefixes = REFUSED_REQUEST_HEADERS.filter((name) => name.endsWith('*')).map((name) => name.slice(0, -1));

/** Whether a header name (any case) is one of the {@link REFUSED_REQUEST_HEADERS}. */
export function isRefusedRequestHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return exact.has(lower) || prefixes.some((prefix) => lower.startsWith(prefix));
}

/**
 * A copy of `headers` without the {@link REFUSED_REQUEST_HEADERS}: the fetcher's side of the
 * rule, for headers that did not come through the API (handler hooks, expanded tasks).
 */
export function withoutRefusedHeaders(headers: Record<string, string> | undefined): Record<string, string> | undefined {
  if (headers === undefined || !Object.keys(headers).some(isRefusedRequestHeader)) return headers;
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !isRefusedRequestHeader(name)));
}
