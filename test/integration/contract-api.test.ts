import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../support/origin.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait-for.js';

// Contract v1.1 answers a black-box read found wrong, checked against the real Temporal: every error
// is {"error": {"code", "message", "details"?}} with the contract's code, never a 500 for a client's mistake.

let origin: Origin;
let stack: Stack;
beforeAll(async () => {
  origin = await startOrigin();
  stack = await startStack('file');
});
afterAll(async () => {
  await stack?.close();
  await origin?.close();
});

const post = (path: string, init: RequestInit = {}) => stack.app.request(path, { method: 'POST', ...init });

describe('contract answers', () => {
  it('GET /jobs with a cursor it never returned is 400 invalid_request naming cursor (not 500)', async () => {
    for (const cursor of ['bad', 'eyJhIjo', 'AAAA']) {
      const res = await stack.app.request(`/jobs?cursor=${cursor}`);
      const body = (await res.json()) as any;
      expect(res.status, cursor).toBeLessThan(500);
      if (res.status !== 200) expect(body.error, cursor).toMatchObject({ code: 'invalid_request', details: [{ path: 'cursor' }] });
    }
    const res = await stack.app.request('/jobs?cursor=bad');
    expect(res.status).toBe(400);
  });

  it('POST /retries with a body not declared as JSON is 415 unsupported_media_type', async () => {
    const res = await post('/retries', { headers: { 'content-type': 'text/plain' }, body: '{"jobIds":["x"]}' });
    expect(res.status).toBe(415);
    expect(((await res.json()) as any).error.code).toBe('unsupported_media_type');
  });

  it('POST /jobs/{jobId}/cancel answers running, then canceled once the job is', async () => {
    const jobId = uniqueJobId('cancel-twice');
    expect((await stack.submit({ jobId, resources: [{ url: `${origin.url}/slow/20000/10/${jobId}` }] })).status).toBe(202);
    const first = await post(`/jobs/${jobId}/cancel`);
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ jobId, status: 'running' });
    expect(await stack.waitForJob(jobId)).toMatchObject({ status: 'canceled' });
    const again = await post(`/jobs/${jobId}/cancel`);
    expect(again.status).toBe(202);
    expect(await again.json()).toMatchObject({ jobId, status: 'canceled' });
  });
});

describe('POST /jobs again with the same manifest', () => {
  it("answers 200 with the existing job's current status, not always running", async () => {
    const jobId = uniqueJobId('resubmit');
    const manifest = { jobId, resources: [{ url: `${origin.url}/bytes/10/${jobId}` }] };
    expect((await stack.submit(manifest)).status).toBe(202);
    expect(await stack.waitForJob(jobId)).toMatchObject({ status: 'completed' });
    const again = await stack.submit(manifest);
    expect(again).toMatchObject({ status: 200, body: { jobId, status: 'completed', links: { self: `/jobs/${jobId}` } } });
  });
});

describe('GET /jobs after a retry', () => {
  it("lists the job once, by its latest run: not under its earlier run's status", async () => {
    const jobId = uniqueJobId('list-retried');
    const name = `${jobId}-switch`;
    origin.broken.add(name);
    await stack.submit({ jobId, resources: [{ url: `${origin.url}/switch/10/${name}`, id: 'sw' }] });
    expect(await stack.waitForJob(jobId)).toMatchObject({ status: 'completed_with_failures' });
    origin.broken.delete(name);
    expect((await post(`/jobs/${jobId}/retry`)).status).toBe(202);
    expect(await stack.waitForJob(jobId)).toMatchObject({ status: 'completed' });
    const find = async (query: string) =>
      (((await (await stack.app.request(`/jobs?${query}`)).json()) as any).items as any[]).filter((j) => j.jobId === jobId);
    // Visibility is eventually consistent: wait until the retry run is indexed as completed.
    await waitFor('the retry run to be indexed as completed', async () => (await find('status=completed&limit=1000')).length > 0, {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    expect(await find('status=completed&limit=1000')).toHaveLength(1);
    expect(await find('status=completed_with_failures&limit=1000')).toEqual([]);
    // Paging one job at a time, the job comes once, with its current status.
    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const page = (await (await stack.app.request(`/jobs?limit=1${cursor ? `&cursor=${cursor}` : ''}`)).json()) as any;
      seen.push(...page.items.filter((j: any) => j.jobId === jobId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ status: 'completed' });
    // startedAt is when the job was submitted, in the listing as in GET /jobs/{jobId}: not the retry run's start.
    const summary = (await (await stack.app.request(`/jobs/${jobId}`)).json()) as any;
    expect(seen[0].startedAt).toBe(summary.startedAt);
    const runs: Date[] = [];
    for await (const wf of stack.client.workflow.list({ query: `WorkflowId = "job-${jobId}"` })) runs.push(wf.startTime);
    expect(runs).toHaveLength(2);
    const retryRunStart = Math.max(...runs.map((d) => d.getTime()));
    expect(Date.parse(seen[0].startedAt)).toBeLessThan(retryRunStart);
  });
});
