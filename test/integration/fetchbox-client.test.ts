import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchBoxApiError, FetchBoxClient, type JobEvent } from '../../src/client/fetchbox-client.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { serveApp, startStack, uniqueJobId, type Stack } from '../support/stack.js';

// Issue 24 item 3: a job run end to end through the typed client, over real HTTP, against a real stack.

let origin: Origin;
let stack: Stack;
let server: { url: string; close(): Promise<void> };
let client: FetchBoxClient;
beforeAll(async () => {
  origin = await startOrigin();
  stack = await startStack('file');
  server = await serveApp(stack.app);
  client = new FetchBoxClient({ baseUrl: server.url });
});
afterAll(async () => {
  await server?.close();
  await stack?.close();
  await origin?.close();
});

describe('FetchBoxClient against a running FetchBox', () => {
  it('submits, follows the events to end, reads the job, its resources and failures, and retries', async () => {
    const jobId = uniqueJobId('client');
    const { created, job } = await client.submit({
      jobId,
      resources: [
        { url: `${origin.url}/bytes/10/${jobId}`, id: 'ok' },
        { url: `${origin.url}/status/404/${jobId}`, id: 'gone' },
      ],
    });
    expect(created).toBe(true);
    expect(job).toMatchObject({ jobId, status: 'running', links: { self: `/jobs/${jobId}` } });
    expect(
      (
        await client.submit({
          jobId,
          resources: [
            { url: `${origin.url}/bytes/10/${jobId}`, id: 'ok' },
            { url: `${origin.url}/status/404/${jobId}`, id: 'gone' },
          ],
        })
      ).created,
    ).toBe(false);

    const events: JobEvent[] = [];
    for await (const e of client.events(jobId)) events.push(e);
    const end = events.at(-1)!;
    expect(end.event).toBe('end');
    expect(end.event === 'end' && end.data.status).toBe('completed_with_failures');
    expect(events.some((e) => e.event === 'resource' && e.data.id === 'gone' && e.data.error?.kind === 'http_status')).toBe(true);

    const summary = await client.get(jobId);
    expect(summary.resources).toEqual({ total: 2, succeeded: 1, failed: 1, pending: 0 });
    const ids: string[] = [];
    for await (const r of client.allResources(jobId, { limit: 1 })) ids.push(`${r.id}:${r.status}`);
    expect(ids).toEqual(['ok:succeeded', 'gone:failed']);
    const failures = await client.failures({ handler: 'default', limit: 1000 });
    expect(failures.items.some((f) => f.jobId === jobId && f.id === 'gone')).toBe(true);

    const retried = await client.retry(jobId);
    expect(retried).toMatchObject({ jobId, retrying: true });
    await stack.waitForJob(jobId);
    await expect(client.cancel(jobId)).rejects.toMatchObject({ status: 409, code: 'job_not_running' });
    const missing = await client.get(uniqueJobId('none')).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(FetchBoxApiError);
    expect(missing).toMatchObject({ status: 404, code: 'job_not_found' });
  });
});
