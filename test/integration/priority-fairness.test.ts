import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobWorkflowId } from '../../src/model/ids.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait-for.js';

// Issue 23 item 4: a manifest's `priority` is the job's Temporal priority key, the submitting client
// its fairness key, on a dev server started as `fetchbox dev` starts it (temporal-cli.ts, DEV_SERVER_DYNAMIC_CONFIG). The
// worker has two activity slots, so a handful of jobs saturate it and the rest wait in Temporal's
// task queue, where priority and fairness decide the order.

const TOKENS = { a: 'token-a', b: 'token-b', ops: 'token-ops' } as const;
let origin: Origin;
let stack: Stack;
const started: string[] = [];

beforeAll(async () => {
  origin = await startOrigin();
  stack = await startStack('file', {
    FETCHBOX_WORKER_MAX_CONCURRENT_ACTIVITIES: '2',
    FETCHBOX_API_TOKENS: `crawler-a@ingest=${TOKENS.a},crawler-b@ingest=${TOKENS.b},ops@ingest+operator=${TOKENS.ops}`,
    FETCHBOX_FAIRNESS_WEIGHTS: 'crawler-a=2,crawler-b=2',
    FETCHBOX_RETRY_MAX_ATTEMPTS: '1',
  });
}, 60_000);
afterAll(async () => {
  // Jobs a test left in the queue would keep the worker's slots busy at shutdown.
  await Promise.all(
    started.map((jobId) =>
      stack?.client.workflow
        .getHandle(jobWorkflowId(jobId))
        .terminate('test over')
        .catch(() => undefined),
    ),
  );
  await stack?.close();
  await origin?.close();
}, 60_000);

/** POSTs a manifest with a client's token; answers the status and body. */
async function submitAs(token: string, manifest: Record<string, unknown>) {
  const res = await stack.app.request('/jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(manifest),
  });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status === 202) started.push(String(body.jobId));
  return { status: res.status, body };
}

/** Waits for a job's workflow to close; answers its summary (read with the operator's token). */
async function closed(jobId: string): Promise<Record<string, any>> {
  await stack.client.workflow
    .getHandle(jobWorkflowId(jobId))
    .result()
    .catch(() => undefined);
  const res = await stack.app.request(`/jobs/${jobId}`, { headers: { authorization: `Bearer ${TOKENS.ops}` } });
  return (await res.json()) as Record<string, any>;
}

/** Waits until every job's workflow has scheduled its activity (it waits in the task queue, or runs). */
async function waitScheduled(jobIds: readonly string[], ms: number): Promise<void> {
  const pending = new Set(jobIds);
  await waitFor(
    'every job to have its activity scheduled',
    async () => {
      await Promise.all(
        [...pending].map(async (jobId) => {
          const desc = await stack.client.workflow.getHandle(jobWorkflowId(jobId)).describe();
          if ((desc.raw.pendingActivities?.length ?? 0) > 0 || desc.closeTime) pending.delete(jobId);
        }),
      );
      return pending.size === 0;
    },
    { timeoutMs: ms, intervalMs: 100, report: () => `${pending.size} of ${jobIds.length} jobs have no activity scheduled yet` },
  );
}

/** The paths the origin saw, in the order of their first request (Map keeps insertion order). */
const firstHits = () => [...origin.hits.keys()];

describe('priority', () => {
  it('a priority-1 job of 10 resources closes in < 5 s while priority-5 bulk jobs fill every slot and queue behind', async () => {
    const bulk = Array.from({ length: 40 }, () => uniqueJobId('bulk'));
    for (const jobId of bulk) {
      const resources = Array.from({ length: 10 }, (_, i) => ({ url: `${origin.url}/slow/600/256/${jobId}-${i}` }));
      expect((await submitAs(TOKENS.a, { jobId, priority: 5, resources })).status).toBe(202);
    }
    await waitScheduled(bulk, 30_000);
    const touched = (jobId: string) => firstHits().some((p) => p.includes(`/${jobId}-`));
    const queued = bulk.filter((jobId) => !touched(jobId)).length;
    // FIFO would run the p1 job after these: `queued` x 0.6 s over two slots, well over 5 s.
    expect(queued, 'bulk jobs still queued when the priority-1 job is submitted').toBeGreaterThanOrEqual(20);

    const jobId = uniqueJobId('urgent');
    const resources = Array.from({ length: 10 }, (_, i) => ({ url: `${origin.url}/bytes/512/${jobId}-${i}` }));
    const t0 = Date.now();
    expect((await submitAs(TOKENS.a, { jobId, priority: 1, resources })).status).toBe(202);
    const summary = await closed(jobId);
    const elapsed = Date.now() - t0;
    const stillQueued = bulk.filter((id) => !touched(id)).length;
    process.stderr.write(`[priority] p1 job closed in ${elapsed} ms; bulk queued at submit ${queued}, after ${stillQueued}\n`);
    expect(summary).toMatchObject({ status: 'completed', resources: { succeeded: 10 } });
    expect(elapsed).toBeLessThan(5_000);
    expect(stillQueued, 'the p1 job overtook the queued bulk jobs').toBeGreaterThan(0);
  }, 120_000);
});

