import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PAGES_PER_RUN } from '../../src/workflows/job-scheduler.js';
import { contentSha256, startOrigin, type Origin } from '../support/origin.js';
import { readBack } from '../support/objects.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait-for.js';

let origin: Origin;
let stack: Stack;
beforeAll(async () => {
  origin = await startOrigin();
  // Small pages so a modest job spans many child workflows and several continue-as-new runs.
  stack = await startStack('file', { FETCHBOX_JOB_PAGE_SIZE: '10', FETCHBOX_JOB_CONCURRENCY: '8', FETCHBOX_RETRY_MAX_ATTEMPTS: '2' });
});
afterAll(async () => {
  await stack?.close();
  await origin?.close();
});
afterEach(() => {
  origin.hits.clear();
  origin.broken.clear();
});

async function post(path: string) {
  const res = await stack.app.request(path, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe('job lifecycle', () => {
  it('runs a job across pages and continue-as-new runs, listing resources in manifest order', async () => {
    const jobId = uniqueJobId('pages');
    const count = 10 * (PAGES_PER_RUN * 2 + 3); // more than two runs' worth of pages
    const resources = Array.from({ length: count }, (_, i) => ({ url: `${origin.url}/bytes/${100 + i}/${jobId}-${i}` }));
    expect((await stack.submit({ jobId, resources })).status).toBe(202);
    const summary = await stack.waitForJob(jobId);
    expect(summary).toMatchObject({ status: 'completed', resources: { total: count, succeeded: count, failed: 0, pending: 0 } });

    const states = await stack.allResources(jobId);
    expect(states.map((s) => s.id)).toEqual(resources.map((_, i) => String(i)));
    expect(states.every((s) => s.status === 'succeeded')).toBe(true);
    expect(states[count - 1]!.sha256).toBe(contentSha256(`${jobId}-${count - 1}`, 100 + count - 1));

    // The history stayed bounded: the job continued as new, and no run grew large.
    let runs = 0;
    for await (const wf of stack.client.workflow.list({ query: `WorkflowId = "job-${jobId}"` })) {
      runs++;
      expect(wf.historyLength).toBeLessThan(200);
    }
    expect(runs).toBeGreaterThanOrEqual(3);
  });

  it('lists by status and pages with a cursor', async () => {
    const jobId = uniqueJobId('filter');
    const resources = Array.from({ length: 35 }, (_, i) => ({
      url: i % 7 === 0 ? `${origin.url}/status/410/${jobId}-${i}` : `${origin.url}/bytes/10/${jobId}-${i}`,
    }));
    await stack.submit({ jobId, resources });
    expect(await stack.waitForJob(jobId)).toMatchObject({ status: 'completed_with_failures', resources: { failed: 5, succeeded: 30 } });
    const failed = (await (await stack.app.request(`/jobs/${jobId}/resources?status=failed`)).json()) as Record<string, any>;
    expect(failed.items.map((s: { id: string }) => s.id)).toEqual(['0', '7', '14', '21', '28']);
    expect(failed.items[0].error).toMatchObject({ kind: 'http_status', httpStatus: 410 });
    const first = (await (await stack.app.request(`/jobs/${jobId}/resources?limit=12`)).json()) as Record<string, any>;
    expect(first.items).toHaveLength(12);
    const second = (await (await stack.app.request(`/jobs/${jobId}/resources?limit=12&cursor=${first.nextCursor}`)).json()) as Record<
      string,
      any
    >;
    expect(second.items[0].id).toBe('12');
    const bad = await stack.app.request(`/jobs/${jobId}/resources?cursor=abc`);
    expect(bad.status).toBe(400);
  });

  it('retries failed resources of a closed job after the origin recovers', async () => {
    const jobId = uniqueJobId('retry');
    const name = `${jobId}-flaky`;
    origin.broken.add(name);
    const resources = [
      ...Array.from({ length: 25 }, (_, i) => ({ url: `${origin.url}/bytes/10/${jobId}-${i}` })),
      { url: `${origin.url}/switch/5000/${name}`, id: 'flaky' },
    ];
    await stack.submit({ jobId, resources });
    expect(await stack.waitForJob(jobId)).toMatchObject({ status: 'completed_with_failures', resources: { failed: 1, succeeded: 25 } });
    const [dead] = ((await (await stack.app.request(`/jobs/${jobId}/resources?status=failed`)).json()) as any).items;
    expect(dead).toMatchObject({ id: 'flaky', status: 'failed', attempts: 1, error: { kind: 'http_status', httpStatus: 404 } });

    origin.broken.delete(name);
    const retry = await post(`/jobs/${jobId}/retry`);
    expect(retry).toMatchObject({ status: 202, body: { jobId, retrying: true } });
    const after = await stack.waitForJob(jobId);
    expect(after).toMatchObject({ status: 'completed', resources: { total: 26, failed: 0, succeeded: 26 }, bytes: 25 * 10 + 5000 });
    const states = await stack.allResources(jobId);
    expect(states.find((s) => s.id === 'flaky')).toMatchObject({ status: 'succeeded', attempts: 2, sha256: contentSha256(name, 5000) });
    expect(await readBack(stack.storage, states.find((s) => s.id === 'flaky')!.key)).toEqual({
      sha256: contentSha256(name, 5000),
      bytes: 5000,
    });
    // Only the failed resource was downloaded again.
    expect(origin.hits.get(`/bytes/10/${jobId}-0`)).toBe(1);

    // Nothing left to retry: accepted, nothing runs.
    expect(await post(`/jobs/${jobId}/retry`)).toMatchObject({ status: 202, body: { retrying: false } });
    // The jobId stays idempotent for the original manifest across the retry run.
    expect((await stack.submit({ jobId, resources })).status).toBe(200);
  });

  it('cancels a running job: running downloads stop, the job ends canceled', async () => {
    const jobId = uniqueJobId('cancel');
    const resources = Array.from({ length: 40 }, (_, i) => ({ url: `${origin.url}/slow/30000/10/${jobId}-${i}` }));
    await stack.submit({ jobId, resources });
    // Wait until downloads are in flight.
    await waitFor('8 downloads in flight', () => [...origin.hits.keys()].filter((k) => k.includes(jobId)).length >= 8, {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    const started = Date.now();
    expect(await post(`/jobs/${jobId}/cancel`)).toMatchObject({ status: 202, body: { jobId } });
    const summary = await stack.waitForJob(jobId);
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(summary).toMatchObject({ status: 'canceled', resources: { total: 40, succeeded: 0 } });
    expect(summary.resources.pending).toBe(40);
    expect([...origin.hits.keys()].filter((k) => k.includes(jobId)).length).toBeLessThanOrEqual(8);
    // A canceled job is not running: cancel again is accepted, retry is refused.
    expect((await post(`/jobs/${jobId}/cancel`)).status).toBe(202);
    expect(await post(`/jobs/${jobId}/retry`)).toMatchObject({ status: 409, body: { error: { code: 'job_not_retryable' } } });
  });

  it('refuses to cancel a completed job: 409 job_not_running', async () => {
    const jobId = uniqueJobId('done');
    await stack.submit({ jobId, resources: [{ url: `${origin.url}/bytes/1/${jobId}` }] });
    await stack.waitForJob(jobId);
    expect(await post(`/jobs/${jobId}/cancel`)).toMatchObject({ status: 409, body: { error: { code: 'job_not_running' } } });
  });
});

describe('politeness', () => {
  it('keeps at most perHostConcurrency downloads in flight per host, across the job', async () => {
    const polite = await startStack('file', {
      FETCHBOX_JOB_CONCURRENCY: '16',
      FETCHBOX_JOB_PER_HOST_CONCURRENCY: '4',
      FETCHBOX_JOB_PAGE_SIZE: '10',
    });
    try {
      origin.maxInFlight.clear();
      const port = new URL(origin.url).port;
      const jobId = uniqueJobId('polite');
      const hosts = [`127.0.0.1:${port}`, `localhost:${port}`];
      const resources = Array.from({ length: 40 }, (_, i) => ({ url: `http://${hosts[i % 2]}/slow/150/10/${jobId}-${i}` }));
      await polite.submit({ jobId, resources });
      expect(await polite.waitForJob(jobId)).toMatchObject({ status: 'completed', resources: { succeeded: 40 } });
      for (const host of hosts) {
        expect(origin.maxInFlight.get(`${host} ${jobId}`), host).toBeGreaterThanOrEqual(1);
        expect(origin.maxInFlight.get(`${host} ${jobId}`), host).toBeLessThanOrEqual(4);
      }
      // Without the limit the same job runs more than 4 at once per host: the check above can fail.
      const impolite = await startStack('file', { FETCHBOX_JOB_CONCURRENCY: '16', FETCHBOX_JOB_PAGE_SIZE: '40' });
      const free = uniqueJobId('impolite');
      try {
        // One host only, so the whole window (8) lands on it.
        await impolite.submit({
          jobId: free,
          resources: resources.map((_, i) => ({ url: `http://${hosts[0]}/slow/150/10/${free}-${i}` })),
        });
        await impolite.waitForJob(free);
      } finally {
        await impolite.close();
      }
      expect(Math.max(...hosts.map((h) => origin.maxInFlight.get(`${h} ${free}`) ?? 0))).toBeGreaterThan(4);
    } finally {
      await polite.close();
    }
  });
});
