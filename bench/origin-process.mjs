// The benchmark's HTTP origin, in its own process so that neither FetchBox nor the baseline shares
// an event loop with it. `/bytes/<size>/<name>` answers `size` bytes with a Content-Length and a
// strong ETag derived from size and name only (the same URL always has the same ETag), streamed in
// 64 KiB blocks (never buffered whole); a request whose If-None-Match names that ETag (or `*`) gets
// `304 Not Modified` without a body. `GET /stats` answers the counters since start as JSON:
// `{ bodyBytes, ok, notModified }` (body bytes written, 200s and 304s on `/bytes`), so the
// recrawl scenario can tell what a job cost the origin. Prints `listening <port>` when ready.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import http from 'node:http';

const block = Buffer.alloc(64 * 1024);
for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 0xff;

const stats = { bodyBytes: 0, ok: 0, notModified: 0 };

/** The strong ETag of `/bytes/<size>/<name>`: deterministic, so a recrawl of the same URL matches. */
const etagOf = (size, name) => `"${createHash('sha1').update(`${size}/${name}`).digest('base64url')}"`;

/** If-None-Match (a list of entity tags, or `*`) against `etag`, by weak comparison as RFC 9110 asks. */
function matches(ifNoneMatch, etag) {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

const server = http.createServer((req, res) => {
  if (req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
    return;
  }
  const m = /^\/bytes\/(\d+)\/([^?#]*)/.exec(req.url ?? '');
  if (!m) {
    res.writeHead(404).end();
    return;
  }
  let left = Number(m[1]);
  const etag = etagOf(left, m[2]);
  if (matches(req.headers['if-none-match'], etag)) {
    stats.notModified++;
    res.writeHead(304, { etag }).end();
    return;
  }
  stats.ok++;
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left), etag });
  const pump = () => {
    while (left > 0) {
      const chunk = left >= block.length ? block : block.subarray(0, left);
      left -= chunk.length;
      stats.bodyBytes += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
