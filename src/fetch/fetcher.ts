import { Agent, ProxyAgent, request, type Dispatcher } from 'undici';
import type { Config } from '../config/config-schema.js';
import { createAddressGuard } from './address-guard.js';
import { classifyNetworkError, ErrorKind, FetchFailure } from './errors.js';
import { allowedAddresses, guardedConnector } from './guarded-connector.js';
import { withoutRefusedHeaders } from './header-rules.js';
import { headersForOrigin } from './origin-headers.js';
import { answerOf, discard, headerValue, type OpenResponse } from './response.js';

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

  /** A target sent through a proxy: checked here, since the proxy resolves it, not the connector. */
  async function checkTarget(host: string, url: string): Promise<void> {
    await allowedAddresses(guard, host).catch((err: unknown) => {
      throw classifyNetworkError(err, url);
    });
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
      return answerOf(res, current, redirects, maxBytes);
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
