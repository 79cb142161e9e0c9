import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../support/origin.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';

// A 20,000-resource job end to end, with tiny bodies: the fan-out stays inside Temporal's limits.
// (100,000 is measured by `npm run bench`, not here.)
const COUNT = 20_000;

let origin: Origin;
let stack: Stack;
beforeAll(async () => {
  origin = await startOrigin();
  stack = await startStack('file', { FETCHBOX_JOB_CONCURRENCY: '64', FETCHBOX_WORKER_MAX_CONCURRENT_ACTIVITIES: '128' });
});
afterAll(async () => {
  await stack?.close();
  await origin?.close();
});

describe('a 20,000-resource job', () => {
  it('completes with every resource stored and every history far from the limits', async () => {
    const jobId = uniqueJobId('scale');
    const resources = Array.from({ length: COUNT }, (_, i) => ({ url: `${origin.url}/bytes/16/${i}` }));
    const started = Date.now();
    const submitted = await stack.submit({ jobId, resources });
    expect(submitted.status).toBe(202);
    const acceptedMs = Date.now() - started;
    const summary = await stack.waitForJob(jobId);
    const wallMs = Date.now() - started;
    expect(summary).toMatchObject({ status: 'completed', resources: { total: COUNT, succeeded: COUNT, failed: 0 }, bytes: COUNT * 16 });

    let workflows = 0;
    let maxEvents = 0;
    let maxBytes = 0;
    for await (const wf of stack.client.workflow.list({ query: `WorkflowId STARTS_WITH "job-${jobId}"` })) {
      workflows++;
      const desc = await stack.client.workflow.getHandle(wf.workflowId, wf.runId).describe();
      maxEvents = Math.max(maxEvents, desc.historyLength);
      maxBytes = Math.max(maxBytes, Number(desc.raw.workflowExecutionInfo?.historySizeBytes ?? 0));
    }
    // 20 page workflows plus the job's runs; none near 51,200 events or the 10 MB warning.
    expect(workflows).toBeGreaterThanOrEqual(21);
    expect(maxEvents).toBeLessThan(10_000);
    expect(maxBytes).toBeLessThan(4 * 1024 * 1024);
    process.stderr.write(
      `[scale] ${COUNT} resources: accepted in ${acceptedMs} ms, completed in ${(wallMs / 1000).toFixed(1)} s ` +
        `(${Math.round(COUNT / (wallMs / 1000))} resources/s); ${workflows} workflow runs, ` +
        `largest history ${maxEvents} events / ${(maxBytes / 1024).toFixed(0)} KiB\n`,
    );
  }, 600_000);
});
