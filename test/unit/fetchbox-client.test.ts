import { describe, expect, it } from 'vitest';
import { ApiError, ErrorCode } from '../../src/api/api-error.js';
import { parseTokens } from '../../src/api/auth.js';
import type { JobService } from '../../src/api/job-service.js';
import type { JobEvent } from '../../src/api/jobs/job-events.js';
import {
  FetchBoxApiError,
  FetchBoxClient,
  FetchBoxStreamError,
  FetchBoxUnavailableError,
  MAX_SSE_EVENT_CHARS,
  StreamFailure,
  type JobEvent as ClientJobEvent,
} from '../../src/client/fetchbox-client.js';
import { testApp } from '../support/app.js';

// Issue 24 item 3: the typed client, against the Hono app through app.request (no socket).

const summary = (status: 'running' | 'completed', succeeded: number) => ({
  jobId: 'j1',
  handler: 'default',
  status,
  resources: { total: 2, succeeded, failed: 0, pending: 2 - succeeded },
  bytes: 10,
  startedAt: '2026-12-07T00:00:00.000Z',
});
const resource = (id: string) => ({ id, url: `https://example.com/${id}`, key: `j1/${id}`, status: 'succeeded' as const, attempts: 1 });

/** A job service answering every route the client calls, recording each call. */
function stubService(events: () => AsyncGenerator<JobEvent> = endedEvents) {
  const calls: unknown[] = [];
  const parts: Partial<JobService> = {
    submit: async (manifest) => (
      calls.push(['submit', manifest.jobId]),
      { jobId: manifest.jobId ?? 'new', created: manifest.jobId !== 'old' }
    ),
    summary: async (jobId) => {
      calls.push(['summary', jobId]);
      if (jobId !== 'j1') throw new ApiError(404, ErrorCode.jobNotFound, `no job ${jobId}`);
      return summary('running', 1);
    },
    list: async (opts) => (calls.push(['list', opts]), { items: [summary('running', 1)], next: null }),
    resources: async (jobId, opts) => {
      calls.push(['resources', jobId, opts]);
      return opts.cursor ? { items: [resource('b')], next: null } : { items: [resource('a')], next: 'c1' };
    },
    retry: async (jobId) => (calls.push(['retry', jobId]), { status: 'running', retrying: true }),
    cancel: async (jobId) => (calls.push(['cancel', jobId]), { status: 'running' }),
    failures: async (filter, opts) => (calls.push(['failures', filter, opts]), { items: [], next: null }),
    retryMany: async (request) => (
      calls.push(['retryMany', request]),
      { batchId: 'b1', dryRun: request.dryRun === true, matched: 1, retried: 0, skipped: {}, jobs: [] }
    ),
    events: async (jobId) => (calls.push(['events', jobId]), events()),
  };
  const jobs = new Proxy(parts as JobService, {
    get(target, prop) {
      if (prop === 'temporalUiUrl') return (jobId: string) => `http://ui/${jobId}`;
      if (prop === 'handlerLabel') return (name: string) => name;
      if (prop in target) return target[prop as keyof JobService];
      throw new Error(`job service called (${String(prop)}) unexpectedly`);
    },
  });
  return { jobs, calls };
}

async function* endedEvents(): AsyncGenerator<JobEvent> {
  yield { event: 'summary', data: summary('running', 1) } as JobEvent;
  yield { event: 'keepalive' };
  yield { event: 'resource', data: { ...resource('a'), jobId: 'j1', page: 0, round: 0 } } as JobEvent;
  yield { event: 'end', data: summary('completed', 2) } as JobEvent;
}

/** A client whose fetch is the app's own `request`, with token T unless told otherwise. */
function clientOf(events?: () => AsyncGenerator<JobEvent>, token: string | undefined = 'T') {
  const { jobs, calls } = stubService(events);
  const app = testApp(jobs, { tokens: parseTokens(['T']) });
  const urls: string[] = [];
  const client = new FetchBoxClient({
    baseUrl: 'http://fetchbox.test/',
    token,
    fetch: async (input, init) => (urls.push(String(input)), app.request(String(input), init)),
  });
  return { client, calls, urls };
}

const collect = async (events: AsyncIterable<ClientJobEvent>) => {
  const seen: ClientJobEvent[] = [];
  for await (const e of events) seen.push(e);
  return seen;
};

