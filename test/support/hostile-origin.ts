import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { listenLoopback } from './ports.js';

/** A loopback origin that misbehaves on purpose, with what it saw and sent. */
export interface HostileOrigin {
  url: string;
  /** Requests seen per path (without query). */
  hits: Map<string, number>;
  /** Request headers of the last request per path. */
  lastHeaders: Map<string, IncomingMessage['headers']>;
  /** Body bytes handed to the socket per path (what the origin managed to send). */
  sent: Map<string, number>;
  /** The gzip bomb's compressed body, as sent. */
  gzipBomb: Buffer;
  /** Size of the gzip bomb once inflated. */
  gzipBombInflated: number;
  close(): Promise<void>;
}

const INFLATED = 64 * 1024 * 1024;

/** Writes `next()` blocks while the socket accepts them, counting bytes, until it returns undefined or the client leaves. */
function pump(res: ServerResponse, path: string, sent: Map<string, number>, next: () => Buffer | undefined): void {
  let closed = false;
  res.on('close', () => (closed = true));
  const go = () => {
    while (!closed) {
      const block = next();
      if (block === undefined) return void res.end();
      sent.set(path, (sent.get(path) ?? 0) + block.length);
      if (!res.write(block)) return void res.once('drain', go);
    }
  };
  go();
}

function html(res: ServerResponse, body: string): void {
  const bytes = Buffer.from(body);
  res.writeHead(200, { 'content-type': 'text/html', 'content-length': String(bytes.length) });
  res.end(bytes);
}

/**
 * Starts a hostile origin on its own loopback port (two of them are two origins). Paths:
 * - `/endless/<name>`: a chunked (no Content-Length) HTML-ish body that never ends
 * - `/chunked/<bytes>/<name>`: a chunked listing of `<a href>` lines, `bytes` long
 * - `/trickle/<name>`: one byte every 200 ms, forever (chunked)
 * - `/gzip-bomb/<name>`: `Content-Encoding: gzip`, a small body that inflates to 64 MiB
 * - `/quadratic/<bytes>/<name>`: HTML of `<a ` repeated (quadratic for a backtracking link regex)
 * - `/redos/<count>/<length>/<name>`: a listing of `count` links whose last segment is `a` x length + `b`
 * - `/links/<name>?to=<url>&to=<url>`: a listing linking to the given URLs; `/links/<name>/<file>`: 16 bytes
 * - `/echo/<name>`: the request headers as JSON (credential echo)
 * - `/goto/<name>?to=<url>`: a 302 to `url`
 * - `/chain/<n>/<name>`: n redirects, then 16 bytes
 * - `/huge-headers/<name>`: more than 64 KiB of response headers
 */
export async function startHostileOrigin(): Promise<HostileOrigin> {
  const hits = new Map<string, number>();
  const lastHeaders = new Map<string, IncomingMessage['headers']>();
  const sent = new Map<string, number>();
  const gzipBomb = gzipSync(Buffer.alloc(INFLATED), { level: 9 });
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin');
    const path = url.pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    lastHeaders.set(path, req.headers);
    const parts = path.split('/').filter(Boolean);
    switch (parts[0]) {
      case 'endless': {
        res.writeHead(200, { 'content-type': 'text/html' });
        const block = Buffer.from('<p>more</p>\n'.repeat(5_000));
        return pump(res, path, sent, () => block);
      }
      case 'chunked': {
        let left = Number(parts[1]);
        res.writeHead(200, { 'content-type': 'text/html' });
        const block = Buffer.from('<a href="f/x.bin">x</a>\n'.repeat(2_500));
        return pump(res, path, sent, () => {
          if (left <= 0) return undefined;
          const out = left >= block.length ? block : block.subarray(0, left);
          left -= out.length;
          return out;
        });
      }
      case 'trickle': {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.flushHeaders();
        const timer = setInterval(() => {
          sent.set(path, (sent.get(path) ?? 0) + 1);
          res.write('a');
        }, 200);
        res.on('close', () => clearInterval(timer));
        return;
      }
      case 'gzip-bomb':
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-encoding': 'gzip',
          'content-length': String(gzipBomb.length),
        });
        sent.set(path, (sent.get(path) ?? 0) + gzipBomb.length);
        return void res.end(gzipBomb);
      case 'quadratic':
        return html(res, '<a '.repeat(Math.ceil(Number(parts[1]) / 3)));
      case 'redos': {
        const [, count, length, name] = parts;
        const tail = `${'a'.repeat(Number(length))}b`;
        const links = Array.from({ length: Number(count) }, (_, i) => `<a href="/redos-files/${name}/${i}/${tail}">${i}</a>`);
        return html(res, `<html><body>\n${links.join('\n')}\n</body></html>`);
      }
      case 'links': {
        if (parts.length >= 3) {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '16' });
          return void res.end(Buffer.alloc(16, 7));
        }
        const links = url.searchParams.getAll('to').map((to, i) => `<a href="${to.replace(/"/g, '&quot;')}">${i}</a>`);
        return html(res, `<html><body>\n${links.join('\n')}\n</body></html>`);
      }
      case 'echo': {
        const body = Buffer.from(JSON.stringify(req.headers));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
        return void res.end(body);
      }
      case 'goto':
        res.writeHead(302, { location: url.searchParams.get('to') ?? '/', 'content-length': '0' });
        return void res.end();
      case 'chain': {
        const n = Number(parts[1]);
        if (n > 0) {
          res.writeHead(302, { location: `/chain/${n - 1}/${parts[2]}`, 'content-length': '0' });
          return void res.end();
        }
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '16' });
        return void res.end(Buffer.alloc(16, 1));
      }
      case 'huge-headers': {
        // Written raw on the socket: 80 headers of 1 KB each, far over undici's 16 KiB header limit.
        const filler = Array.from({ length: 80 }, (_, i) => `x-filler-${i}: ${'h'.repeat(1_000)}\r\n`).join('');
        req.socket.write(
          `HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n${filler}content-length: 16\r\nconnection: close\r\n\r\n`,
        );
        req.socket.end(Buffer.alloc(16, 2));
        return;
      }
      default:
        res.writeHead(404, { 'content-length': '0' });
        res.end();
    }
  });
  const { url, close } = await listenLoopback(server);
  return {
    url,
    hits,
    lastHeaders,
    sent,
    gzipBomb,
    gzipBombInflated: INFLATED,
    close,
  };
}
