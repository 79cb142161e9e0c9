// The benchmark's HTTP origin, in its own process so that neither FetchBox nor the baseline shares
// an event loop with it. `/bytes/<size>/<name>` answers `size` bytes with a Content-Length,
// streamed in 64 KiB blocks (never buffered whole). Prints `listening <port>` when ready.
import { Buffer } from 'node:buffer';
import http from 'node:http';

const block = Buffer.alloc(64 * 1024);
for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 0xff;

const server = http.createServer((req, res) => {
  const m = /^\/bytes\/(\d+)\//.exec(req.url ?? '');
  if (!m) {
    res.writeHead(404).end();
    return;
  }
  let left = Number(m[1]);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left) });
  const pump = () => {
    while (left > 0) {
      const chunk = left >= block.length ? block : block.subarray(0, left);
      left -= chunk.length;
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
