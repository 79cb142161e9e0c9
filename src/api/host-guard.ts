import type { MiddlewareHandler } from 'hono';
import { ApiError, ErrorCode } from './api-error.js';
import type { AppEnv } from './app-env.js';
import { appWide } from './route-security.js';

/** Where the API listens: the configured host and the port it bound (known only once it listens, with port 0). */
export interface BoundAddress {
  host: string;
  port: () => number;
}

/** The loopback names a local client may use for the API, whatever host it was configured with. */
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'] as const;

/** A host as it appears in a `Host` header: lower case, an IPv6 literal in brackets. */
function hostForm(host: string): string {
  const lower = host.toLowerCase();
  return lower.includes(':') && !lower.startsWith('[') ? `[${lower}]` : lower;
}

/**
 * The `Host` values that name the bound address: each loopback name and the configured host, with
 * the bound port (and also without it on port 80, where clients leave it out).
 */
export function allowedHosts(bound: BoundAddress): Set<string> {
  const port = bound.port();
  const names = new Set<string>([...LOOPBACK_NAMES, hostForm(bound.host)]);
  const hosts = new Set<string>();
  for (const name of names) {
    hosts.add(`${name}:${port}`);
    if (port === 80) hosts.add(name);
  }
  return hosts;
}

/**
 * App-wide middleware of a token-less API: answers `421 misdirected_request` to any request whose
 * `Host` does not name the address the API is bound to (a missing `Host` included). A web page on
 * another origin can make a browser send requests to the loopback API by rebinding its own DNS name
 * to 127.0.0.1, but the browser still sends that name as `Host`: this refuses it before any route
 * runs (`fetchbox dev` allows loopback downloads, so the API is worth attacking). With tokens the
 * token is the defence, and the API may sit behind proxies with any name.
 */
export function hostGuard(bound: BoundAddress): MiddlewareHandler<AppEnv> {
  return appWide(async (c, next) => {
    const host = c.req.header('host')?.toLowerCase();
    if (host === undefined || !allowedHosts(bound).has(host)) {
      throw new ApiError(
        421,
        ErrorCode.misdirectedRequest,
        'the Host header does not name this API (a token-less FetchBox answers only to its loopback address and port)',
      );
    }
    await next();
  });
}
