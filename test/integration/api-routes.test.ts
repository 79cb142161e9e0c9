import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../support/origin.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';
import { readEvents } from '../support/sse.js';
import { waitFor } from '../support/wait-for.js';

let origin: Origin;
let stack: Stack;
beforeAll(async () => {
  origin = await startOrigin();
  // Heartbeats reach the server often: a small job's live counts (it runs inline) come from them.
  stack = await startStack('file', { FETCHBOX_WORKER_HEARTBEAT_THROTTLE_MS: '200' });
});
afterAll(async () => {
  await stack?.close();
  await origin?.close();
});

describe('GET /jobs', () => {
  it('lists jobs from visibility, filtered by status and handler, with a cursor', async () => {
    const tag = uniqueJobId('list');
    const ok = [`${tag}-a`, `${tag}-b`, `${tag}-c`];
    const bad = `${tag}-bad`;
    for (const jobId of ok) await stack.submit({ jobId, resources: [{ url: `${origin.url}/bytes/5/${jobId}` }] });
    await stack.submit({ jobId: bad, resources: [{ url: `${origin.url}/status/404/${bad}` }] });
    for (const jobId of [...ok, bad]) await stack.waitForJob(jobId);
    // Visibility is eventually consistent, and indexes each close on its own: wait until all four are.
    const find = async (query: string) => ((await (await stack.app.request(`/jobs?${query}`)).json()) as any).items as any[];
    const indexed = async () => {
      const closed = [...(await find('status=completed_with_failures&limit=1000')), ...(await find('status=completed&limit=1000'))];
      return [...ok, bad].every((jobId) => closed.some((j) => j.jobId === jobId));
    };
    await waitFor('the four closes to be indexed', indexed, { timeoutMs: 30_000, intervalMs: 200 });
    const failedOnes = await find('status=completed_with_failures&limit=1000');
    expect(failedOnes.find((j) => j.jobId === bad)).toMatchObject({
      status: 'completed_with_failures',
      resources: { failed: 1 },
      links: { self: `/jobs/${bad}` },
    });
    expect(failedOnes.some((j) => ok.includes(j.jobId))).toBe(false);
    const completed = await find('status=completed&handler=default&limit=1000');
    for (const jobId of ok)
      expect(completed.find((j) => j.jobId === jobId)).toMatchObject({ status: 'completed', handler: 'default', bytes: 5 });
    expect(await find('handler=nobody')).toEqual([]);

    const first = (await (await stack.app.request('/jobs?limit=2')).json()) as any;
    expect(first.items).toHaveLength(2);
    expect(first.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
    const second = (await (await stack.app.request(`/jobs?limit=2&cursor=${first.nextCursor}`)).json()) as any;
    expect(second.items.map((j: any) => j.jobId)).not.toContain(first.items[0].jobId);
    expect((await stack.app.request('/jobs?status=exploded')).status).toBe(400);
  });
});

describe('GET /jobs/{jobId}/events', () => {
  it('streams summary events until the job closes, then an end event', async () => {
    const jobId = uniqueJobId('sse');
    const resources = Array.from({ length: 6 }, (_, i) => ({ url: `${origin.url}/slow/${300 * (i + 1)}/10/${jobId}-${i}` }));
    await stack.submit({ jobId, resources });
    const res = await stack.app.request(`/jobs/${jobId}/events`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = await readEvents(res);
    const last = events[events.length - 1]!;
    expect(last).toMatchObject({ event: 'end', data: { jobId, status: 'completed', resources: { succeeded: 6 } } });
    const progress = events.filter((e) => e.event === 'summary');
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.every((e) => e.data.status === 'running')).toBe(true);
    const counts = progress.map((e) => e.data.resources.succeeded as number);
    expect([...counts].sort((a, b) => a - b)).toEqual(counts); // never goes backwards
  });

  it('sends a summary and an end event for a closed job, and 404 for an unknown one', async () => {
    const jobId = uniqueJobId('sse-closed');
    await stack.submit({ jobId, resources: [{ url: `${origin.url}/bytes/1/${jobId}` }] });
    await stack.waitForJob(jobId);
    const events = await readEvents(await stack.app.request(`/jobs/${jobId}/events`));
    const final = expect.objectContaining({ jobId, status: 'completed', resources: expect.objectContaining({ succeeded: 1 }) });
    expect(events).toEqual([
      { event: 'summary', id: 1, data: final },
      { event: 'end', id: 2, data: final },
    ]);
    const missing = await stack.app.request(`/jobs/${uniqueJobId('nope')}/events`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'job_not_found' } });
  });
});

