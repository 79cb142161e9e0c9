import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/create-activities.js';
import { createFetcher } from '../../src/fetch/fetcher.js';
import { builtInHandlers } from '../../src/handlers/registry.js';
import type { Storage } from '../../src/storage/storage.js';
import type { BatchOutcome, DownloadBatchInput } from '../../src/model/download-types.js';
import { pageWorkflowId } from '../../src/model/ids.js';
import { contentSha256, startOrigin, type Origin } from '../support/origin.js';
import { readBack } from '../support/objects.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait-for.js';

let origin: Origin;
let stack: Stack;
beforeAll(async () => {
  origin = await startOrigin();
  // Page children with batches: a small job would otherwise run inline (inline-run.test.ts).
  stack = await startStack('file', {
    FETCHBOX_JOB_BATCH_SIZE: '10',
    FETCHBOX_JOB_CONCURRENCY: '8',
    FETCHBOX_RETRY_MAX_ATTEMPTS: '3',
    FETCHBOX_JOB_INLINE_MAX_RESOURCES: '0',
  });
});
afterAll(async () => {
  await stack?.close();
  await origin?.close();
});
afterEach(() => origin.hits.clear());

/** How many activities of each type a workflow scheduled, from its history in Temporal. */
async function activityCounts(workflowId: string): Promise<Record<string, number>> {
  const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
  const counts: Record<string, number> = {};
  for (const event of history.events ?? []) {
    const name = event.activityTaskScheduledEventAttributes?.activityType?.name;
    if (name) counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

describe('batched first attempts', () => {
  it('downloads first attempts in batches and retries only the failed resources alone', async () => {
    const jobId = uniqueJobId('batch');
    const resources = [
      ...Array.from({ length: 25 }, (_, i) => ({ id: `r${i}`, url: `${origin.url}/bytes/${100 + i}/${jobId}-${i}` })),
      { id: 'flaky', url: `${origin.url}/flaky/1/503/64/${jobId}-flaky` },
      { id: 'gone', url: `${origin.url}/status/404/${jobId}-gone` },
      { id: 'down', url: `${origin.url}/status/500/${jobId}-down` },
    ];
    expect((await stack.submit({ jobId, resources })).status).toBe(202);
    const summary = await stack.waitForJob(jobId);
    expect(summary.resources).toMatchObject({ total: 28, succeeded: 26, failed: 2 });

    // Concurrency 8 over 2 pages: a window of 4, one lane per batch, so 28 tasks run as 4 batches
    // of 7 (at most 10) to fill the window; only the 503 and the 500 were retried alone.
    const counts = await activityCounts(pageWorkflowId(jobId, 0, 0));
    expect(counts).toMatchObject({ loadPage: 1, downloadBatch: 4, downloadResource: 2 });

    const states = new Map((await stack.allResources(jobId)).map((s) => [s.id as string, s]));
    expect(states.get('r7')).toMatchObject({ status: 'succeeded', attempts: 1, bytes: 107, sha256: contentSha256(`${jobId}-7`, 107) });
    expect(await readBack(stack.storage, states.get('r7')!.key as string)).toEqual({
      sha256: contentSha256(`${jobId}-7`, 107),
      bytes: 107,
    });
    expect(states.get('flaky')).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(states.get('gone')).toMatchObject({ status: 'failed', attempts: 1, error: { kind: 'http_status', httpStatus: 404 } });
    expect(states.get('down')).toMatchObject({ status: 'failed', attempts: 3, error: { kind: 'retries_exhausted', httpStatus: 500 } });
    // Attempts count the batch's first one: three requests in all for three attempts.
    expect(origin.hits.get(`/status/500/${jobId}-down`)).toBe(3);
    expect(origin.hits.get(`/status/404/${jobId}-gone`)).toBe(1);
    expect(origin.hits.get(`/bytes/107/${jobId}-7`)).toBe(1);
  });

  it('with a single attempt allowed, a retryable failure in a batch is final after one request', async () => {
    const once = await startStack('file', {
      FETCHBOX_JOB_BATCH_SIZE: '10',
      FETCHBOX_RETRY_MAX_ATTEMPTS: '1',
      FETCHBOX_JOB_INLINE_MAX_RESOURCES: '0',
    });
    try {
      const jobId = uniqueJobId('batch-once');
      const resources = [
        { id: 'down', url: `${origin.url}/status/500/${jobId}-down` },
        { id: 'short', url: `${origin.url}/truncate/5/20000/${jobId}-short` },
        { id: 'ok', url: `${origin.url}/bytes/10/${jobId}-ok` },
      ];
      await once.submit({ jobId, resources });
      await once.waitForJob(jobId);
      const states = new Map((await once.allResources(jobId)).map((s) => [s.id as string, s]));
      expect(states.get('down')).toMatchObject({ status: 'failed', attempts: 1, error: { kind: 'retries_exhausted', httpStatus: 500 } });
      expect(states.get('short')).toMatchObject({ status: 'failed', attempts: 1, error: { kind: 'truncated' } });
      expect(states.get('ok')).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(origin.hits.get(`/status/500/${jobId}-down`)).toBe(1);
      expect(await activityCounts(pageWorkflowId(jobId, 0, 0))).not.toHaveProperty('downloadResource');
    } finally {
      await once.close();
    }
  });
});

describe('downloadBatch resumed after a crash', () => {
  it('skips what its last heartbeat settled and downloads only the rest', async () => {
    const fetcher = createFetcher(stack.config.fetch);
    const activities = createActivities({ storage: stack.storage, fetcher, handlers: builtInHandlers(), client: stack.client });
    const jobId = uniqueJobId('resume');
    // The last one answers after 1.5 s: the batch outlives the heartbeat interval.
    const tasks = Array.from({ length: 6 }, (_, i) => ({
      id: `t${i}`,
      url: i === 5 ? `${origin.url}/slow/1500/50/${jobId}-${i}` : `${origin.url}/bytes/50/${jobId}-${i}`,
      key: `${jobId}/t${i}`,
    }));
    const input: DownloadBatchInput = {
      jobId,
      handler: 'default',
      tasks,
      maxBytes: 1 << 20,
      proxyTiers: ['direct'],
      attemptsPerTier: 1,
      concurrency: 2,
      attemptTimeoutMs: 10_000,
    };
    // What an earlier attempt of this activity heartbeated before its worker died.
    const settled: BatchOutcome[] = [
      { index: 0, ok: { tier: 'direct', bytes: 50, sha256: 'from-heartbeat', attempts: 1 } },
      { index: 2, failed: { kind: 'http_status', message: 'HTTP 404', httpStatus: 404 } },
    ];
    try {
      const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: settled });
      const beats: unknown[] = [];
      env.on('heartbeat', (d: unknown) => beats.push(d));
      const outcomes: BatchOutcome[] = await env.run(activities.downloadBatch, input);

      expect(outcomes.map((o) => o.index).sort()).toEqual([0, 1, 2, 3, 4, 5]);
      expect(outcomes.find((o) => o.index === 0)).toEqual(settled[0]);
      expect(outcomes.find((o) => o.index === 2)).toEqual(settled[1]);
      for (const i of [1, 3, 4, 5]) {
        expect(outcomes.find((o) => o.index === i)).toMatchObject({
          ok: { bytes: 50, sha256: contentSha256(`${jobId}-${i}`, 50), attempts: 1 },
        });
      }
      expect(origin.hits.has(`/bytes/50/${jobId}-0`)).toBe(false);
      expect(origin.hits.has(`/bytes/50/${jobId}-2`)).toBe(false);
      expect(origin.hits.get(`/bytes/50/${jobId}-3`)).toBe(1);
      // Progress is heartbeated (once a second, not in the first second), so a crash would resume
      // from there; every beat carries what the earlier attempt had settled.
      expect(beats.length).toBeGreaterThan(0);
      for (const beat of beats) expect((beat as BatchOutcome[]).map((o) => o.index)).toEqual(expect.arrayContaining([0, 2]));
    } finally {
      await fetcher.close();
    }
  });
});

