import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../support/origin.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';

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
