import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

/** A loopback HTTP proxy that tunnels CONNECT requests; counts them and can require credentials. */
export interface TestProxy {
  url: string;
  /** Tunnels opened, by target `host:port`. */
  connects: string[];
  /** CONNECT requests refused for missing or wrong credentials. */
  refused: number;
  close(): Promise<void>;
}

/** Starts the proxy; with `auth` (`user:pass`) it answers 407 to requests without it. */
export async function startProxy(auth?: string): Promise<TestProxy> {
  const connects: string[] = [];
  const sockets = new Set<Socket>();
  const state = { refused: 0 };
  const server: Server = createServer((_req, res) => {
    res.writeHead(405).end();
  });
  server.on('connect', (req, client: Socket) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    const expected = auth ? `Basic ${Buffer.from(auth).toString('base64')}` : undefined;
    if (expected && req.headers['proxy-authorization'] !== expected) {
      state.refused++;
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    connects.push(req.url ?? '');
    const upstream = connect(Number(port), host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connects,
    get refused() {
      return state.refused;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