describe('a retried activity and objects its page run already stored', () => {
  it('keeps an object an earlier attempt of the same run stored (its completion was lost), and downloads again for another run', async () => {
    const fetcher = createFetcher(stack.config.fetch);
    const activities = createActivities({ storage: stack.storage, fetcher, handlers: builtInHandlers(), client: stack.client });
    const jobId = uniqueJobId('lost');
    const tasks = Array.from({ length: 4 }, (_, i) => ({
      id: `t${i}`,
      url: `${origin.url}/bytes/64/${jobId}-${i}`,
      key: `${jobId}/t${i}`,
    }));
    const input: DownloadBatchInput = {
      jobId,
      handler: 'default',
      tasks,
      maxBytes: 1 << 20,
      proxyTiers: ['direct'],
      attemptsPerTier: 1,
      concurrency: 2,
      attemptTimeoutMs: 10_000,
    };
    const run = (attempt: number, runId: string) =>
      new MockActivityEnvironment({ attempt, workflowExecution: { workflowId: `job-${jobId}/p000000`, runId } });
    const hits = (i: number) => origin.hits.get(`/bytes/64/${jobId}-${i}`) ?? 0;
    try {
      // Attempt 1 stores every object, then (as if the worker died) its result never arrives.
      await run(1, 'run-a').run(activities.downloadBatch, input);
      expect(tasks.map((_, i) => hits(i))).toEqual([1, 1, 1, 1]);

      // Attempt 2 of the same run, with no heartbeat: nothing is fetched again.
      const resumed: BatchOutcome[] = await run(2, 'run-a').run(activities.downloadBatch, input);
      expect(tasks.map((_, i) => hits(i))).toEqual([1, 1, 1, 1]);
      for (const [i] of tasks.entries()) {
        expect(resumed.find((o) => o.index === i)).toMatchObject({
          ok: { tier: 'resumed', bytes: 64, sha256: contentSha256(`${jobId}-${i}`, 64) },
        });
      }
      const lone = await run(3, 'run-a').run(activities.downloadResource, { ...input, task: tasks[0]! });
      expect(lone).toMatchObject({ tier: 'resumed', attempts: 3, sha256: contentSha256(`${jobId}-0`, 64) });
      expect(hits(0)).toBe(1);

      // Another run (a retry round, a resubmitted job) never trusts them: it downloads.
      await run(2, 'run-b').run(activities.downloadBatch, input);
      expect(tasks.map((_, i) => hits(i))).toEqual([2, 2, 2, 2]);
      // A first attempt never looks: it is the only one that can have stored nothing yet.
      await run(1, 'run-b').run(activities.downloadResource, { ...input, task: tasks[1]! });
      expect(hits(1)).toBe(3);
      expect(await readBack(stack.storage, tasks[1]!.key)).toEqual({ bytes: 64, sha256: contentSha256(`${jobId}-1`, 64) });
    } finally {
      await fetcher.close();
    }
  });
});

