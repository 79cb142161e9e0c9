import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { createFetcher, type Fetcher } from '../../src/fetch/fetcher.js';
import { waitFor } from '../support/wait-for.js';

// A hostile (or merely fast) origin sends its whole body and closes the connection while the
// consumer is still paused by backpressure (a slow disk or S3 part upload). undici before 8.x threw
// an uncatchable AssertionError (`assert(!this.paused)` in Parser.finish, nodejs/undici#5360) from
// the socket's 'end' handler, which took the whole worker process down with every download in it.
// The body must instead complete (or fail) as a normal stream.
// Headers, body and FIN in one write, with a body just over the stream's 64 KiB high-water mark: the
// parser pauses on the last bytes and the FIN follows at once (on undici 7.30.2 this crashed).
const BODY_BYTES = 96 * 1024;

let server: Server;
/** Set once the origin has handed its whole answer and FIN to the kernel. */
let originFinished = false;
let port: number;
let fetcher: Fetcher;

beforeAll(async () => {
  server = createServer((socket) => {
    socket.once('data', () => {
      const head = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY_BYTES}\r\nConnection: close\r\n\r\n`);
      socket.once('finish', () => (originFinished = true));
      socket.end(Buffer.concat([head, Buffer.alloc(BODY_BYTES, 0x61)])); // everything, then FIN
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
  fetcher = createFetcher(loadConfig({ FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.0/8' }).fetch);
});

afterAll(async () => {
  await fetcher?.close();
  await new Promise((resolve) => server?.close(resolve));
});

describe('fetcher: origin closes while the body is paused', () => {
  it('delivers the whole body after the consumer resumes, without crashing the process', async () => {
    const res = await fetcher.open({ url: `http://127.0.0.1:${port}/paused` });
    expect(res.status).toBe(200);
    // Do not read: undici's parser pauses under backpressure (the body's buffer is full), and the
    // origin's FIN arrives meanwhile.
    await waitFor('the paused body and the FIN', () => originFinished && res.body.readableLength >= 64 * 1024, { timeoutMs: 5_000 });
    let received = 0;
    for await (const chunk of res.body) received += (chunk as Buffer).length;
    expect(received).toBe(BODY_BYTES);
  });
});