describe('FetchBoxClient against the API app', () => {
  it('submits a manifest object or text, telling a new job from an identical resubmit', async () => {
    const { client, calls } = clientOf();
    const made = await client.submit({ jobId: 'j1', resources: [{ url: 'https://example.com/a' }] });
    expect(made).toEqual({
      created: true,
      job: { jobId: 'j1', status: 'running', links: { self: '/jobs/j1', temporalUi: 'http://ui/j1' } },
    });
    const again = await client.submit(JSON.stringify({ jobId: 'old', resources: [{ url: 'https://example.com/a' }] }));
    expect(again.created).toBe(false);
    expect(calls).toEqual([
      ['submit', 'j1'],
      ['submit', 'old'],
    ]);
  });

  it('gets, lists, retries and cancels with typed answers and encoded paths and queries', async () => {
    const { client, calls, urls } = clientOf();
    const job = await client.get('j1');
    expect(job.resources.succeeded).toBe(1);
    expect(job.links.temporalUi).toBe('http://ui/j1');
    const page = await client.list({ status: 'running', handler: 'default', limit: 5 });
    expect(page.items.map((j) => j.jobId)).toEqual(['j1']);
    expect(page.nextCursor).toBeNull();
    expect(await client.retry('j1')).toMatchObject({ jobId: 'j1', retrying: true });
    expect(await client.cancel('j1')).toMatchObject({ jobId: 'j1', status: 'running' });
    expect(calls).toContainEqual(['list', { status: 'running', handler: 'default', limit: 5 }]);
    expect(urls).toContain('http://fetchbox.test/jobs?status=running&handler=default&limit=5');
    await expect(client.get('a/b')).rejects.toMatchObject({ status: 400 }); // encoded: never another route
    expect(urls).toContain('http://fetchbox.test/jobs/a%2Fb');
  });

  it('pages resources one at a time, or every page through the async iterators', async () => {
    const { client } = clientOf();
    const first = await client.resources('j1', { status: 'succeeded', limit: 1 });
    expect(first).toEqual({ items: [resource('a')], nextCursor: 'c1' });
    const pages = [];
    for await (const p of client.resourcePages('j1', { limit: 1 })) pages.push(p);
    expect(pages.map((p) => p.items.map((r) => r.id))).toEqual([['a'], ['b']]);
    const ids = [];
    for await (const r of client.allResources('j1')) ids.push(r.id);
    expect(ids).toEqual(['a', 'b']);
  });

  it('reads the dead-letter view and bulk retries', async () => {
    const { client, calls } = clientOf();
    expect(await client.failures({ kind: 'timeout', since: '2026-12-01', limit: 10 })).toEqual({ items: [], nextCursor: null });
    expect(calls).toContainEqual(['failures', { kind: 'timeout', since: '2026-12-01T00:00:00.000Z' }, { limit: 10 }]);
    const answer = await client.retries({ status: 'completed_with_failures', dryRun: true });
    expect(answer).toMatchObject({ batchId: 'b1', dryRun: true, matched: 1 });
  });

  it('streams events as an async iterator up to end, skipping keepalives', async () => {
    const { client, urls } = clientOf();
    const seen = await collect(client.events('j1', { resources: 'all' }));
    expect(seen.map((e) => e.event)).toEqual(['summary', 'resource', 'end']);
    const end = seen[2]!;
    expect(end.event === 'end' && end.data.status).toBe('completed');
    const r = seen[1]!;
    expect(r.event === 'resource' && [r.data.id, r.data.page, r.data.round]).toEqual(['a', 0, 0]);
    expect(urls).toContain('http://fetchbox.test/jobs/j1/events?resources=all');
  });

  it('reads events split across chunks anywhere, skipping comments and events it does not know', async () => {
    const text = [
      `event: summary\ndata: ${JSON.stringify(summary('running', 1))}\n\n`,
      ': keepalive\n\n',
      'event: other\ndata: {}\n\n',
      `event: end\r\ndata: ${JSON.stringify(summary('completed', 2))}\r\n\r\n`,
    ].join('');
    const bytes = new TextEncoder().encode(text);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 7) controller.enqueue(bytes.subarray(i, i + 7)); // cuts lines and UTF-8 alike
        controller.close();
      },
    });
    const client = new FetchBoxClient({ baseUrl: 'http://x.test', fetch: async () => new Response(body, { status: 200 }) });
    const seen = await collect(client.events('j1'));
    expect(seen.map((e) => e.event)).toEqual(['summary', 'end']);
    expect(seen[1]!.event === 'end' && seen[1]!.data.status).toBe('completed');
  });

  it('stops a stream that fails or closes before end with a FetchBoxStreamError', async () => {
    const failing = clientOf(async function* () {
      yield { event: 'summary', data: summary('running', 1) } as JobEvent;
      throw new Error('temporal went away');
    });
    const err = await collect(failing.client.events('j1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchBoxStreamError);
    expect(err).toMatchObject({
      reason: StreamFailure.errorEvent,
      body: { error: { code: 'stream_failed', message: 'temporal went away' } },
    });
    const cut = clientOf(async function* () {
      yield { event: 'summary', data: summary('running', 1) } as JobEvent;
    });
    await expect(collect(cut.client.events('j1'))).rejects.toMatchObject({ reason: StreamFailure.ended });
  });

  it('refuses an event larger than it buffers instead of growing without bound', async () => {
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode(`data: ${'x'.repeat(64 * 1024)}`));
      },
    });
    const client = new FetchBoxClient({ baseUrl: 'http://x.test', fetch: async () => new Response(endless, { status: 200 }) });
    const err = await collect(client.events('j1')).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: StreamFailure.broken });
    expect((err as Error).message).toContain(String(MAX_SSE_EVENT_CHARS));
  });
});

