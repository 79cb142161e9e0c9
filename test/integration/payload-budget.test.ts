import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineHandler } from '../../src/handlers/handler.js';
import { jobWorkflowId, pageWorkflowId } from '../../src/model/ids.js';
import type { JobMemo, PageResult } from '../../src/model/job-types.js';
import { PAGE_BUDGET_BYTES, jsonBytes } from '../../src/model/page-budget.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';

/** A handler that turns each resource into `metadata.fanout` files below its URL (`metadata.fanoutById[id]` first). */
const fanout = defineHandler({
  name: 'fanout',
  expand: (resources, ctx) =>
    resources.flatMap((r) => {
      const count = Number((ctx.metadata.fanoutById as Record<string, number> | undefined)?.[r.id] ?? ctx.metadata.fanout ?? 10);
      return Array.from({ length: count }, (_, n) => ({ id: `${r.id}/${n}`, url: `${r.url}/${n}`, key: `${ctx.jobId}/${r.id}/${n}` }));
    }),
});

let origin: Origin;
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin?.close();
});

/** Every page result of a finished job's first round. */
async function pageResults(stack: Stack, jobId: string): Promise<PageResult[]> {
  const desc = await stack.client.workflow.getHandle(jobWorkflowId(jobId)).describe();
  const { pageCount } = desc.memo as unknown as JobMemo;
  return Promise.all(
    Array.from(
      { length: pageCount },
      (_, p) => stack.client.workflow.getHandle(pageWorkflowId(jobId, p, 0)).result() as Promise<PageResult>,
    ),
  );
}

describe('no valid manifest makes a workflow payload exceed its limit', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('file', { FETCHBOX_JOB_PAGE_SIZE: '5000' }, [fanout]);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('completes a job of 8 KiB URLs, 256-char ids, 1024-byte keys and 8 KiB headers at the maximum page size', async () => {
    const jobId = uniqueJobId('budget');
    const longUrls = Array.from({ length: 400 }, (_, i) => {
      const base = `${origin.url}/bytes/16/${jobId}-${i}/`;
      // A key of 1024 bytes in segments a file system takes (at most 255 bytes each).
      const prefix = `${jobId}/${'k'.repeat(200)}/${'k'.repeat(200)}/${'k'.repeat(200)}/${'k'.repeat(200)}/`;
      const key = prefix + String(i).padStart(1024 - prefix.length, '0');
      return { id: `${String(i).padStart(4, '0')}-${'i'.repeat(251)}`, url: base + 'u'.repeat(8 * 1024 - base.length), key };
    });
    const bigHeaders = Array.from({ length: 100 }, (_, i) => ({
      id: `h${i}`,
      url: `${origin.url}/bytes/16/${jobId}-h${i}`,
      headers: { 'X-Pad-A': 'a'.repeat(4000), 'X-Pad-B': 'b'.repeat(4000) },
    }));
    const resources = [...longUrls, ...bigHeaders];
    expect((await stack.submit({ jobId, resources })).status).toBe(202);
    const summary = await stack.waitForJob(jobId);
    expect(summary.status).toBe('completed');
    expect(summary.resources).toMatchObject({ total: 500, succeeded: 500, failed: 0 });
    const results = await pageResults(stack, jobId);
    expect(results.length).toBeGreaterThan(1);
    for (const result of results) expect(jsonBytes(result)).toBeLessThan(PAGE_BUDGET_BYTES);
  });

  it('rejects a listing whose expansion exceeds the page budget, and runs the rest of the page', async () => {
    const jobId = uniqueJobId('budget-fanout');
    const resources = [
      { id: 'huge', url: `${origin.url}/bytes/16/${jobId}-huge` },
      { id: 'small', url: `${origin.url}/bytes/16/${jobId}-small` },
    ];
    // One page holds both; `huge` expands to 3,000 tasks (about 2 MB of states), `small` to 3.
    const metadata = { fanoutById: { huge: 3_000, small: 3 } };
    expect((await stack.submit({ jobId, handler: 'fanout', metadata, resources })).status).toBe(202);
    const summary = await stack.waitForJob(jobId);
    expect(summary.status).toBe('completed_with_failures');
    expect(summary.resources).toMatchObject({ total: 4, succeeded: 3, failed: 1 });
    const states = await stack.allResources(jobId);
    expect(states.filter((s) => s.status === 'succeeded').map((s) => s.id)).toEqual(['small/0', 'small/1', 'small/2']);
    const huge = states.find((s) => s.id === 'huge');
    expect(huge).toMatchObject({ status: 'failed', error: { kind: 'handler' } });
    expect(huge!.error.message).toMatch(/exceeds the page budget/);
    for (const result of await pageResults(stack, jobId)) expect(jsonBytes(result)).toBeLessThan(PAGE_BUDGET_BYTES);
  });
});

describe('a job has at most limits.maxResourcesPerJob tasks, expansions included', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(
      'file',
      { FETCHBOX_JOB_PAGE_SIZE: '1', FETCHBOX_JOB_PAGE_PARALLELISM: '2', FETCHBOX_LIMITS_MAX_RESOURCES_PER_JOB: '30' },
      [fanout],
    );
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('cuts expansions across pages at the cap and records the listings that did not fit', async () => {
    const jobId = uniqueJobId('cap');
    const resources = Array.from({ length: 4 }, (_, i) => ({ id: `l${i}`, url: `${origin.url}/bytes/16/${jobId}-l${i}` }));
    expect((await stack.submit({ jobId, handler: 'fanout', metadata: { fanout: 10 }, resources })).status).toBe(202);
    const summary = await stack.waitForJob(jobId);
    // 4 listings × 10 files = 40 tasks without a cap.
    expect(summary.resources.total).toBeLessThanOrEqual(30);
    const states = await stack.allResources(jobId);
    expect(states).toHaveLength(summary.resources.total);
    const failed = states.filter((s) => s.status === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    for (const s of failed) {
      expect(s.id).toMatch(/^l\d$/);
      expect(s.error).toMatchObject({ kind: 'handler' });
      expect(s.error.message).toMatch(/limits\.maxResourcesPerJob/);
    }
    // Every listing either ran all its files or failed whole.
    const succeeded = states.filter((s) => s.status === 'succeeded');
    expect(succeeded).toHaveLength(10 * (4 - failed.length));
    expect(summary.resources).toMatchObject({ succeeded: succeeded.length, failed: failed.length, pending: 0 });
  });
});
