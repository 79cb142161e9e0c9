import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';

/** Ports this process handed out: never the same one twice (two `freePort()` before either binds). */
const handedOut = new Set<number>();

/**
 * Where `freePort` picks from: 10000-19999 when the kernel's ephemeral range starts above it, so no
 * socket the OS numbers itself (an outgoing connection, another process's `listen(0)`) can take the
 * port between the check here and the bind of whoever gets it. (The cluster suite's Temporal server
 * picks its own in 20000-32767.) Undefined when the ephemeral range starts lower: the OS picks.
 */
function portsBelowEphemeral(): { from: number; to: number } | undefined {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && low > 12_000) return { from: 10_000, to: Math.min(low - 1, 19_999) };
  } catch {
    // Not Linux: the OS picks.
  }
  return undefined;
}
const range = portsBelowEphemeral();

/** Binds `port` (0: any) on 127.0.0.1, then closes it; the port bound, or undefined when taken. */
function probe(port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(undefined) : reject(err),
    );
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a server that must be told its port
 * before it starts (a child process, a restart on the same port). A server this process starts
 * itself listens on port 0 instead (`listenLoopback`). On Linux the port comes from below the
 * ephemeral range, chosen at random, so the OS never hands it to anyone else meanwhile.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; range && i < 200; i++) {
    const candidate = range.from + Math.floor(Math.random() * (range.to - range.from + 1));
    if (handedOut.has(candidate)) continue;
    if ((await probe(candidate)) !== undefined) {
      handedOut.add(candidate);
      return candidate;
    }
  }
  for (;;) {
    const port = await probe(0);
    if (port !== undefined && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** An HTTP test server listening on a free loopback port: its base URL and a close that drops live sockets. */
export async function listenLoopback(server: HttpServer): Promise<{ url: string; close: () => Promise<void> }> {
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