describe('downloadBatch with pauseOnRetryAfter (polite pages)', () => {
  it('starts no more downloads to a host that answered with Retry-After and leaves them out, unattempted', async () => {
    const fetcher = createFetcher(stack.config.fetch);
    const activities = createActivities({ storage: stack.storage, fetcher, handlers: builtInHandlers(), client: stack.client });
    const port = new URL(origin.url).port;
    const a = `http://127.0.0.1:${port}`;
    const b = `http://localhost:${port}`;
    const batchOf = (jobId: string): DownloadBatchInput => ({
      jobId,
      handler: 'default',
      tasks: [
        `${a}/bytes/10/${jobId}-0`,
        `${a}/flaky/1/429/10/${jobId}-1?retryAfter=30`,
        `${a}/bytes/10/${jobId}-2`,
        `${b}/flaky/1/503/10/${jobId}-3`, // retryable without Retry-After: no pause
        `${a}/bytes/10/${jobId}-4`,
        `${b}/bytes/10/${jobId}-5`,
      ].map((url, i) => ({ id: `t${i}`, url, key: `${jobId}/t${i}` })),
      maxBytes: 1 << 20,
      proxyTiers: ['direct'],
      attemptsPerTier: 1,
      concurrency: 1,
      attemptTimeoutMs: 10_000,
    });
    try {
      const jobId = uniqueJobId('pause');
      const outcomes: BatchOutcome[] = await new MockActivityEnvironment().run(activities.downloadBatch, {
        ...batchOf(jobId),
        pauseOnRetryAfter: true,
      });
      expect(outcomes.map((o) => o.index).sort()).toEqual([0, 1, 3, 5]);
      expect(outcomes.find((o) => o.index === 1)).toMatchObject({ retry: { httpStatus: 429, retryAfterMs: 30_000 } });
      expect(outcomes.find((o) => o.index === 3)).toMatchObject({ retry: { httpStatus: 503 } });
      expect(outcomes.find((o) => o.index === 5)).toMatchObject({ ok: { bytes: 10 } });
      expect(origin.hits.has(`/bytes/10/${jobId}-2`)).toBe(false);
      expect(origin.hits.has(`/bytes/10/${jobId}-4`)).toBe(false);

      // Without the flag (unpolite batches) every task is attempted, as before.
      const plain = uniqueJobId('nopause');
      const all: BatchOutcome[] = await new MockActivityEnvironment().run(activities.downloadBatch, batchOf(plain));
      expect(all.map((o) => o.index).sort()).toEqual([0, 1, 2, 3, 4, 5]);
      expect(origin.hits.get(`/bytes/10/${plain}-4`)).toBe(1);
    } finally {
      await fetcher.close();
    }
  });
});

