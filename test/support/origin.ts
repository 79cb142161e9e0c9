import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenLoopback } from './ports.js';
import { serveValidated, type ValidatedResource } from './validating-origin.js';

/** Deterministic bytes for a (seed, size) pair, generated block by block without buffering. */
export function* contentBlocks(seed: string, size: number, blockSize = 64 * 1024): Generator<Buffer> {
  let produced = 0;
  for (let block = 0; produced < size; block++) {
    const digest = createHash('sha256').update(`${seed}:${block}`).digest();
    const n = Math.min(blockSize, size - produced);
    const chunk = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += digest.length) digest.copy(chunk, i, 0, Math.min(digest.length, n - i));
    produced += n;
    yield chunk;
  }
}

/** The whole deterministic body (for small sizes in assertions). */
export function content(seed: string, size: number): Buffer {
  return Buffer.concat([...contentBlocks(seed, size)]);
}

/** sha256 of the deterministic body. */
export function contentSha256(seed: string, size: number): string {
  const hash = createHash('sha256');
  for (const block of contentBlocks(seed, size)) hash.update(block);
  return hash.digest('hex');
}

/** A loopback HTTP origin with misbehaviours chosen by path; counts requests per path. */
export interface Origin {
  url: string;
  /** Requests seen per path (without query). */
  hits: Map<string, number>;
  /** Request headers of the last request per path. */
  lastHeaders: Map<string, IncomingMessage['headers']>;
  /** Names whose `/switch/...` paths answer 404 until removed. */
  broken: Set<string>;
  /** Gates whose `/hold/...` requests wait (unanswered) until removed. */
  held: Set<string>;
  /** Most `/slow/...` requests in progress at once, by `<Host header> <name without its -N suffix>`. */
  maxInFlight: Map<string, number>;
  /** How each `/cond/...` and `/ranged/...` name answers (version, ignored conditions, hostile ETag, rate). */
  validated: Map<string, ValidatedResource>;
  /** Body bytes sent per path by the `/cond/...` and `/ranged/...` endpoints. */
  bytesSent: Map<string, number>;
  close(): Promise<void>;
}

function send(res: ServerResponse, seed: string, size: number, extraHeaders: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size), ...extraHeaders });
  const blocks = contentBlocks(seed, size);
  const pump = () => {
    for (;;) {
      const next = blocks.next();
      if (next.done) return void res.end();
      if (!res.write(next.value)) return void res.once('drain', pump);
    }
  };
  pump();
}

/**
 * Starts the origin. Paths:
 * - `/bytes/<size>/<seed>`: deterministic body of that size
 * - `/status/<code>/<name>`: that status, empty body
 * - `/flaky/<failures>/<status>/<size>/<name>?retryAfter=<v>`: fails `failures` times with
 *   `status` (and Retry-After when given), then serves the body
 * - `/truncate/<failures>/<size>/<name>`: the first `failures` responses announce `size` bytes
 *   and close the socket after half, then serves the whole body
 * - `/redirect/<n>/<name>`: redirects n times, then serves 16 bytes; `/loop/<name>` redirects forever
 * - `/headers/<name>`: serves the request headers as JSON
 * - `/switch/<size>/<name>`: 404 while `name` is in `origin.broken`, else the body
 * - `/slow/<ms>/<size>/<name>`: waits `ms` before answering with the body
 * - `/hold/<size>/<gate>/<name>`: waits while `gate` is in `origin.held`, then answers with the body
 * - `/goto/<name>?to=<url>`: redirects to `url`
 * - `/chunked/<size>/<name>`: the body without Content-Length (chunked encoding)
 * - `/reset/<failures>/<size>/<name>`: the first `failures` requests get their socket destroyed
 *   before any response; then the body
 * - `/trickle/<size>/<name>`: the body in 64-byte writes 5 ms apart
 * - `/overlong/<size>/<name>`: announces `size` bytes but sends `size + 100` (HTTP framing wins)
 * - `/listing/<name>?files=a,b,c`: an HTML index linking to `/listing/<name>/<file>` (16-byte bodies),
 *   plus links elsewhere that a folder filter must skip
 * - `/cond/<size>/<name>`: ETag + Last-Modified, 304 to a matching condition (validating-origin.ts)
 * - `/ranged/<size>/<name>`: Accept-Ranges, 206 to `Range: bytes=N-` with a matching `If-Range`
 */
/** Requests an origin received for paths starting with `prefix` (one job's URLs, say). */
export function hitsUnder(origin: Pick<Origin, 'hits'>, prefix: string): number {
  let n = 0;
  for (const [p, hits] of origin.hits) if (p.startsWith(prefix)) n += hits;
  return n;
}

