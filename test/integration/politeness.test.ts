import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, uniqueJobId } from '../support/stack.js';

/** A loopback origin that answers every request after `delayMs` and records the most requests it had in flight at once. */
interface PeakOrigin {
  url: string;
  delayMs: number;
  peak: number;
  requests: number;
  reset(): void;
  close(): Promise<void>;
}

async function startPeakOrigin(delayMs: number): Promise<PeakOrigin> {
  let inFlight = 0;
  const seen = new Set<string>();
  const origin = {
    url: '',
    delayMs,
    peak: 0,
    requests: 0,
    reset() {
      origin.peak = 0;
      origin.requests = 0;
    },
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
  const server: Server = createServer((req, res) => {
    inFlight++;
    origin.requests++;
    origin.peak = Math.max(origin.peak, inFlight);
    let done = false;
    const finish = () => {
      if (!done) inFlight--;
      done = true;
    };
    res.on('close', finish);
    // `/flaky/...` answers 503 the first time (a retryable failure: Temporal retries the activity).
    const first = !seen.has(req.url ?? '');
    seen.add(req.url ?? '');
    setTimeout(() => {
      finish(); // counted out before the answer leaves, so a prompt next request never overlaps it
      if (req.url?.startsWith('/flaky/') && first) {
        res.writeHead(503, { 'content-length': '0' });
        return void res.end();
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
    }, origin.delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return origin;
}

let origin: PeakOrigin;
beforeAll(async () => {
  origin = await startPeakOrigin(70);
});
afterAll(async () => {
  await origin?.close();
});

describe('perHostConcurrency N: at most N requests in flight per host for the whole job', () => {
  it.each([1, 3])('N=%i with 4 pages, 2 page workflows at a time and retried 503s', async (n) => {
    const stack = await startStack('file', {
      FETCHBOX_JOB_PER_HOST_CONCURRENCY: String(n),
      FETCHBOX_JOB_PAGE_SIZE: '10',
      FETCHBOX_JOB_PAGE_PARALLELISM: '2',
      FETCHBOX_JOB_CONCURRENCY: '16',
      FETCHBOX_RETRY_MAX_ATTEMPTS: '3',
    });
    try {
      origin.reset();
      // N > 1: 250 ms a request, as `peak` reaches N only if N requests overlap, and a loaded machine
      // can start the next download of a freed slot (a workflow task, an activity dispatch) 100 ms
      // or more late. N = 1 needs no overlap to reach its peak: 70 ms keeps its 48 requests short.
      origin.delayMs = n === 1 ? 70 : 250;
      const jobId = uniqueJobId(`polite-${n}`);
      const resources = Array.from({ length: 40 }, (_, i) => ({ url: `${origin.url}/${i % 5 === 0 ? 'flaky' : 'ok'}/${jobId}/${i}` }));
      expect((await stack.submit({ jobId, resources })).status).toBe(202);
      const summary = await stack.waitForJob(jobId);
      expect(summary.status).toBe('completed');
      expect(summary.resources).toMatchObject({ total: 40, succeeded: 40, failed: 0 });
      expect(origin.requests).toBe(48); // 8 flaky resources were each retried once
      expect(origin.peak).toBe(n);
      const flaky = (await stack.allResources(jobId)).filter((r) => String(r.url).includes('/flaky/'));
      expect(flaky.map((r) => r.attempts)).toEqual(Array(8).fill(2));
    } finally {
      await stack.close();
    }
  });
});