describe('operator routes on unknown jobs', () => {
  it('answer 404 job_not_found', async () => {
    for (const action of ['retry', 'cancel']) {
      const res = await stack.app.request(`/jobs/${uniqueJobId('ghost')}/${action}`, { method: 'POST' });
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: 'job_not_found' } });
    }
  });
});

describe('GET /metrics after real jobs', () => {
  it('counts submits by outcome', async () => {
    const jobId = uniqueJobId('metrics');
    await stack.submit({ jobId, resources: [{ url: `${origin.url}/bytes/1/${jobId}` }] });
    await stack.submit({ jobId, resources: [{ url: `${origin.url}/bytes/1/${jobId}` }] });
    await stack.submit({ jobId, resources: [{ url: `${origin.url}/bytes/2/${jobId}` }] });
    const text = await (await stack.app.request('/metrics')).text();
    expect(text).toMatch(/fetchbox_jobs_submitted_total\{handler="default",outcome="created"\} [1-9]/);
    expect(text).toMatch(/fetchbox_jobs_submitted_total\{handler="default",outcome="duplicate"\} [1-9]/);
    expect(text).toMatch(/fetchbox_jobs_submitted_total\{handler="default",outcome="conflict"\} [1-9]/);
    await stack.waitForJob(jobId);
  });
});

describe('fuzzing POST /jobs', () => {
  // Real validation, real staging into storage and real workflow starts, on a task queue no worker
  // polls: accepted jobs never run, so no generated URL is ever fetched.
  let idle: Stack;
  beforeAll(async () => {
    idle = await startStack('file', { TEMPORAL_TASK_QUEUE: 'fuzz-no-worker' });
    idle.worker.shutdown();
  });
  afterAll(async () => {
    await idle?.close();
  });

  const headerName = fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/);
  const resource = fc.record(
    {
      url: fc.oneof(fc.webUrl(), fc.string(), fc.constant('http://127.0.0.1:9/x')),
      id: fc.oneof(fc.string({ maxLength: 20 }), fc.constant('x')),
      key: fc.oneof(fc.string({ maxLength: 30 }), fc.constant('a/b.bin'), fc.constant('../x')),
      headers: fc.dictionary(fc.oneof(headerName, fc.string({ maxLength: 5 })), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
    },
    { requiredKeys: ['url'] },
  );
  const manifest = fc.record(
    {
      jobId: fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/), fc.string({ maxLength: 140 })),
      handler: fc.oneof(fc.constant('default'), fc.constant('link-expander'), fc.string({ maxLength: 10 })),
      metadata: fc.oneof(fc.object(), fc.jsonValue()),
      resources: fc.array(resource, { maxLength: 5 }),
      extra: fc.jsonValue(),
    },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    { weight: 6, arbitrary: manifest.map((m) => JSON.stringify(m)) },
    { weight: 2, arbitrary: fc.json() },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  );

  it('never answers 5xx, and every error has the contract shape', async () => {
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain'),
        async (payload, type) => {
          const res = await idle.app.request('/jobs', { method: 'POST', headers: { 'content-type': type }, body: payload });
          expect(res.status).toBeLessThan(500);
          const json = (await res.json()) as any;
          if (res.status >= 400) {
            expect(json.error.code).toMatch(/^[a-z_]+$/);
            expect(typeof json.error.message).toBe('string');
            expect(JSON.stringify(json)).not.toMatch(/\n\s+at /);
          } else {
            expect([200, 202]).toContain(res.status);
          }
        },
      ),
      { numRuns: 300, seed: 20261124 },
    );
  });
});