describe('FetchBoxClient errors', () => {
  it('carries the status and the API error body of a refusal', async () => {
    const { client } = clientOf();
    const err = await client.get('nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchBoxApiError);
    expect(err).toMatchObject({ status: 404, code: 'job_not_found', body: { error: { code: 'job_not_found', message: 'no job nope' } } });
    expect((err as Error).message).toBe('404 job_not_found: no job nope');
    const invalid = await client.submit({ resources: [] }).catch((e: unknown) => e);
    expect(invalid).toMatchObject({ status: 400, code: 'invalid_manifest' });
    expect((invalid as FetchBoxApiError).details).toBeDefined();
  });

  it('sends the bearer token: without it the API answers 401', async () => {
    await expect(clientOf(undefined, '').client.get('j1')).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    await expect(clientOf(undefined, 'wrong').client.get('j1')).rejects.toMatchObject({ status: 401 });
  });

  it('names a non-JSON error answer by its status', async () => {
    const client = new FetchBoxClient({
      baseUrl: 'http://x.test',
      fetch: async () => new Response('<html>bad gateway</html>', { status: 502 }),
    });
    await expect(client.get('j1')).rejects.toMatchObject({ status: 502, code: 'http_502', body: undefined });
  });

  it('turns no answer into FetchBoxUnavailableError naming the base URL', async () => {
    const client = new FetchBoxClient({
      baseUrl: 'http://x.test',
      fetch: async () => {
        throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') });
      },
    });
    const err = await client.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchBoxUnavailableError);
    expect((err as Error).message).toBe('cannot reach http://x.test: Error: connect ECONNREFUSED');
  });

  it('waits out a 429 on a GET for Retry-After, a bounded number of times; never retries a POST', async () => {
    const statuses: string[] = [];
    const rateLimited = () =>
      new Response(JSON.stringify({ error: { code: 'rate_limited', message: 'slow down' } }), {
        status: 429,
        headers: { 'retry-after': '1' },
      });
    const client = new FetchBoxClient({
      baseUrl: 'http://x.test',
      maxRetryAfterMs: 5, // the bound applies to Retry-After: 1 s becomes 5 ms
      rateLimitTries: 3,
      fetch: async (input, init) => (statuses.push(`${init?.method} ${String(input)}`), rateLimited()),
    });
    await expect(client.get('j1')).rejects.toMatchObject({ status: 429, code: 'rate_limited' });
    expect(statuses).toHaveLength(3);
    statuses.length = 0;
    await expect(client.cancel('j1')).rejects.toMatchObject({ status: 429 });
    expect(statuses).toEqual(['POST http://x.test/jobs/j1/cancel']);
  });
});
