import { describe, expect, it } from 'vitest';
import type { JobService } from '../../src/api/job-service.js';
import type { JobContext } from '../../src/api/jobs/job-context.js';
import { listJobs } from '../../src/api/jobs/job-listing.js';
import { CursorSigner } from '../../src/api/cursor.js';
import { encodeJobsCursor } from '../../src/api/jobs/job-listing.js';
import { testApp } from '../support/app.js';

// Contract v1.1, read as a black-box client would: every error is {"error": {"code", "message", "details"?}}
// with the contract's code, and an answer says what is true of the job.

/** A job service that answers only what a test gives it and fails the test on anything else. */
function service(parts: Partial<JobService>): JobService {
  return new Proxy(parts as JobService, {
    get(target, prop) {
      if (prop === 'temporalUiUrl') return (jobId: string) => `http://ui/${jobId}`;
      if (prop in target) return target[prop as keyof JobService];
      throw new Error(`job service called (${String(prop)}) unexpectedly`);
    },
  });
}

const appWith = (parts: Partial<JobService>) => testApp(service(parts), { bodyLimitBytes: 1024 });

/** A gRPC error as @grpc/grpc-js raises it (what Temporal's client rethrows). */
function grpcError(code: number, message: string): Error {
  return Object.assign(new Error(`${code} ${message}`), { code, details: message, metadata: {} });
}

describe('POST /retries: a body not declared as JSON', () => {
  it('is 415 unsupported_media_type (the contract code), not invalid_request', async () => {
    const app = appWith({});
    const res = await app.request('/retries', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"jobIds":["a"]}' });
    expect(res.status).toBe(415);
    expect(await res.json()).toEqual({ error: { code: 'unsupported_media_type', message: expect.any(String) } });
  });

  it('is listed as a 415 answer of POST /retries in /openapi.json', async () => {
    const doc = (await (await appWith({}).request('/openapi.json')).json()) as {
      paths: Record<string, Record<string, { responses: object }>>;
    };
    expect(Object.keys(doc.paths['/retries']!.post!.responses)).toContain('415');
  });
});

describe('POST /jobs/{jobId}/cancel answers the job status', () => {
  it('running when the cancellation was requested now', async () => {
    const res = await appWith({ cancel: () => Promise.resolve({ status: 'running' }) }).request('/jobs/j1/cancel', { method: 'POST' });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ jobId: 'j1', status: 'running', links: { self: '/jobs/j1' } });
  });

  it('canceled (not running) for a job that already was canceled', async () => {
    const res = await appWith({ cancel: () => Promise.resolve({ status: 'canceled' }) }).request('/jobs/j1/cancel', { method: 'POST' });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ jobId: 'j1', status: 'canceled' });
  });
});

