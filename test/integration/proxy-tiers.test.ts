import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentSha256, startOrigin, type Origin } from '../support/origin.js';
import { freePort } from '../support/ports.js';
import { startProxy, type TestProxy } from '../support/proxy.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';

let origin: Origin;
let proxy: TestProxy;
let stack: Stack;
beforeAll(async () => {
  origin = await startOrigin();
  proxy = await startProxy('crawler:s3cret');
  // Tier 1 is a proxy that refuses connections (nothing listens); tier 2 a working proxy
  // whose credentials come from its FETCHBOX_PROXY_<NAME>_URL variable; tier 3 direct.
  stack = await startStack('file', {
    FETCHBOX_PROXY_DEAD_URL: `http://127.0.0.1:${await freePort()}`,
    FETCHBOX_PROXY_GOOD_URL: proxy.url.replace('http://', 'http://crawler:s3cret@'),
    FETCHBOX_PROXY_TIERS: 'dead,good,direct',
    FETCHBOX_RETRY_MAX_ATTEMPTS: '4',
  });
});
afterAll(async () => {
  await stack?.close();
  await proxy?.close();
  await origin?.close();
});

describe('proxy tiers', () => {
  it('moves to the next tier when the first refuses, and downloads through the proxy', async () => {
    const jobId = uniqueJobId('proxy');
    const path = `/bytes/3000/${jobId}`;
    await stack.submit({ jobId, resources: [{ url: `${origin.url}${path}` }] });
    const summary = await stack.waitForJob(jobId);
    expect(summary.status).toBe('completed');
    const [state] = await stack.allResources(jobId);
    expect(state).toMatchObject({ status: 'succeeded', attempts: 2, sha256: contentSha256(jobId, 3000) });
    expect(proxy.connects).toContain(new URL(origin.url).host);
    expect(proxy.refused).toBe(0);
    expect(origin.hits.get(path)).toBe(1);
  });

  it('keeps credentials out of the recorded error when every proxy tier fails', async () => {
    const jobId = uniqueJobId('proxy-fail');
    await stack.submit({ jobId, resources: [{ url: `${origin.url}/status/503/${jobId}` }] });
    await stack.waitForJob(jobId);
    const [state] = await stack.allResources(jobId);
    expect(state).toMatchObject({ status: 'failed', attempts: 4, error: { kind: 'retries_exhausted', httpStatus: 503 } });
    expect(JSON.stringify(state)).not.toContain('s3cret');
    // Logs carry the job's context and never the proxy credentials.
    const lines = stack.logs.filter((l) => l.includes(jobId)).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThanOrEqual(4);
    // A small job runs its first round in the job workflow itself (inline-run.test.ts).
    expect(lines[0]).toMatchObject({ jobId, resourceId: '0', workflowId: `job-${jobId}`, attempt: 1 });
    expect(stack.logs.join('\n')).not.toContain('s3cret');
    // Attempt 1 died on the dead tier; 2 went through the proxy; 3 and 4 direct.
    expect(origin.hits.get(`/status/503/${jobId}`)).toBe(3);
  });
});
