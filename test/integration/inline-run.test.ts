import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobWorkflowId } from '../../src/model/ids.js';
import type { JobResult } from '../../src/model/job-types.js';
import { readBack } from '../support/objects.js';
import { contentSha256, startOrigin, type Origin } from '../support/origin.js';
import { readEvents } from '../support/sse.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';

// Issue 23 item 1: a small job (one inline page, a handler without expand, not polite) runs its
// first round inside the job workflow as one activity: no page child, no publish or load activity.
// The ledger of that round is the job workflow (its inlinePage query, then its result's carry).

let origin: Origin;
let stack: Stack;
beforeAll(async () => {
  origin = await startOrigin();
  stack = await startStack('file', { FETCHBOX_RETRY_MAX_ATTEMPTS: '2' });
}, 60_000);
afterAll(async () => {
  await stack?.close();
  await origin?.close();
});

/** Workflow ids of a job's runs and children, and the activity types its job workflow scheduled. */
async function shape(jobId: string) {
  const ids: string[] = [];
  for await (const wf of stack.client.workflow.list({ query: `WorkflowId STARTS_WITH "${jobWorkflowId(jobId)}"` })) ids.push(wf.workflowId);
  const history = await stack.client.workflow.getHandle(jobWorkflowId(jobId)).fetchHistory();
  const activities = (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
    .filter((name): name is string => typeof name === 'string');
  return { ids, activities, events: history.events?.length ?? 0 };
}

describe('small jobs run inline', () => {
  it('a job of 10 runs as one workflow with one activity; objects, listing, summary and events as before', async () => {
    const jobId = uniqueJobId('inline');
    const resources = Array.from({ length: 10 }, (_, i) => ({ id: `r${i}`, url: `${origin.url}/bytes/${1000 + i}/${jobId}-${i}` }));
    expect((await stack.submit({ jobId, resources })).status).toBe(202);
    const summary = await stack.waitForJob(jobId);
    expect(summary).toMatchObject({ status: 'completed', resources: { total: 10, succeeded: 10, failed: 0, pending: 0 } });
    const { ids, activities } = await shape(jobId);
    expect(ids).toEqual([jobWorkflowId(jobId)]);
    expect(activities).toEqual(['downloadInline']);
    const states = await stack.allResources(jobId);
    expect(states.map((s) => s.id)).toEqual(resources.map((r) => r.id));
    for (const [i, s] of states.entries()) {
      expect(s).toMatchObject({ status: 'succeeded', attempts: 1, bytes: 1000 + i, sha256: contentSha256(`${jobId}-${i}`, 1000 + i) });
      expect(await readBack(stack.storage, s.key)).toEqual({ sha256: s.sha256, bytes: 1000 + i });
    }
    // The manifest document is published as before.
    expect(await stack.storage.getJson<{ jobId: string; submittedAt: string }>(`${jobId}/manifest.json`)).toMatchObject({ jobId });
    const events = await readEvents(await stack.app.request(`/jobs/${jobId}/events?resources=all`));
    expect(
      events
        .filter((e) => e.event === 'resource')
        .map((e) => e.data.id)
        .sort(),
    ).toEqual(resources.map((r) => r.id).sort());
    expect(events.at(-1)).toMatchObject({ event: 'end', data: { status: 'completed' } });
  });

  it('retryable failures are retried alone; a retry of the closed job runs a page child that reads the inline round from the ledger', async () => {
    const jobId = uniqueJobId('inline-retry');
    const broken = `${jobId}-sw`;
    origin.broken.add(broken);
    const resources = [
      { id: 'ok', url: `${origin.url}/bytes/100/${jobId}-ok` },
      { id: 'flaky', url: `${origin.url}/flaky/1/503/50/${jobId}-flaky` },
      { id: 'gone', url: `${origin.url}/status/404/${jobId}` },
      { id: 'sw', url: `${origin.url}/switch/10/${broken}` },
    ];
    expect((await stack.submit({ jobId, resources })).status).toBe(202);
    const first = await stack.waitForJob(jobId);
    expect(first).toMatchObject({ status: 'completed_with_failures', resources: { succeeded: 2, failed: 2 } });
    const byId = new Map((await stack.allResources(jobId)).map((s) => [s.id, s]));
    expect(byId.get('flaky')).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(byId.get('gone')).toMatchObject({ status: 'failed', error: { kind: 'http_status', httpStatus: 404 } });
    expect(byId.get('sw')).toMatchObject({ status: 'failed' });
    expect((await shape(jobId)).activities).toEqual(['downloadInline', 'downloadResource']);

    origin.broken.delete(broken);
    expect((await stack.app.request(`/jobs/${jobId}/retry`, { method: 'POST' })).status).toBe(202);
    const second = await stack.waitForJob(jobId);
    expect(second).toMatchObject({ status: 'completed_with_failures', resources: { succeeded: 3, failed: 1 } });
    const after = new Map((await stack.allResources(jobId)).map((s) => [s.id, s]));
    expect(after.get('sw')).toMatchObject({ status: 'succeeded', sha256: contentSha256(broken, 10) });
    expect(after.get('ok')).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(after.get('gone')).toMatchObject({ status: 'failed' });
    // The retry round ran as a page child (it read the inline round's failures from the job workflow).
    expect((await shape(jobId)).ids).toContain(`${jobWorkflowId(jobId)}/p000000/r1`);
    const result = (await stack.client.workflow.getHandle(jobWorkflowId(jobId)).result()) as JobResult;
    expect(result.resume.carry?.inlinePage?.states).toHaveLength(4);
  });

  it('a polite job still runs its page as a page child (the per-host scheduler enforces its limit)', async () => {
    const jobId = uniqueJobId('inline-not');
    const resources = Array.from({ length: 3 }, (_, i) => ({ url: `${origin.url}/bytes/10/${jobId}-${i}` }));
    const polite = await startStack('file', { FETCHBOX_JOB_PER_HOST_CONCURRENCY: '1' });
    try {
      expect((await polite.submit({ jobId, resources })).status).toBe(202);
      expect(await polite.waitForJob(jobId)).toMatchObject({ status: 'completed' });
      const ids: string[] = [];
      for await (const wf of polite.client.workflow.list({ query: `WorkflowId STARTS_WITH "${jobWorkflowId(jobId)}"` }))
        ids.push(wf.workflowId);
      expect(ids.sort()).toEqual([jobWorkflowId(jobId), `${jobWorkflowId(jobId)}/p000000`]);
    } finally {
      await polite.close();
    }
  });
});
