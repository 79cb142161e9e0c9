import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { listenApi, type ServerLimits } from '../../src/api/api-server.js';
import { loadConfig } from '../../src/config/load-config.js';

// The API's HTTP server limits (issue 22 item 4), against a real server on loopback with short
// limits. Node's defaults (60 s headers timeout, no connection cap) fail each test at its deadline.

const app = new Hono()
  .get('/', (c) => c.text('ok'))
  .post('/', async (c) => c.text(String((await c.req.text()).length)))
  .onError((_err, c) => c.text('aborted', 400)); // a body cut by the request timeout
const servers: { close(cb?: () => void): void; closeAllConnections?: () => void }[] = [];

async function start(limits: Partial<ServerLimits>) {
  const server = await listenApi(
    app.fetch,
    { hostname: '127.0.0.1', port: 0 },
    { headersTimeoutMs: 300, requestTimeoutMs: 1_000, keepAliveTimeoutMs: 300, maxConnections: 100, ...limits },
  );
  servers.push(server as never);
  return (server.address() as AddressInfo).port;
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections?.();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

/** A raw connection and everything it received; `closed` resolves when the server closes it. */
function rawConnection(port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (d) => (received += d.toString('latin1')));
  socket.on('error', () => {});
  const opened = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const closed = new Promise<number>((resolve) => {
    const started = performance.now();
    socket.once('close', () => resolve(performance.now() - started));
  });
  return { socket, opened, closed, received: () => received };
}

/** `promise`, or a failure naming `what` after `ms`: a condition with a deadline, not a sleep. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))),
  ]);
}

describe('API server limits', () => {
  it('closes a connection that does not finish its headers within headersTimeoutMs (slowloris) with 408', async () => {
    const port = await start({ headersTimeoutMs: 300 });
    const c = rawConnection(port);
    await c.opened;
    c.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '); // and nothing more
    const ms = await within(c.closed, 5_000, 'closed after the headers timeout');
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(ms).toBeGreaterThanOrEqual(250);
  });

  it('closes a request whose body does not arrive within requestTimeoutMs with 408', async () => {
    const port = await start({ headersTimeoutMs: 300, requestTimeoutMs: 800 });
    const c = rawConnection(port);
    await c.opened;
    c.socket.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n0123456789');
    const ms = await within(c.closed, 5_000, 'closed after the request timeout');
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(ms).toBeGreaterThanOrEqual(700);
  });

  it('closes an idle keep-alive connection after keepAliveTimeoutMs', async () => {
    const port = await start({ keepAliveTimeoutMs: 200 });
    const c = rawConnection(port);
    await c.opened;
    c.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await within(c.closed, 5_000, 'idle connection closed');
    expect(c.received()).toMatch(/^HTTP\/1\.1 200[\s\S]*ok$/);
  });

  it('holds at most maxConnections connections; one more is closed unanswered', async () => {
    const port = await start({ maxConnections: 2, headersTimeoutMs: 5_000, requestTimeoutMs: 10_000 });
    const held = [rawConnection(port), rawConnection(port)];
    await Promise.all(held.map((c) => c.opened));
    // Each held connection is known to the server once it answered a request on it.
    for (const c of held) c.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await within(
      (async () => {
        while (!held.every((c) => c.received().includes('ok'))) await new Promise((r) => setImmediate(r));
      })(),
      5_000,
      'held connections answered',
    );
    const extra = rawConnection(port);
    extra.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await within(extra.closed, 5_000, 'the connection over the cap closed');
    expect(extra.received()).toBe('');
    for (const c of held) expect(c.socket.destroyed).toBe(false);
    for (const c of held) c.socket.destroy();
  });

  it('has defaults suited to 64 MiB manifests on slow links: headers in seconds, the request in minutes', () => {
    const { api } = loadConfig({});
    expect(api.headersTimeoutMs).toBe(10_000);
    expect(api.requestTimeoutMs).toBe(300_000);
    // A 64 MiB manifest within the request timeout needs about this many bytes per second.
    expect(api.bodyLimitBytes / (api.requestTimeoutMs / 1000)).toBeLessThan(250_000);
    expect(api.maxConnections).toBeGreaterThan(api.maxStreamsPerClient);
  });
});
