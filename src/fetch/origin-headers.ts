/**
 * Request headers a manifest or handler gives for a resource belong to that resource's origin
 * (scheme, host and port). This module is the one rule, used by the fetcher (redirects), the
 * link expander (links on other origins) and the tasks a handler's `expand` returns: on another
 * origin only these headers remain, because they say what is asked for, not who asks. Lower case;
 * header names compare case-insensitively.
 * - `User-Agent`, `Accept`, `Accept-Language`: the client and the representation it wants.
 * - `Accept-Encoding`: kept because FetchBox stores bodies as sent (never inflates): without it an
 *   origin may pick any coding (RFC 9110 §12.5.3), so dropping `identity` mid-redirect would change
 *   the bytes stored.
 * - `Range`, `If-Range`: only FetchBox sets them (to resume a body; manifests and handlers cannot,
 *   header-rules.ts), with the validator of the URL that served the prefix, usually the last hop.
 * - `Referer`: a URL that may carry a token in its path or query; to another origin it is cut to
 *   its origin, and dropped from https to http (a browser's `strict-origin-when-cross-origin`).
 * Everything else (`Authorization`, `Cookie`, `X-Api-Key`, `Private-Token`, any custom header) is
 * dropped.
 */
export const CROSS_ORIGIN_HEADERS = ['user-agent', 'accept', 'accept-language', 'accept-encoding', 'range', 'if-range', 'referer'] as const;

const crossOriginNames = new Set<string>(CROSS_ORIGIN_HEADERS);

/** Whether a header name (any case) is one of the {@link CROSS_ORIGIN_HEADERS}. */
export function isCrossOriginHeader(name: string): boolean {
  return crossOriginNames.has(name.toLowerCase());
}

/**
 * The origin (scheme, host, port; default ports normalised by WHATWG URL) of a URL, or undefined
 * when it does not parse or has an opaque origin.
 */
export function originOf(url: string | URL): string | undefined {
  try {
    const origin = (typeof url === 'string' ? new URL(url) : url).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/** True when both URLs parse and share scheme, host and port (`http://h` equals `http://h:80`). */
export function isSameOrigin(a: string | URL, b: string | URL): boolean {
  const left = originOf(a);
  return left !== undefined && left === originOf(b);
}

/**
 * The `Referer` to send to `target` for a referring URL: whole on its own origin, cut to
 * `<origin>/` on another, none from https to http or when it does not parse. Why: a referring URL
 * may carry a session or a signed token; its origin is what hotlink checks look at.
 */
export function refererFor(referrer: string, target: string | URL): string | undefined {
  const from = originOf(referrer);
  const to = originOf(target);
  if (from === undefined || to === undefined) return undefined;
  if (from === to) return referrer;
  if (from.startsWith('https:') && to.startsWith('http:')) return undefined;
  return `${from}/`;
}

/** One header as it may go to `target` on another origin than it was given for; undefined: not at all. */
function crossOriginValue(name: string, value: string, target: string | URL): string | undefined {
  if (!isCrossOriginHeader(name)) return undefined;
  return name.toLowerCase() === 'referer' ? refererFor(value, target) : value;
}

/**
 * The headers given for a request to `from` as they may go to `to`: all of them on the same
 * origin, else only the {@link CROSS_ORIGIN_HEADERS} (`Referer` cut to its origin). The same
 * object when nothing changes. An unparseable `from` or `to` counts as another origin.
 */
export function headersForOrigin<H extends Record<string, string>>(headers: H, from: string | URL, to: string | URL): H;
export function headersForOrigin<H extends Record<string, string>>(
  headers: H | undefined,
  from: string | URL,
  to: string | URL,
): H | undefined;
export function headersForOrigin<H extends Record<string, string>>(
  headers: H | undefined,
  from: string | URL,
  to: string | URL,
): H | undefined {
  if (headers === undefined || isSameOrigin(from, to)) return headers;
  let changed = false;
  const kept: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    const sent = crossOriginValue(name, value, to);
    if (sent !== value) changed = true;
    if (sent !== undefined) kept.push([name, sent]);
  }
  return changed ? (Object.fromEntries(kept) as H) : headers;
}

/** Something with a URL and optional request headers: a manifest resource or a download task. */
interface WithHeaders {
  url: string;
  headers?: Record<string, string>;
}

/**
 * The rule for tasks a handler's `expand` produced (and their retries), whatever the handler did:
 * a task keeps a header when a manifest resource of the same page, on the task's own origin,
 * carries that header with the same value (the manifest gave it for that origin), or when it is
 * one of the {@link CROSS_ORIGIN_HEADERS} (`Referer` cut to its origin when it names another).
 * Anything else is dropped: a listing's `X-Api-Key` copied to a CDN link, one origin's token moved
 * to another origin of the page, a header the handler made up. Headers a handler adds itself
 * belong in its `headers(task, ctx)` hook, which the fetcher sends to the task's origin only.
 */
export function restrictTaskHeaders<T extends WithHeaders>(tasks: readonly T[], resources: readonly WithHeaders[]): T[] {
  /** `origin\nname\nvalue` of every header a resource gave for its origin. */
  const granted = new Set<string>();
  for (const r of resources) {
    const origin = originOf(r.url);
    if (origin === undefined) continue;
    for (const [name, value] of Object.entries(r.headers ?? {})) granted.add(`${origin}\n${name.toLowerCase()}\n${value}`);
  }
  return tasks.map((task) => {
    if (!task.headers) return task;
    const origin = originOf(task.url);
    let changed = false;
    const kept: [string, string][] = [];
    for (const [name, value] of Object.entries(task.headers)) {
      const sent =
        origin !== undefined && granted.has(`${origin}\n${name.toLowerCase()}\n${value}`) ? value : crossOriginValue(name, value, task.url);
      if (sent !== value) changed = true;
      if (sent !== undefined) kept.push([name, sent]);
    }
    if (!changed) return task;
    const { headers: _, ...rest } = task;
    return (kept.length > 0 ? { ...rest, headers: Object.fromEntries(kept) } : rest) as T;
  });
}