export async function startOrigin(): Promise<Origin> {
  const hits = new Map<string, number>();
  const lastHeaders = new Map<string, IncomingMessage['headers']>();
  const broken = new Set<string>();
  const held = new Set<string>();
  const inFlight = new Map<string, number>();
  const maxInFlight = new Map<string, number>();
  const validated = new Map<string, ValidatedResource>();
  const bytesSent = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin');
    const count = (hits.get(url.pathname) ?? 0) + 1;
    hits.set(url.pathname, count);
    lastHeaders.set(url.pathname, req.headers);
    const parts = url.pathname.split('/').filter(Boolean);
    const [kind] = parts;
    switch (kind) {
      case 'bytes':
        return send(res, parts[2] ?? 'seed', Number(parts[1]));
      case 'status':
        res.writeHead(Number(parts[1]), { 'content-length': '0' });
        return void res.end();
      case 'flaky': {
        const [, failures, status, size, name] = parts;
        if (count <= Number(failures)) {
          const retryAfter = url.searchParams.get('retryAfter');
          res.writeHead(Number(status), { 'content-length': '0', ...(retryAfter !== null ? { 'retry-after': retryAfter } : {}) });
          return void res.end();
        }
        return send(res, name ?? 'flaky', Number(size));
      }
      case 'truncate': {
        const [, failures, size, name] = parts;
        if (count <= Number(failures)) {
          const total = Number(size);
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
          res.write(content(name ?? 'truncate', total).subarray(0, Math.floor(total / 2)));
          setTimeout(() => res.socket?.destroy(), 20);
          return;
        }
        return send(res, name ?? 'truncate', Number(size));
      }
      case 'redirect': {
        const n = Number(parts[1]);
        if (n > 0) {
          res.writeHead(302, { location: `/redirect/${n - 1}/${parts[2]}`, 'content-length': '0' });
          return void res.end();
        }
        return send(res, parts[2] ?? 'redirect', 16);
      }
      case 'loop':
        res.writeHead(302, { location: url.pathname, 'content-length': '0' });
        return void res.end();
      case 'switch': {
        if (broken.has(parts[2] ?? '')) {
          res.writeHead(404, { 'content-length': '0' });
          return void res.end();
        }
        return send(res, parts[2] ?? 'switch', Number(parts[1]));
      }
      case 'slow': {
        const host = `${req.headers.host ?? ''} ${(parts[3] ?? '').replace(/-\d+$/, '')}`;
        inFlight.set(host, (inFlight.get(host) ?? 0) + 1);
        maxInFlight.set(host, Math.max(maxInFlight.get(host) ?? 0, inFlight.get(host)!));
        res.on('close', () => inFlight.set(host, inFlight.get(host)! - 1));
        const timer = setTimeout(() => send(res, parts[3] ?? 'slow', Number(parts[2])), Number(parts[1]));
        res.on('close', () => clearTimeout(timer));
        return;
      }
      case 'hold': {
        const [, size, gate, name] = parts;
        const answer = () => (held.has(gate ?? '') ? void (timer = setTimeout(answer, 20)) : send(res, name ?? 'hold', Number(size)));
        let timer: NodeJS.Timeout | undefined;
        res.on('close', () => clearTimeout(timer));
        return answer();
      }
      case 'reset': {
        const [, failures, size, name] = parts;
        if (count <= Number(failures)) return void req.socket.destroy();
        return send(res, name ?? 'reset', Number(size));
      }
      case 'trickle': {
        const body = content(parts[2] ?? 'trickle', Number(parts[1]));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
        let offset = 0;
        const timer = setInterval(() => {
          res.write(body.subarray(offset, offset + 64));
          offset += 64;
          if (offset >= body.length) {
            clearInterval(timer);
            res.end();
          }
        }, 5);
        res.on('close', () => clearInterval(timer));
        return;
      }
      case 'overlong': {
        const size = Number(parts[1]);
        const body = content(parts[2] ?? 'overlong', size + 100);
        req.socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\nconnection: close\r\n\r\n`);
        req.socket.end(body);
        return;
      }
      case 'goto':
        res.writeHead(302, { location: url.searchParams.get('to') ?? '/', 'content-length': '0' });
        return void res.end();
      case 'chunked': {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        for (const block of contentBlocks(parts[2] ?? 'chunked', Number(parts[1]))) res.write(block);
        return void res.end();
      }
      case 'listing': {
        if (parts.length >= 3) return send(res, `${parts[1]}/${parts[2]}`, 16);
        const files = (url.searchParams.get('files') ?? '').split(',').filter(Boolean);
        const links = files.map((f) => `<a href="${parts[1]}/${f}">${f}</a>`).join('\n');
        const html = Buffer.from(
          `<html><body><a href="/">up</a><a href="#top">top</a>\n${links}\n<a href='mailto:x@y'>m</a><a href="/bytes/1/outside">x</a></body></html>`,
        );
        res.writeHead(200, { 'content-type': 'text/html', 'content-length': String(html.length) });
        return void res.end(html);
      }
      case 'cond':
      case 'ranged':
        return serveValidated(req, res, url.pathname, parts, { validated, bytesSent });
      case 'headers': {
        const body = Buffer.from(JSON.stringify(req.headers));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
        return void res.end(body);
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
    broken,
    held,
    maxInFlight,
    validated,
    bytesSent,
    close,
  };
}
