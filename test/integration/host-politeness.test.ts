import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostCoordinatorId } from '../../src/model/ids.js';
import { hitsUnder, startOrigin, type Origin } from '../support/origin.js';
import { startApi, startStack, type Api } from '../support/stack.js';
import { waitFor } from '../support/wait-for.js';
import { WorkerProcesses, workerEnv } from '../support/worker-processes.js';

// Politeness per host across every job and worker (docs/jobs.md#politeness): FETCHBOX_HOST_CONCURRENCY
// is held at the origin by the hosts' coordinator workflows and each worker's broker. Worker
// processes run dist/ (npm run build first). Each test has its own origin, so its own host and
// coordinator (`host-127.0.0.1:<port>`).

const LEASE_MS = 3_000;

/** The host key the origin measures `/slow/` concurrency by (its Host header, then the name's stem). */
const slowKey = (origin: Origin, stem: string) => `${new URL(origin.url).host} ${stem}`;

/** Worker process settings of this file: short host leases and job heartbeats, logs down to info (the start line). */
function hostWorkerEnv(dir: string, taskQueue: string, extra: Record<string, string> = {}): Record<string, string> {
  return workerEnv(taskQueue, `file://${dir}`, {
    FETCHBOX_HOST_LEASE_MS: String(LEASE_MS),
    FETCHBOX_JOB_HEARTBEAT_TIMEOUT_MS: '2000',
    FETCHBOX_RETRY_INITIAL_INTERVAL_MS: '100',
    FETCHBOX_RETRY_MAX_INTERVAL_MS: '1000',
    FETCHBOX_LOG_LEVEL: 'info',
    ...extra,
  });
}

describe('FETCHBOX_HOST_CONCURRENCY=2 across three jobs and two worker processes', () => {
  const workers = new WorkerProcesses();
  let dir: string;
  let env: Record<string, string>;
  let api: Api;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-hosts-'));
    // Batches of 5 and 4 activity slots a worker: each job's downloads spread over both workers
    // (as page children: a small job run inline would be one activity on one worker).
    env = hostWorkerEnv(dir, `hosts-${randomUUID()}`, {
      FETCHBOX_HOST_CONCURRENCY: '2',
      FETCHBOX_JOB_INLINE_MAX_RESOURCES: '0',
      FETCHBOX_JOB_BATCH_SIZE: '5',
      FETCHBOX_WORKER_MAX_CONCURRENT_ACTIVITIES: '4',
    });
    workers.start({ ...env, FETCHBOX_FETCH_USER_AGENT: 'worker-1' });
    workers.start({ ...env, FETCHBOX_FETCH_USER_AGENT: 'worker-2' });
    api = await startApi(env, { app: { bodyLimitBytes: 1 << 26 } });
    // Both poll before the first job, so both can take its batches.
    await waitFor('both workers running', () => workers.report().split('worker running').length - 1 === 2, {
      timeoutMs: 60_000,
      intervalMs: 10,
      report: () => workers.report(),
    });
  });
  afterAll(async () => {
    workers.killAll();
    await api?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the origin never sees more than 2 requests at once, all three jobs complete, and both workers downloaded', async () => {
    const origin = await startOrigin();
    try {
      const run = randomUUID().slice(0, 8);
      const jobs = [0, 1, 2].map((j) => ({
        jobId: `hosts-${run}-${j}`,
        // One name stem for every job: the origin measures their requests together.
        resources: Array.from({ length: 40 }, (_, i) => ({ url: `${origin.url}/slow/60/512/limit${run}-${j * 100 + i}`, id: `r${i}` })),
      }));
      await Promise.all(jobs.map((job) => api.accept(job)));
      const summaries = await Promise.all(
        jobs.map((job) => api.waitClosed(job.jobId, { timeoutMs: 90_000, report: () => workers.report() })),
      );
      for (const s of summaries) expect(s).toMatchObject({ status: 'completed', resources: { total: 40, succeeded: 40, failed: 0 } });
      expect(hitsUnder(origin, `/slow/60/512/limit${run}-`)).toBe(120);
      expect(origin.maxInFlight.get(slowKey(origin, `limit${run}`))).toBe(2);
      const agents = new Set([...origin.lastHeaders.values()].map((h) => h['user-agent']));
      expect(agents, `both worker processes downloaded from the host\n${workers.report()}`).toEqual(new Set(['worker-1', 'worker-2']));
      // The host's coordinator exists (it is what the next test's absence check looks for).
      const desc = await api.client.workflow.getHandle(hostCoordinatorId(new URL(origin.url).host)).describe();
      expect(desc.type).toBe('hostCoordinatorWorkflow');
    } finally {
      await origin.close();
    }
  });

  it("a 429 with Retry-After to one job pauses the other jobs' downloads from the host", async () => {
    const origin = await startOrigin();
    try {
      const run = randomUUID().slice(0, 8);
      const retryAfterS = 3;
      const throttled = `/flaky/1/429/512/throttled${run}`;
      await api.accept({ jobId: `throttled-${run}`, resources: [{ url: `${origin.url}${throttled}?retryAfter=${retryAfterS}` }] });
      await waitFor('the 429', () => (origin.hits.get(throttled) ?? 0) >= 1, {
        timeoutMs: 30_000,
        intervalMs: 10,
        report: () => workers.report(),
      });
      const throttledAt = Date.now();
      const others = `/slow/20/512/other${run}-`;
      await Promise.all(
        [0, 1].map((j) =>
          api.accept({
            jobId: `other-${run}-${j}`,
            resources: Array.from({ length: 10 }, (_, i) => ({ url: `${origin.url}${others}${j * 100 + i}`, id: `r${i}` })),
          }),
        ),
      );
      await waitFor('a request of the other jobs', () => hitsUnder(origin, others) > 0, {
        timeoutMs: 30_000,
        intervalMs: 10,
        report: () => workers.report(),
      });
      const firstOtherAfterMs = Date.now() - throttledAt;
      for (const id of [`throttled-${run}`, `other-${run}-0`, `other-${run}-1`]) {
        expect(await api.waitClosed(id, { timeoutMs: 60_000, report: () => workers.report() })).toMatchObject({ status: 'completed' });
      }
      // The pause lasts until the Retry-After; a little slack for the 10 ms polls above.
      expect(firstOtherAfterMs, 'the other jobs waited out the Retry-After').toBeGreaterThanOrEqual(retryAfterS * 1000 - 100);
      expect(origin.hits.get(throttled)).toBe(2);
    } finally {
      await origin.close();
    }
  });
});

