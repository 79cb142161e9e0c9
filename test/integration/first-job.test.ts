import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { contentSha256, startOrigin, type Origin } from '../support/origin.js';
import { readBack } from '../support/objects.js';
import { startStack, uniqueJobId, type Stack, type StorageKind } from '../support/stack.js';

let origin: Origin;
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin?.close();
});

describe.each<StorageKind>(['file', 's3'])('a first job on the %s driver', (kind) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
  });
  afterAll(async () => {
    await stack?.close();
  });
  afterEach(() => origin.hits.clear());

  it('stores 50 resources byte-exact and reports them', async () => {
    const jobId = uniqueJobId(`fifty-${kind}`);
    // Sizes from empty to a few hundred KiB, so both S3 code paths (one PUT) see edge sizes.
    const sizes = Array.from({ length: 50 }, (_, i) => (i === 0 ? 0 : (i * 7919) % 300_000));
    const resources = sizes.map((size, i) => ({ url: `${origin.url}/bytes/${size}/${jobId}-${i}`, id: `r${i}` }));
    const submitted = await stack.submit({ jobId, metadata: { source: 'test' }, resources });
    expect(submitted.status).toBe(202);
    expect(submitted.body).toMatchObject({ jobId, status: 'running', links: { self: `/jobs/${jobId}` } });

    const summary = await stack.waitForJob(jobId);
    const totalBytes = sizes.reduce((a, b) => a + b, 0);
    expect(summary).toMatchObject({
      jobId,
      handler: 'default',
      status: 'completed',
      resources: { total: 50, succeeded: 50, failed: 0, pending: 0 },
      bytes: totalBytes,
    });
    expect(summary.closedAt).toBeTypeOf('string');

    const states = await stack.allResources(jobId);
    expect(states).toHaveLength(50);
    for (const [i, state] of states.entries()) {
      const expected = contentSha256(`${jobId}-${i}`, sizes[i]!);
      expect(state).toMatchObject({ id: `r${i}`, status: 'succeeded', attempts: 1, bytes: sizes[i], sha256: expected });
      expect(state.key).toBe(`${jobId}/r${i}-${jobId}-${i}`);
      const stored = await readBack(stack.storage, state.key as string);
      expect(stored).toEqual({ sha256: expected, bytes: sizes[i] });
      const head = await stack.storage.head(state.key as string);
      expect(head?.metadata).toMatchObject({ sha256: expected, 'job-id': jobId, 'source-url': resources[i]!.url });
    }
    const manifest = await stack.storage.getJson<Record<string, any>>(`${jobId}/manifest.json`);
    expect(manifest).toMatchObject({ jobId, handler: 'default', metadata: { source: 'test' }, resources: { total: 50 } });
  });

  it('answers a repeated identical submit with 200 and starts no second workflow', async () => {
    const jobId = uniqueJobId(`dup-${kind}`);
    const manifest = { jobId, resources: [{ url: `${origin.url}/bytes/10/${jobId}` }] };
    const first = await stack.submit(manifest);
    expect(first.status).toBe(202);
    const handle = stack.client.workflow.getHandle(`job-${jobId}`);
    const { runId } = await handle.describe();
    const again = await stack.submit(manifest);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ jobId, links: { self: `/jobs/${jobId}` } });
    await stack.waitForJob(jobId);
    // Also after the job closed: still the same job, not a new run.
    const late = await stack.submit(manifest);
    expect(late.status).toBe(200);
    expect((await handle.describe()).runId).toBe(runId);
    let runs = 0;
    for await (const _ of stack.client.workflow.list({ query: `WorkflowId = "job-${jobId}"` })) runs++;
    expect(runs).toBe(1);
    expect(origin.hits.get(`/bytes/10/${jobId}`)).toBe(1);
  });

  it('refuses the same jobId with a different manifest: 409 job_conflict', async () => {
    const jobId = uniqueJobId(`conflict-${kind}`);
    expect((await stack.submit({ jobId, resources: [{ url: `${origin.url}/bytes/1/a` }] })).status).toBe(202);
    const other = await stack.submit({ jobId, resources: [{ url: `${origin.url}/bytes/2/b` }] });
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ error: { code: 'job_conflict' } });
    await stack.waitForJob(jobId);
  });
});
