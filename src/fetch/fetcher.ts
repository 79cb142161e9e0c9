import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Agent, ProxyAgent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import type { Config } from '../config/config-schema.js';
import { createAddressGuard } from './address-guard.js';
import { guardedConnector } from './guarded-connector.js';
import { headersForOrigin } from './origin-headers.js';
import { withoutRefusedHeaders } from './header-rules.js';
import { isRetryableHttpStatus } from '../workflows/failure-rules.js';
import { BlockedAddressError, ErrorKind, FetchFailure } from './errors.js';

/** An open response whose body has not been read yet; the caller must consume or destroy it. */
export interface OpenResponse {
  /** The URL the body came from, after redirects. */
  url: string;
  status: number;
  /** undici's body: a Readable; use `dump()` (not `destroy()`) to drop it. */
  body: Dispatcher.ResponseData['body'];
  /** From Content-Length, when the origin sent one. */
  contentLength?: number;
  contentType?: string;
  redirects: number;
  /** Raw `ETag` / `Last-Modified` of the response (untrusted: clean them with validators.ts). */
  etag?: string;
  lastModified?: string;
  /** Raw `Accept-Ranges` and `Content-Range` (a 206 answers a `Range` request). */
  acceptRanges?: string;
  contentRange?: string;
  /** Raw `Content-Encoding`: a resumed body must continue the same encoding of the same representation. */
  contentEncoding?: string;
}

/** What one download needs besides the URL. */
export interface OpenRequest {
  url: string;
  headers?: Record<string, string>;
  maxBytes?: number;
  signal?: AbortSignal;
  /** Proxy tier name; `direct` or absent means no proxy. */
  tier?: string;
  /**
   * Validators to present (`If-None-Match` / `If-Modified-Since`), only on the hop whose URL is
   * `url` (the URL that issued them). A `304` to that hop is returned with status 304 and an
   * already drained body; a `304` anywhere else stays an `http_status` failure.
   */
  conditional?: { url: string; headers: Record<string, string> };
}

/** Opens HTTP(S) downloads with the contract's rules; one per worker, shared by all activities. */
export interface Fetcher {
  open(req: OpenRequest): Promise<OpenResponse>;
  close(): Promise<void>;
}

/** A Retry-After longer than this is clamped: a resource should not sleep for days. */
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/** Parses Retry-After (delta-seconds or an HTTP date); garbage yields undefined. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at) || !/[a-z]/i.test(text)) return undefined;
    ms = at - now;
  }
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The validator, range and encoding headers of a response, those it sent. */
function rangeHeaders(
  answer: Dispatcher.ResponseData['headers'],
): Pick<OpenResponse, 'etag' | 'lastModified' | 'acceptRanges' | 'contentRange' | 'contentEncoding'> {
  const out: Pick<OpenResponse, 'etag' | 'lastModified' | 'acceptRanges' | 'contentRange' | 'contentEncoding'> = {};
  const etag = headerValue(answer.etag);
  const lastModified = headerValue(answer['last-modified']);
  const acceptRanges = headerValue(answer['accept-ranges']);
  const contentRange = headerValue(answer['content-range']);
  const contentEncoding = headerValue(answer['content-encoding']);
  if (etag !== undefined) out.etag = etag;
  if (lastModified !== undefined) out.lastModified = lastModified;
  if (acceptRanges !== undefined) out.acceptRanges = acceptRanges;
  if (contentRange !== undefined) out.contentRange = contentRange;
  if (contentEncoding !== undefined) out.contentEncoding = contentEncoding;
  return out;
}

/** Maps an error thrown by undici while connecting or waiting for headers to a FetchFailure. */
export function classifyNetworkError(err: unknown, url: string): FetchFailure {
  if (err instanceof FetchFailure) return err;
  if (err instanceof BlockedAddressError || (err as { code?: string })?.code === 'FETCHBOX_BLOCKED_ADDRESS') {
    return new FetchFailure(ErrorKind.blockedAddress, (err as Error).message, false, { url, cause: err });
  }
  if (
    err instanceof undiciErrors.ConnectTimeoutError ||
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError
  ) {
    return new FetchFailure(ErrorKind.timeout, `${(err as Error).message} (${url})`, true, { url, cause: err });
  }
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new FetchFailure('connection', `${message} (${url})`, true, { url, cause: err });
}

/** Drops a body we will not store; small ones are read so the connection can be reused. */
async function discard(body: Dispatcher.ResponseData['body']): Promise<void> {
  await body.dump({ limit: 64 * 1024 }).catch(() => undefined);
}

/**
 * Creates the fetcher: undici with a shared connection pool, the SSRF guard in its connector,
 * redirects followed by hand so every hop is re-checked, and responses classified as the
 * contract says (408/425/429/5xx retryable with Retry-After, other 4xx permanent).
 */