describe('no host limit configured', () => {
  it('jobs download without any coordinator workflow', async () => {
    const origin = await startOrigin();
    const stack = await startStack('file');
    try {
      const jobId = `free-${randomUUID().slice(0, 8)}`;
      const resources = Array.from({ length: 30 }, (_, i) => ({ url: `${origin.url}/slow/30/256/free-${i}`, id: `r${i}` }));
      expect((await stack.submit({ jobId, resources })).status).toBe(202);
      expect(await stack.waitForJob(jobId)).toMatchObject({ status: 'completed', resources: { succeeded: 30 } });
      expect(origin.maxInFlight.get(slowKey(origin, 'free'))).toBeGreaterThan(2);
      await expect(stack.client.workflow.getHandle(hostCoordinatorId(new URL(origin.url).host)).describe()).rejects.toBeInstanceOf(
        WorkflowNotFoundError,
      );
    } finally {
      await stack.close();
      await origin.close();
    }
  });
});

describe('a worker killed while it holds the host permit', () => {
  const workers = new WorkerProcesses();
  let dir: string;
  afterAll(async () => {
    workers.killAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(`its permit comes back after the lease time (${LEASE_MS} ms) and the job completes`, async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-hosts-kill-'));
    const env = hostWorkerEnv(dir, `hosts-kill-${randomUUID()}`, { FETCHBOX_HOST_CONCURRENCY: '1' });
    const children = [1, 2].map((n) => workers.start({ ...env, FETCHBOX_FETCH_USER_AGENT: `worker-${n}` }));
    const api = await startApi(env, { app: { bodyLimitBytes: 1 << 26 } });
    await waitFor('both workers running', () => workers.report().split('worker running').length - 1 === 2, {
      timeoutMs: 60_000,
      intervalMs: 10,
      report: () => workers.report(),
    });
    const origin = await startOrigin();
    try {
      const jobId = `hosts-kill-${randomUUID().slice(0, 8)}`;
      const prefix = `/slow/1500/512/kill-`;
      await api.accept({ jobId, resources: Array.from({ length: 4 }, (_, i) => ({ url: `${origin.url}${prefix}${i}`, id: `r${i}` })) });
      await waitFor('the first request', () => hitsUnder(origin, prefix) > 0, {
        timeoutMs: 60_000,
        intervalMs: 10,
        report: () => workers.report(),
      });
      const [firstPath] = [...origin.hits.keys()].filter((p) => p.startsWith(prefix));
      const holder = origin.lastHeaders.get(firstPath!)!['user-agent'];
      await workers.kill(children[holder === 'worker-1' ? 0 : 1]!);
      const killedAt = Date.now();
      await waitFor('a request after the kill', () => hitsUnder(origin, prefix) > 1, {
        timeoutMs: 60_000,
        intervalMs: 10,
        report: () => workers.report(),
      });
      const nextAfterMs = Date.now() - killedAt;
      const summary = await api.waitClosed(jobId, { timeoutMs: 90_000, report: () => workers.report() });
      expect(summary).toMatchObject({ status: 'completed', resources: { total: 4, succeeded: 4, failed: 0 } });
      expect(origin.maxInFlight.get(slowKey(origin, 'kill'))).toBe(1);
      // The dead worker's lease was renewed at most a third of a lease before the kill.
      expect(nextAfterMs, 'the permit stayed with the dead worker until its lease ran out').toBeGreaterThanOrEqual(
        (LEASE_MS * 2) / 3 - 100,
      );
    } finally {
      await origin.close();
      await api.close();
    }
  });
});
