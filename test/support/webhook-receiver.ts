import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One webhook request a receiver saw, and what it answered (undefined while held or when dropped). */
export interface ReceivedWebhook {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
  answered?: number;
}

/**
 * How a receiver answers the n-th request (0-based) to a path: a status, `hold` (never answer
 * while the test runs), or `drop` (close the connection without an answer).
 */
export type WebhookAnswerPlan = (n: number, path: string) => number | 'hold';

/** A loopback webhook receiver that records every request and every TCP connection it accepted. */
export interface WebhookReceiver {
  url: string;
  requests: ReceivedWebhook[];
  /** TCP connections accepted (a refused address must leave this at 0). */
  connections: number;
  /** Requests to `path`, in arrival order. */
  to(path: string): ReceivedWebhook[];
  close(): Promise<void>;
}

/** Starts a receiver on `host` (a loopback address), answering as `plan` says (200 by default). */
export async function startWebhookReceiver(plan: WebhookAnswerPlan = () => 200, host = '127.0.0.1'): Promise<WebhookReceiver> {
  const requests: ReceivedWebhook[] = [];
  const held: ServerResponse[] = [];
  const seen = new Map<string, number>();
  const receiver = { url: '', requests, connections: 0 } as WebhookReceiver;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const n = seen.get(path) ?? 0;
      seen.set(path, n + 1);
      const entry: ReceivedWebhook = { path, method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(entry);
      const answer = plan(n, path);
      if (answer === 'hold') return void held.push(res);
      entry.answered = answer;
      res.writeHead(answer, { 'content-length': '2' }).end('ok');
    });
  });
  server.on('connection', () => receiver.connections++);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  receiver.url = `http://${host}:${(server.address() as AddressInfo).port}`;
  receiver.to = (path: string) => requests.filter((r) => r.path === path);
  receiver.close = async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return receiver;
}