describe('GET /jobs with a cursor Temporal cannot read', () => {
  const signer = CursorSigner.random();
  const ctx = (err: Error) =>
    ({
      deps: {
        client: { workflowService: { listWorkflowExecutions: () => Promise.reject(err) } },
        config: { temporal: { namespace: 'default' } },
      },
      temporal: (fn: () => Promise<unknown>) => fn(),
      cursors: signer,
    }) as unknown as JobContext;

  it('is 400 invalid_request naming the cursor, before Temporal sees it (it answers a retried UNKNOWN: 500, or 503 at the deadline)', async () => {
    const token = Buffer.from('{"CloseTime":"2026-11-28T04:23:09Z","RunID":"r"}');
    const good = encodeJobsCursor(signer, {}, token);
    const otherKey = encodeJobsCursor(CursorSigner.random(), {}, token);
    const otherFilter = encodeJobsCursor(signer, { status: 'running' }, token);
    // A tampered MAC: its last character swapped for another (the key is random, so never for itself).
    const tampered = `${good.slice(0, -1)}${good.endsWith('0') ? 'A' : '0'}`;
    for (const cursor of ['bad', 'eyJhIjo', 'AAAA', tampered, `x${good}`, '_00000000', otherKey, otherFilter]) {
      const listing = listJobs(ctx(grpcError(2, 'invalid character m looking for beginning of value')), { limit: 10, cursor });
      await expect(listing, cursor).rejects.toMatchObject({ status: 400, code: 'invalid_request', details: [{ path: 'cursor' }] });
    }
  });

  it('hands Temporal the page token of a cursor it returned', async () => {
    const token = Buffer.from([0, 1, 2, 250, 251, 95]);
    let sent: Uint8Array | undefined;
    const list = (req: { nextPageToken?: Uint8Array }) => {
      sent = req.nextPageToken;
      return Promise.resolve({ executions: [], nextPageToken: Buffer.from('next') });
    };
    const context = {
      deps: { client: { workflowService: { listWorkflowExecutions: list } }, config: { temporal: { namespace: 'default' } } },
      temporal: (fn: () => Promise<unknown>) => fn(),
      cursors: signer,
    } as unknown as JobContext;
    const page = await listJobs(context, { limit: 10, cursor: encodeJobsCursor(signer, {}, token) });
    expect(Buffer.from(sent!)).toEqual(token);
    expect(page.next).toBe(encodeJobsCursor(signer, {}, Buffer.from('next')));
    expect(page.next).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('stays a server error without a cursor (the request was fine)', async () => {
    const err = grpcError(2, 'something went wrong');
    await expect(listJobs(ctx(err), { limit: 10 })).rejects.toBe(err);
  });
});

describe('GET /jobs lists a retried job by its latest run only', () => {
  const closed = (workflowId: string, runId: string, started: number) => ({
    execution: { workflowId, runId },
    status: 2, // COMPLETED
    startTime: { seconds: started },
    closeTime: { seconds: started + 10 },
  });
  const running = (workflowId: string, runId: string, started: number) => ({
    execution: { workflowId, runId },
    status: 1,
    startTime: { seconds: started },
  });

  it('leaves out a closed run a retry run superseded, keeps the others, in one extra visibility query', async () => {
    const queries: string[] = [];
    const list = (req: { query: string }) => {
      queries.push(req.query);
      if (queries.length === 1) return Promise.resolve({ executions: [closed('job-a', 'a1', 100), closed('job-b', 'b1', 90)] });
      // Every run of the listed ids: job-a was retried (a2, started after a1 closed).
      return Promise.resolve({ executions: [running('job-a', 'a2', 200), closed('job-a', 'a1', 100), closed('job-b', 'b1', 90)] });
    };
    const context = {
      deps: { client: { workflowService: { listWorkflowExecutions: list } }, config: { temporal: { namespace: 'default' } } },
      temporal: (fn: () => Promise<unknown>) => fn(),
    } as unknown as JobContext;
    const page = await listJobs(context, { limit: 10, status: 'completed_with_failures' });
    expect(page.items.map((j) => j.jobId)).toEqual(['b']);
    expect(queries).toHaveLength(2);
    expect(queries[1]).toContain(`WorkflowId IN ('job-a', 'job-b')`);
  });
});

describe('links.self and Location are /jobs/<jobId>', () => {
  it('carries a jobId with ":" as it is (every jobId character is allowed in a path segment)', async () => {
    const app = appWith({
      submit: () => Promise.resolve({ jobId: 'crawl:2026-11-28.a_b', created: true }) as never,
      handlerLabel: () => 'default',
    });
    const res = await app.request('/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jobId: 'crawl:2026-11-28.a_b', resources: [{ url: 'http://x.test/a' }] }),
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe('/jobs/crawl:2026-11-28.a_b');
    expect(await res.json()).toMatchObject({ jobId: 'crawl:2026-11-28.a_b', links: { self: '/jobs/crawl:2026-11-28.a_b' } });
  });
});

describe('query parameters sent empty count as not given (the contract writes ?status=&limit=&cursor=)', () => {
  it('GET /jobs?status=&handler=&limit=&cursor= lists with the defaults', async () => {
    let got: unknown;
    const app = appWith({ list: (opts) => ((got = opts), Promise.resolve({ items: [], next: null })) });
    const res = await app.request('/jobs?status=&handler=&limit=&cursor=');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ items: [], nextCursor: null });
    expect(got).toEqual({ limit: 100 });
  });

  it('GET /jobs/{jobId}/resources?status=&limit=&cursor= is the first page', async () => {
    let got: unknown;
    const app = appWith({ resources: (_id, opts) => ((got = opts), Promise.resolve({ items: [], next: null })) });
    const res = await app.request('/jobs/j1/resources?status=&limit=5&cursor=');
    expect(res.status).toBe(200);
    expect(got).toEqual({ limit: 5 });
  });

  it('a value that is not empty is still checked', async () => {
    const res = await appWith({}).request('/jobs?status=&limit=0');
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.details).toEqual([expect.objectContaining({ path: 'limit' })]);
  });
});
