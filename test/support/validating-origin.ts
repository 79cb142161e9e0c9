import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Block size of the deterministic bodies (origin.ts contentBlocks uses the same 64 KiB). */
const BLOCK = 64 * 1024;

/**
 * The bytes `[start, end)` of the deterministic body of `seed` (the same bytes as origin.ts
 * `contentBlocks(seed, size)`), generated block by block from any offset.
 */
export function* rangeBlocks(seed: string, start: number, end: number): Generator<Buffer> {
  for (let at = start; at < end;) {
    const block = Math.floor(at / BLOCK);
    const digest = createHash('sha256').update(`${seed}:${block}`).digest();
    const blockEnd = Math.min((block + 1) * BLOCK, end);
    const chunk = Buffer.allocUnsafe(blockEnd - at);
    for (let i = 0; i < chunk.length; i++) chunk[i] = digest[(at + i) % 32]!;
    at = blockEnd;
    yield chunk;
  }
}

/** How a `/cond/...` or `/ranged/...` resource answers; changed by tests between runs. */
export interface ValidatedResource {
  /** Part of the ETag (`"<name>-v<version>"`) and of the body's seed: a new version is a new body. */
  version: number;
  /** Answer 200 with the whole body whatever the request's conditions or range. */
  ignoreConditions?: boolean;
  /** Send this ETag value instead, as latin1 bytes (hostile values; with a line break, over a raw socket). */
  rawEtag?: string;
  /** Last-Modified to send (default: a fixed date in 2015). */
  lastModified?: string;
  /** `/ranged`: bytes per second at most (0 or absent: as fast as the socket takes them). */
  rate?: number;
  /** `/ranged`: the next response breaks its connection once the body reaches this offset (once). */
  cutAt?: number;
  /** Applied to this resource when the cut happens (a new version, ignored ranges...). */
  afterCut?: Omit<ValidatedResource, 'cutAt' | 'afterCut'>;
  /** `/ranged`: answer a range with a `Content-Range` that starts one byte early (a broken origin). */
  badRange?: boolean;
  /**
   * `/ranged`: answer a range with 206 whatever `If-Range` says, from the current version (an
   * origin or CDN that ignores `If-Range` while the content changed: the 206 carries another ETag).
   */
  ignoreIfRange?: boolean;
  /** Answer `404` (the resource is gone: a permanent failure for the download). */
  gone?: boolean;
}

/** State shared with the origin: resources by name, and body bytes sent per path. */
export interface ValidatingState {
  validated: Map<string, ValidatedResource>;
  bytesSent: Map<string, number>;
}

const DEFAULT_LAST_MODIFIED = 'Wed, 21 Oct 2015 07:28:00 GMT';

function pump(
  res: ServerResponse,
  blocks: Generator<Buffer>,
  count: (n: number) => void,
  rate = 0,
  cut?: { at: number; onCut: () => void },
): void {
  const startedAt = Date.now();
  let sent = 0;
  let closed = false;
  res.on('close', () => void (closed = true));
  const next = () => {
    for (;;) {
      if (closed) return;
      if (rate > 0) {
        const due = startedAt + (sent / rate) * 1000;
        if (Date.now() < due) return void setTimeout(next, Math.min(50, due - Date.now()));
      }
      const block = blocks.next();
      if (block.done) return void res.end();
      if (cut && sent + block.value.length >= cut.at) {
        const part = block.value.subarray(0, cut.at - sent);
        count(part.length);
        res.write(part);
        cut.onCut();
        return void setTimeout(() => res.socket?.destroy(), 50);
      }
      sent += block.value.length;
      count(block.value.length);
      if (!res.write(block.value)) return void res.once('drain', next);
    }
  };
  next();
}

function notModified(req: IncomingMessage, etag: string, lastModified: string): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) return inm.split(',').some((v) => v.trim() === etag || v.trim() === '*');
  const ims = req.headers['if-modified-since'];
  return ims !== undefined && Date.parse(ims) >= Date.parse(lastModified);
}

/**
 * `/cond/<size>/<name>`: a body with an ETag and Last-Modified that answers `If-None-Match` /
 * `If-Modified-Since` with 304 (unless `ignoreConditions`). `/ranged/<size>/<name>`: a body with
 * `Accept-Ranges: bytes` and a strong ETag that answers `Range: bytes=N-` with 206 when `If-Range`
 * matches (or is absent), and the whole body otherwise. Both count body bytes in `bytesSent`.
 */
export function serveValidated(req: IncomingMessage, res: ServerResponse, pathname: string, parts: string[], state: ValidatingState): void {
  const [kind, sizeText, name = 'v'] = parts;
  const size = Number(sizeText);
  const resource = state.validated.get(name) ?? { version: 1 };
  const etag = `"${name}-v${resource.version}"`;
  const lastModified = resource.lastModified ?? DEFAULT_LAST_MODIFIED;
  const seed = `${name}-v${resource.version}`;
  const count = (n: number) => state.bytesSent.set(pathname, (state.bytesSent.get(pathname) ?? 0) + n);
  if (resource.gone) {
    res.writeHead(404, { 'content-length': '0' });
    return void res.end();
  }
  if (kind === 'cond' && !resource.ignoreConditions && resource.rawEtag === undefined && notModified(req, etag, lastModified)) {
    res.writeHead(304, { etag, 'last-modified': lastModified });
    return void res.end();
  }
  // A line break cannot go through node's http (it refuses such header values): written by hand.
  // Only such a response: a FIN while the client's body is paused trips an undici assertion (nodejs/undici#5360).
  if (resource.rawEtag !== undefined && /[\r\n]/.test(resource.rawEtag)) {
    req.socket.end(
      Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: 3\r\netag: ${resource.rawEtag}\r\nconnection: close\r\n\r\nabc`, 'latin1'),
    );
    return;
  }
  const headers = {
    'content-type': 'application/octet-stream',
    etag: resource.rawEtag ?? etag,
    'last-modified': lastModified,
    ...(kind === 'ranged' ? { 'accept-ranges': 'bytes' } : {}),
  };
  let cut: { at: number; onCut: () => void } | undefined;
  if (resource.cutAt !== undefined) {
    const { cutAt, afterCut, ...rest } = resource;
    cut = { at: cutAt, onCut: () => state.validated.set(name, { ...rest, ...afterCut }) };
    state.validated.set(name, rest); // one cut only
  }
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const ifRange = req.headers['if-range'];
  if (kind === 'ranged' && range && !resource.ignoreConditions && (ifRange === undefined || ifRange === etag || resource.ignoreIfRange)) {
    const start = Number(range[1]);
    if (start >= size) {
      res.writeHead(416, { 'content-range': `bytes */${size}`, 'content-length': '0' });
      return void res.end();
    }
    const from = resource.badRange ? start - 1 : start;
    res.writeHead(206, { ...headers, 'content-length': String(size - from), 'content-range': `bytes ${from}-${size - 1}/${size}` });
    return pump(res, rangeBlocks(seed, from, size), count, resource.rate);
  }
  res.writeHead(200, { ...headers, 'content-length': String(size) });
  pump(res, rangeBlocks(seed, 0, size), count, resource.rate, cut);
}