describe('fairness', () => {
  it('two clients of equal weight share a saturated worker within 20 %, though one queued all its jobs first', async () => {
    // Both slots held by the operator's jobs, so every job below waits in the task queue.
    const gate = uniqueJobId('gate');
    origin.held.add(gate);
    const blockers = [uniqueJobId('block'), uniqueJobId('block')];
    for (const jobId of blockers) {
      expect((await submitAs(TOKENS.ops, { jobId, resources: [{ url: `${origin.url}/hold/64/${gate}/${jobId}` }] })).status).toBe(202);
    }
    await waitFor('the blockers to take both slots', () => blockers.every((jobId) => origin.hits.has(`/hold/64/${gate}/${jobId}`)), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const jobs = { a: Array.from({ length: 30 }, () => uniqueJobId('fa')), b: Array.from({ length: 30 }, () => uniqueJobId('fb')) };
    // Client a floods the queue first; client b's jobs arrive behind all of them.
    for (const [client, ids] of Object.entries(jobs) as ['a' | 'b', string[]][]) {
      for (const jobId of ids) {
        const resources = [{ url: `${origin.url}/bytes/64/${jobId}` }];
        expect((await submitAs(TOKENS[client], { jobId, resources })).status).toBe(202);
      }
    }
    await waitScheduled([...jobs.a, ...jobs.b], 60_000);
    origin.held.delete(gate);
    await Promise.all([...jobs.a, ...jobs.b].map((jobId) => closed(jobId)));
    // The order in which the worker took the queued jobs: their first requests at the origin.
    const order = firstHits()
      .map((p) => (p.includes('/fa-') ? 'a' : p.includes('/fb-') ? 'b' : undefined))
      .filter((c): c is 'a' | 'b' => c !== undefined);
    expect(order).toHaveLength(60);
    const window = order.slice(0, 20);
    const a = window.filter((c) => c === 'a').length;
    const b = window.length - a;
    process.stderr.write(`[fairness] first 20 dispatches: a ${a}, b ${b}; order ${order.join('')}\n`);
    expect(Math.min(a, b) / Math.max(a, b), `a ${a}, b ${b} in the first 20 (order ${order.join('')})`).toBeGreaterThanOrEqual(0.8);
  }, 120_000);
});

describe('priority and fairness key of pages and retries', () => {
  /** The priority Temporal recorded for each workflow of a job (runs of the job, page children). */
  async function priorities(jobId: string): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>();
    for await (const wf of stack.client.workflow.list({ query: `WorkflowId STARTS_WITH "${jobWorkflowId(jobId)}"` })) {
      const desc = await stack.client.workflow.getHandle(wf.workflowId, wf.runId).describe();
      out.set(`${wf.workflowId} ${wf.runId}`, desc.priority);
    }
    return out;
  }

  it('page children inherit the job priority and fairness key; a retry run keeps them, whoever asks for it', async () => {
    const jobId = uniqueJobId('pages');
    const listing = `${origin.url}/listing/${jobId}?files=x,y`;
    expect((await submitAs(TOKENS.b, { jobId, handler: 'link-expander', priority: 2, resources: [{ url: listing }] })).status).toBe(202);
    expect(await closed(jobId)).toMatchObject({ status: 'completed', resources: { succeeded: 2 } });
    const first = await priorities(jobId);
    expect(first.size, [...first.keys()].join(', ')).toBeGreaterThanOrEqual(2); // the job and its page child
    for (const [id, priority] of first) expect(priority, id).toEqual({ priorityKey: 2, fairnessKey: 'crawler-b', fairnessWeight: 2 });

    const failing = uniqueJobId('retry');
    const resources = [{ url: `${origin.url}/bytes/64/${failing}` }, { url: `${origin.url}/status/404` }];
    expect((await submitAs(TOKENS.a, { jobId: failing, priority: 4, resources })).status).toBe(202);
    expect(await closed(failing)).toMatchObject({ status: 'completed_with_failures' });
    const retry = await stack.app.request(`/jobs/${failing}/retry`, { method: 'POST', headers: { authorization: `Bearer ${TOKENS.ops}` } });
    expect(retry.status).toBe(202);
    await closed(failing);
    const runs = await priorities(failing);
    // The first run, the retry run and its retry round's page child: all crawler-a's, at priority 4.
    expect(runs.size, [...runs.keys()].join(', ')).toBeGreaterThanOrEqual(3);
    for (const [id, priority] of runs) expect(priority, id).toEqual({ priorityKey: 4, fairnessKey: 'crawler-a', fairnessWeight: 2 });
  }, 60_000);

  it('a manifest without priority runs at 3, with the submitter as fairness key', async () => {
    const jobId = uniqueJobId('plain');
    expect((await submitAs(TOKENS.ops, { jobId, resources: [{ url: `${origin.url}/bytes/64/${jobId}` }] })).status).toBe(202);
    await closed(jobId);
    // Weight 0 is Temporal's "not set": the default, 1 (ops has no configured weight).
    expect([...(await priorities(jobId)).values()]).toEqual([{ priorityKey: 3, fairnessKey: 'ops', fairnessWeight: 0 }]);
  }, 30_000);
});
