import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** A running metrics endpoint; `close()` stops it. */
export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves a worker's `/metrics`: FetchBox's own prom-client registry followed by the text of
 * Temporal's Prometheus exporter (SDK and workflow metrics) read from its loopback address, so
 * Prometheus scrapes one target per worker. `/healthz` answers 200 for liveness probes.
 */
export async function startMetricsServer(opts: {
  host: string;
  port: number;
  registry: Registry;
  temporalMetricsUrl?: string;
}): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    if (path !== '/metrics') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    void (async () => {
      let text = await opts.registry.metrics();
      if (opts.temporalMetricsUrl) {
        try {
          const core = await fetch(opts.temporalMetricsUrl, { signal: AbortSignal.timeout(2_000) });
          text += `\n${await core.text()}`;
        } catch (err) {
          text += `\n# temporal metrics unavailable: ${(err as Error).message.replace(/\n/g, ' ')}\n`;
        }
      }
      res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text);
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