export function createFetcher(fetchConfig: Config['fetch'], options: { dispatcher?: Dispatcher } = {}): Fetcher {
  const guard = createAddressGuard(fetchConfig.allowCidrs);
  const dispatcher =
    options.dispatcher ??
    new Agent({
      connect: guardedConnector(guard, fetchConfig.connectTimeoutMs),
      headersTimeout: fetchConfig.headersTimeoutMs,
      bodyTimeout: fetchConfig.bodyIdleTimeoutMs,
      connections: 64,
    });
  // One agent per configured proxy. The proxy itself is trusted (the operator named it); the
  // target is checked here before the request, since the proxy resolves it, not us.
  const proxies = new Map<string, Dispatcher>(
    Object.entries(fetchConfig.proxies).map(([name, uri]) => [
      name,
      new ProxyAgent({ uri, headersTimeout: fetchConfig.headersTimeoutMs, bodyTimeout: fetchConfig.bodyIdleTimeoutMs, proxyTunnel: true }),
    ]),
  );

  async function checkTarget(host: string, url: string): Promise<void> {
    const bare = host.replace(/^\[|\]$/g, '');
    let addresses: string[];
    if (isIP(bare)) addresses = [bare];
    else {
      try {
        addresses = (await lookup(bare, { all: true, verbatim: true })).map((a) => a.address);
      } catch (err) {
        throw classifyNetworkError(err, url);
      }
    }
    for (const address of addresses) {
      const range = guard.refusal(address);
      if (range !== undefined) throw classifyNetworkError(new BlockedAddressError(bare, address, range), url);
    }
  }

  function dispatcherFor(tier: string | undefined, url: string): Dispatcher {
    if (tier === undefined || tier === 'direct') return dispatcher;
    const proxy = proxies.get(tier);
    if (!proxy) throw new FetchFailure(ErrorKind.invalidUrl, `proxy tier ${JSON.stringify(tier)} is not configured`, false, { url });
    return proxy;
  }

  async function open(req: OpenRequest): Promise<OpenResponse> {
    let current = req.url;
    const maxBytes = req.maxBytes ?? fetchConfig.maxBytes;
    // Headers belong to the origin they were given for: at the first redirect to another origin
    // only the non-secret ones remain (origin-headers.ts), and the rest are not restored if a later
    // hop comes back (as WHATWG fetch does with credentials).
    // Routing and hop-by-hop headers belong to the HTTP client: a handler hook cannot set them either.
    let headers = withoutRefusedHeaders(req.headers);
    // The configured User-Agent unless the resource gives its own (in any case: two would be sent).
    const hasUserAgent = Object.keys(headers ?? {}).some((name) => name.toLowerCase() === 'user-agent');
    for (let redirects = 0; ; redirects++) {
      let parsed: URL;
      try {
        parsed = new URL(current);
      } catch {
        throw new FetchFailure(ErrorKind.invalidUrl, `not a valid URL: ${current}`, false, { url: current });
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        throw new FetchFailure(ErrorKind.invalidUrl, `only http and https URLs are fetched: ${current}`, false, { url: current });
      }
      const via = dispatcherFor(req.tier, current);
      if (via !== dispatcher) await checkTarget(parsed.hostname, current);
      const conditional = req.conditional !== undefined && req.conditional.url === current ? req.conditional.headers : undefined;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(parsed, {
          method: 'GET',
          dispatcher: via,
          headers: { ...(hasUserAgent ? {} : { 'user-agent': fetchConfig.userAgent }), ...headers, ...conditional },
          signal: req.signal,
        });
      } catch (err) {
        throw classifyNetworkError(err, current);
      }
      const { statusCode: status, headers: answer } = res;
      if (status === 304 && conditional !== undefined) {
        await discard(res.body);
        return { url: current, status, body: res.body, redirects };
      }
      if (status >= 300 && status < 400 && answer.location !== undefined && status !== 304) {
        await discard(res.body);
        if (redirects >= fetchConfig.maxRedirects) {
          throw new FetchFailure(
            ErrorKind.httpStatus,
            `more than ${fetchConfig.maxRedirects} redirects, last to ${headerValue(answer.location)}`,
            false,
            { url: current, httpStatus: status },
          );
        }
        let next: URL;
        try {
          next = new URL(headerValue(answer.location)!, parsed);
        } catch {
          throw new FetchFailure(ErrorKind.invalidUrl, `redirect to an invalid URL from ${current}`, false, {
            url: current,
            httpStatus: status,
          });
        }
        headers = headersForOrigin(headers, parsed, next);
        current = next.toString();
        continue;
      }
      if (status < 200 || status >= 300) {
        await discard(res.body);
        const retryable = isRetryableHttpStatus(status);
        const retryAfterMs = retryable ? parseRetryAfter(answer['retry-after']) : undefined;
        throw new FetchFailure(ErrorKind.httpStatus, `HTTP ${status} from ${current}`, retryable, {
          url: current,
          httpStatus: status,
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        });
      }
      const lengthHeader = headerValue(answer['content-length']);
      const contentLength = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
      if (contentLength !== undefined && contentLength > maxBytes) {
        await discard(res.body);
        throw new FetchFailure(ErrorKind.tooLarge, `Content-Length ${contentLength} exceeds the limit of ${maxBytes} bytes`, false, {
          url: current,
          httpStatus: status,
        });
      }
      const contentType = headerValue(answer['content-type']);
      return {
        url: current,
        status,
        body: res.body,
        redirects,
        ...(contentLength !== undefined ? { contentLength } : {}),
        ...(contentType !== undefined ? { contentType } : {}),
        ...rangeHeaders(answer),
      };
    }
  }

  return {
    open,
    async close() {
      await Promise.all([...proxies.values()].map((p) => p.close()));
      if (!options.dispatcher) await dispatcher.close();
    },
  };
}
