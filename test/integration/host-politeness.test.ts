import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { JobService } from '../../src/api/job-service.js';
import { loadConfig } from '../../src/config/load-config.js';
import { builtInHandlers } from '../../src/handlers/registry.js';
import { createStorage } from '../../src/storage/store-registry.js';
import { hostCoordinatorId } from '../../src/model/ids.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { startStack } from '../support/stack.js';
import { WorkerProcesses } from '../support/worker-processes.js';

// Politeness per host across every job and worker (docs/jobs.md#politeness): FETCHBOX_HOST_CONCURRENCY
// is held at the origin by the hosts' coordinator workflows and each worker's broker. Worker
// processes run dist/ (npm run build first). Each test has its own origin, so its own host and
// coordinator (`host-127.0.0.1:<port>`).

const LEASE_MS = 3_000;

/** An API (app + client) on a task queue; jobs run on the worker processes polling it. */
async function apiFor(env: Record<string, string>) {
  const config = loadConfig(env);
  const storage = createStorage(config.storage);
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const app = createApp({
    jobs: new JobService({ client, storage, handlers: builtInHandlers(), config }),
    logger: pino({ level: 'silent' }),
    bodyLimitBytes: 1 << 26,
    checks: [],
  });
  const summary = async (jobId: string) => (await (await app.request(`/jobs/${jobId}`)).json()) as Record<string, any>;
  return {
    client,
    async submit(manifest: unknown) {
      const res = await app.request('/jobs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(manifest),
      });
      expect(res.status, await res.clone().text()).toBe(202);
    },
    async waitClosed(jobId: string, deadlineMs: number) {
      const until = Date.now() + deadlineMs;
      for (;;) {
        const s = await summary(jobId).catch(() => ({ status: 'unknown' }));
        if (s.status !== 'running' && s.status !== 'unknown') return s;
        if (Date.now() > until) throw new Error(`job ${jobId} still ${s.status} after ${deadlineMs} ms: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async close() {
      await connection.close();
      await storage.close();
    },
  };
}

/** Polls `check` every 10 ms until it holds; the failure says what was waited for. */
async function waitFor(what: string, check: () => boolean, timeoutMs: number, report = () => ''): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${report()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Requests the origin received for paths starting with `prefix`. */
function hitsOf(origin: Origin, prefix: string): number {
  let n = 0;
  for (const [p, hits] of origin.hits) if (p.startsWith(prefix)) n += hits;
  return n;
}

/** The host key the origin measures `/slow/` concurrency by (its Host header, then the name's stem). */
const slowKey = (origin: Origin, stem: string) => `${new URL(origin.url).host} ${stem}`;

function workerEnv(dir: string, taskQueue: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: taskQueue,
    FETCHBOX_STORAGE_URL: `file://${dir}`,
    FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.0/8',
    FETCHBOX_HOST_LEASE_MS: String(LEASE_MS),
    FETCHBOX_JOB_HEARTBEAT_TIMEOUT_MS: '2000',
    FETCHBOX_RETRY_INITIAL_INTERVAL_MS: '100',
    FETCHBOX_RETRY_MAX_INTERVAL_MS: '1000',
    FETCHBOX_WORKER_METRICS_PORT: '-1',
    FETCHBOX_LOG_LEVEL: 'info',
    FETCHBOX_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    ...extra,
  };
}

describe('FETCHBOX_HOST_CONCURRENCY=2 across three jobs and two worker processes', () => {
  const workers = new WorkerProcesses();
  let dir: string;
  let env: Record<string, string>;
  let api: Awaited<ReturnType<typeof apiFor>>;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-hosts-'));
    // Batches of 5 and 4 activity slots a worker: each job's downloads spread over both workers
    // (as page children: a small job run inline would be one activity on one worker).
    env = workerEnv(dir, `hosts-${randomUUID()}`, {
      FETCHBOX_HOST_CONCURRENCY: '2',
      FETCHBOX_JOB_INLINE_MAX_RESOURCES: '0',
      FETCHBOX_JOB_BATCH_SIZE: '5',
      FETCHBOX_WORKER_MAX_CONCURRENT_ACTIVITIES: '4',
    });
    workers.start({ ...env, FETCHBOX_FETCH_USER_AGENT: 'worker-1' });
    workers.start({ ...env, FETCHBOX_FETCH_USER_AGENT: 'worker-2' });
    api = await apiFor(env);
    // Both poll before the first job, so both can take its batches.
    await waitFor(
      'both workers running',
      () => workers.report().split('worker running').length - 1 === 2,
      60_000,
      () => workers.report(),
    );
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
      await Promise.all(jobs.map((job) => api.submit(job)));
      const summaries = await Promise.all(
        jobs.map((job) =>
          api.waitClosed(job.jobId, 90_000).catch((err: Error) => {
            throw new Error(`${err.message}\n${workers.report()}`, { cause: err });
          }),
        ),
      );
      for (const s of summaries) expect(s).toMatchObject({ status: 'completed', resources: { total: 40, succeeded: 40, failed: 0 } });
      expect(hitsOf(origin, `/slow/60/512/limit${run}-`)).toBe(120);
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
      await api.submit({ jobId: `throttled-${run}`, resources: [{ url: `${origin.url}${throttled}?retryAfter=${retryAfterS}` }] });
      await waitFor(
        'the 429',
        () => (origin.hits.get(throttled) ?? 0) >= 1,
        30_000,
        () => workers.report(),
      );
      const throttledAt = Date.now();
      const others = `/slow/20/512/other${run}-`;
      await Promise.all(
        [0, 1].map((j) =>
          api.submit({
            jobId: `other-${run}-${j}`,
            resources: Array.from({ length: 10 }, (_, i) => ({ url: `${origin.url}${others}${j * 100 + i}`, id: `r${i}` })),
          }),
        ),
      );
      await waitFor(
        'a request of the other jobs',
        () => hitsOf(origin, others) > 0,
        30_000,
        () => workers.report(),
      );
      const firstOtherAfterMs = Date.now() - throttledAt;
      for (const id of [`throttled-${run}`, `other-${run}-0`, `other-${run}-1`]) {
        expect(await api.waitClosed(id, 60_000)).toMatchObject({ status: 'completed' });
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
    const env = workerEnv(dir, `hosts-kill-${randomUUID()}`, { FETCHBOX_HOST_CONCURRENCY: '1' });
    const children = [1, 2].map((n) => workers.start({ ...env, FETCHBOX_FETCH_USER_AGENT: `worker-${n}` }));
    const api = await apiFor(env);
    await waitFor(
      'both workers running',
      () => workers.report().split('worker running').length - 1 === 2,
      60_000,
      () => workers.report(),
    );
    const origin = await startOrigin();
    try {
      const jobId = `hosts-kill-${randomUUID().slice(0, 8)}`;
      const prefix = `/slow/1500/512/kill-`;
      await api.submit({ jobId, resources: Array.from({ length: 4 }, (_, i) => ({ url: `${origin.url}${prefix}${i}`, id: `r${i}` })) });
      await waitFor(
        'the first request',
        () => hitsOf(origin, prefix) > 0,
        60_000,
        () => workers.report(),
      );
      const [firstPath] = [...origin.hits.keys()].filter((p) => p.startsWith(prefix));
      const holder = origin.lastHeaders.get(firstPath!)!['user-agent'];
      await workers.kill(children[holder === 'worker-1' ? 0 : 1]!);
      const killedAt = Date.now();
      await waitFor(
        'a request after the kill',
        () => hitsOf(origin, prefix) > 1,
        60_000,
        () => workers.report(),
      );
      const nextAfterMs = Date.now() - killedAt;
      const summary = await api.waitClosed(jobId, 90_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${workers.report()}`, { cause: err });
      });
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
