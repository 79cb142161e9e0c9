import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';
import { WorkerProcesses, workerEnv } from '../support/worker-processes.js';

// A worker SIGKILLed while it runs a page's loadPage (the link-expander handler waiting on a
// listing the origin holds): the loadPage heartbeats while it runs, so with its 30 s heartbeat
// timeout (workflows/activity-options.ts) another worker takes the page over well before the 5-minute
// start-to-close that was the only bound before (a chaos run once stalled on exactly this).

const FILE = Buffer.from('sixteen bytes!!\n');

let server: Server;
let originUrl = '';
let listingRequests = 0;
const held: ServerResponse[] = [];
let dir = '';
let stack: Stack;
const workers = new WorkerProcesses();

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/gal/index.html') {
      listingRequests++;
      // The first request is held (the worker dies waiting for it); later ones are answered.
      if (listingRequests === 1) return void held.push(res);
      const html = Buffer.from('<html><body><a href="a.bin">a</a> <a href="b.bin">b</a></body></html>');
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': String(html.length) });
      return void res.end(html);
    }
    if (req.url === '/gal/a.bin' || req.url === '/gal/b.bin') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(FILE.length) });
      return void res.end(FILE);
    }
    res.writeHead(404, { 'content-length': '0' }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  originUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-io-heartbeat-'));
  stack = await startStack('file', { FETCHBOX_STORAGE_URL: `file://${dir}` });
  // Only the worker processes below run this test's jobs.
  stack.worker.shutdown();
});

afterAll(async () => {
  workers.killAll();
  for (const res of held) res.destroy();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await stack?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a worker killed during loadPage', () => {
  it('loses the page for about the 30 s heartbeat timeout, not the 5-minute start-to-close', async () => {
    const env = workerEnv(stack.taskQueue, `file://${dir}`);
    const first = workers.start(env);
    const jobId = uniqueJobId('io-heartbeat');
    await stack.accept({
      jobId,
      handler: 'link-expander',
      resources: [{ id: 'gal', url: `${originUrl}/gal/index.html` }],
    });

    // The first worker is inside loadPage, waiting on the held listing.
    const killedAt = await workers.killDuring(first, env, 'the listing to be requested', () => listingRequests > 0);
    const summary = await stack.waitForJob(jobId, { timeoutMs: 120_000, report: () => workers.report() });
    const recoveredMs = Date.now() - killedAt;
    expect(summary).toMatchObject({ status: 'completed', resources: { succeeded: 2, failed: 0 } });
    expect(listingRequests).toBe(2);
    expect(await readFile(path.join(dir, jobId, 'gal', 'a.bin'))).toEqual(FILE);
    expect(await readFile(path.join(dir, jobId, 'gal', 'b.bin'))).toEqual(FILE);
    // 30 s heartbeat timeout, then the retry (1 s) on the second worker; far below 300 s.
    expect(recoveredMs).toBeLessThan(90_000);
    process.stderr.write(`[io-heartbeat] job completed ${recoveredMs} ms after the worker in loadPage was killed\n`);
  }, 200_000);
});