describe('downloadBatch with overlapCommits (polite pages)', () => {
  it("starts the next request once a body is received whole, beside the previous object's storage commit", async () => {
    const fetcher = createFetcher(stack.config.fetch);
    const jobId = uniqueJobId('overlap');
    const path = (i: number) => `/bytes/10/${jobId}-${i}`;
    // A store whose commit of task i finishes only once the origin has seen task i + 1's request
    // (or after 5 s, and then the order below says so): the overlap the lanes must allow.
    const seenBeforeCommitted: boolean[] = [];
    const real = stack.storage;
    const storage = Object.create(real, {
      put: {
        value: async (input: Parameters<Storage['put']>[0]) => {
          const stored = await real.put(input);
          const i = Number(/-(\d+)$/.exec(input.key)?.[1]);
          if (i < 3) {
            // Bounded: past 5 s the commit goes on, and the order asserted below fails.
            await waitFor(`task ${i + 1}'s request`, () => origin.hits.has(path(i + 1)), { timeoutMs: 5_000, intervalMs: 5 }).catch(
              () => undefined,
            );
            seenBeforeCommitted[i] = origin.hits.has(path(i + 1));
          }
          return stored;
        },
      },
    }) as Storage;
    const activities = createActivities({ storage, fetcher, handlers: builtInHandlers(), client: stack.client });
    const input: DownloadBatchInput = {
      jobId,
      handler: 'default',
      tasks: Array.from({ length: 4 }, (_, i) => ({ id: `t${i}`, url: `${origin.url}${path(i)}`, key: `${jobId}/t-${i}` })),
      maxBytes: 1 << 20,
      proxyTiers: ['direct'],
      attemptsPerTier: 1,
      concurrency: 1,
      attemptTimeoutMs: 10_000,
      overlapCommits: true,
    };
    try {
      const outcomes: BatchOutcome[] = await new MockActivityEnvironment().run(activities.downloadBatch, input);
      expect(outcomes.filter((o) => 'ok' in o)).toHaveLength(4);
      expect(seenBeforeCommitted).toEqual([true, true, true]);
      for (let i = 0; i < 4; i++) expect(origin.hits.get(path(i))).toBe(1);
    } finally {
      await fetcher.close();
    }
  });
});
