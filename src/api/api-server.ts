import { serve, type ServerType } from '@hono/node-server';
import { createServer } from 'node:http';

/**
 * What the API's HTTP server allows one connection, so slow or idle clients cannot hold it:
 * headers within `headersTimeoutMs` (slowloris), the whole request within `requestTimeoutMs` (a
 * 64 MiB manifest on a slow link), idle keep-alive connections for `keepAliveTimeoutMs`, and at
 * most `maxConnections` connections at once (event streams included).
 */
export interface ServerLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

/** How often Node looks for connections past their headers or request timeout (its default, 30 s, would add that much). */
function checkingIntervalMs(limits: ServerLimits): number {
  return Math.max(100, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 2)));
}

/**
 * Starts an HTTP server for `fetch` on `hostname:port` (0: a free port) with {@link ServerLimits}
 * (Node's defaults are a 60 s headers timeout, no connection cap), and resolves once it listens.
 * A connection over the cap is closed as it is accepted; a request past a timeout answers 408 and
 * its connection is closed.
 */
export function listenApi(
  fetch: Parameters<typeof serve>[0]['fetch'],
  address: { hostname: string; port: number },
  limits: ServerLimits,
): Promise<ServerType> {
  return new Promise<ServerType>((resolve, reject) => {
    const s = serve(
      {
        fetch,
        hostname: address.hostname,
        port: address.port,
        createServer: ((options: Parameters<typeof createServer>[0], listener: Parameters<typeof createServer>[1]) => {
          const created = createServer(options, listener);
          // Set before it listens: no connection is accepted past the cap, not even at start.
          created.maxConnections = limits.maxConnections;
          return created;
        }) as never,
        serverOptions: {
          headersTimeout: limits.headersTimeoutMs,
          requestTimeout: limits.requestTimeoutMs,
          keepAliveTimeout: limits.keepAliveTimeoutMs,
          connectionsCheckingInterval: checkingIntervalMs(limits),
        },
      },
      () => resolve(s),
    );
    s.once('error', reject);
  });
}
