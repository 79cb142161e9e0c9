import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findTemporalCli, projectRoot } from '../../src/temporal/temporal-cli.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

// Guards every change to workflow code: histories recorded from real runs are replayed against the
// current workflow bundle, and a non-deterministic change fails here. Re-record deliberately
// (after versioning the change with `patched()`, registered in src/workflows/patches.ts), see
// docs/testing.md:
//   FETCHBOX_RECORD_HISTORIES=1 npx vitest run --project integration test/integration/replay.test.ts
const dir = path.join(projectRoot, 'test', 'fixtures', 'histories');
const recording = process.env.FETCHBOX_RECORD_HISTORIES === '1';
/** Recordings are dated (FETCHBOX_RECORD_STAMP overrides, for a second set on one day), so new ones join the live ones instead of replacing them: older histories keep guarding the jobs still running on them. */
const stamp = process.env.FETCHBOX_RECORD_STAMP ?? new Date().toISOString().slice(0, 10).replace(/-/g, '');

describe.runIf(recording)('recording histories', () => {
  let origin: Origin;
  let stack: Stack;
  beforeAll(async () => {
    origin = await startOrigin();
    stack = await startStack('file', { FETCHBOX_JOB_PAGE_SIZE: '5', FETCHBOX_RETRY_MAX_ATTEMPTS: '2' });
  });
  afterAll(async () => {
    await stack?.close();
    await origin?.close();
  });

  /** Saves every run of the job workflow and of its page workflows (or of the workflows whose id starts with `prefix`). */
  async function save(scenario: string, jobId: string, on: Stack = stack, prefix = `job-${jobId}`): Promise<void> {
    let n = 0;
    for await (const wf of on.client.workflow.list({ query: `WorkflowId STARTS_WITH "${prefix}"` })) {
      // The CLI writes the proto3 JSON form that historyFromJSON reads.
      const json = execFileSync(
        findTemporalCli()!,
        [
          'workflow',
          'show',
          '--address',
          inject('temporalAddress'),
          '--workflow-id',
          wf.workflowId,
          '--run-id',
          wf.runId,
          '--output',
          'json',
        ],
        { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      );
      writeFileSync(path.join(dir, `${scenario}-${stamp}-${String(n++).padStart(2, '0')}.json`), json);
    }
  }

  it('records a job with pages, continue-as-new, failures and a retry round', async () => {
    const jobId = uniqueJobId('replay-retry');
    const name = `${jobId}-sw`;
    origin.broken.add(name);
    const resources = [
      ...Array.from({ length: 48 }, (_, i) => ({ url: `${origin.url}/bytes/${i * 10}/${jobId}-${i}` })),
      { url: `${origin.url}/switch/10/${name}` },
      { url: `${origin.url}/status/500/${jobId}` },
    ];
    await stack.submit({ jobId, resources });
    await stack.waitForJob(jobId);
    origin.broken.delete(name);
    await stack.app.request(`/jobs/${jobId}/retry`, { method: 'POST' });
    await stack.waitForJob(jobId);
    await save('retry', jobId);
  });

  it('records a retry Update sent to a running job', async () => {
    const jobId = uniqueJobId('replay-update');
    const resources = [
      ...Array.from({ length: 8 }, (_, i) => ({ url: `${origin.url}/slow/300/10/${jobId}-${i}` })),
      { url: `${origin.url}/flaky/1/404/10/${jobId}` },
    ];
    await stack.submit({ jobId, resources });
    const retry = await stack.app.request(`/jobs/${jobId}/retry`, { method: 'POST' });
    expect(await retry.json()).toMatchObject({ status: 'running', retrying: true });
    await stack.waitForJob(jobId);
    await save('update', jobId);
  });

  it('records a job with per-host politeness', async () => {
    const polite = await startStack('file', { FETCHBOX_JOB_PAGE_SIZE: '6', FETCHBOX_JOB_PER_HOST_CONCURRENCY: '2' });
    try {
      const jobId = uniqueJobId('replay-polite');
      const port = new URL(origin.url).port;
      const resources = Array.from({ length: 12 }, (_, i) => ({
        url: `http://${i % 2 ? 'localhost' : '127.0.0.1'}:${port}/slow/50/10/${jobId}-${i}`,
      }));
      await polite.submit({ jobId, resources });
      await polite.waitForJob(jobId);
      await save('polite', jobId, polite);
    } finally {
      await polite.close();
    }
  });

  it("records a host's coordinator (politeness across jobs and workers) with a Retry-After, until it closes idle", async () => {
    // Its own origin: its own host, so its own coordinator. A short lease, so renewals add up.
    const hostOrigin = await startOrigin();
    const hosts = await startStack('file', {
      FETCHBOX_HOST_CONCURRENCY: '2',
      FETCHBOX_HOST_LEASE_MS: '1500',
      FETCHBOX_JOB_BATCH_SIZE: '4',
    });
    try {
      const jobIds = [uniqueJobId('replay-hosts'), uniqueJobId('replay-hosts')];
      await hosts.submit({
        jobId: jobIds[0],
        resources: [
          { url: `${hostOrigin.url}/flaky/1/429/10/${jobIds[0]}?retryAfter=1` },
          ...Array.from({ length: 20 }, (_, i) => ({ url: `${hostOrigin.url}/slow/100/10/${jobIds[0]}-${i}` })),
        ],
      });
      await hosts.submit({
        jobId: jobIds[1],
        resources: Array.from({ length: 20 }, (_, i) => ({ url: `${hostOrigin.url}/slow/100/10/${jobIds[1]}-${i}` })),
      });
      for (const id of jobIds) await hosts.waitForJob(id);
      const coordinator = hosts.client.workflow.getHandle(`host-${new URL(hostOrigin.url).host}`);
      await coordinator.result(); // it closes once idle for a lease time
      await save('hosts', jobIds[0]!, hosts, `host-${new URL(hostOrigin.url).host}`);
    } finally {
      await hosts.close();
      await hostOrigin.close();
    }
  });

  it('records a polite job whose host answers 429 with Retry-After inside a batch', async () => {
    const polite = await startStack('file', { FETCHBOX_JOB_PER_HOST_CONCURRENCY: '1', FETCHBOX_RETRY_MAX_ATTEMPTS: '2' });
    try {
      const jobId = uniqueJobId('replay-polite-pause');
      const resources = Array.from({ length: 6 }, (_, i) => ({
        url: i === 2 ? `${origin.url}/flaky/1/429/10/${jobId}-${i}?retryAfter=1` : `${origin.url}/bytes/10/${jobId}-${i}`,
      }));
      await polite.submit({ jobId, resources });
      expect((await polite.waitForJob(jobId)).status).toBe('completed');
      await save('polite-pause', jobId, polite);
    } finally {
      await polite.close();
    }
  });

  it('records a small job carried inline in the workflow input', async () => {
    const inline = await startStack('file');
    try {
      const jobId = uniqueJobId('replay-inline');
      const resources = [
        ...Array.from({ length: 4 }, (_, i) => ({ url: `${origin.url}/bytes/${i * 10}/${jobId}-${i}` })),
        { url: `${origin.url}/status/404/${jobId}` },
        { url: `${origin.url}/flaky/1/503/10/${jobId}` },
      ];
      await inline.submit({ jobId, resources });
      await inline.waitForJob(jobId);
      // A retry of the closed job: a new run carrying the inline round, its retry round a page child.
      await inline.app.request(`/jobs/${jobId}/retry`, { method: 'POST' });
      await inline.waitForJob(jobId);
      await save('inline', jobId, inline);
    } finally {
      await inline.close();
    }
  });

  it('records a job with a completion webhook (a failed attempt, then delivered) and a retry run that delivers again', async () => {
    const receiver = await startWebhookReceiver((n) => (n === 0 ? 503 : 204));
    const hooks = await startStack('file', { FETCHBOX_WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 1).toString('base64')}` });
    try {
      const jobId = uniqueJobId('replay-webhook');
      const resources = [
        ...Array.from({ length: 3 }, (_, i) => ({ url: `${origin.url}/bytes/10/${jobId}-${i}` })),
        { url: `${origin.url}/flaky/1/404/10/${jobId}` },
      ];
      expect((await hooks.submit({ jobId, notify: { url: `${receiver.url}/hook` }, resources })).status).toBe(202);
      expect((await hooks.waitForJob(jobId)).notify).toMatchObject({ status: 'delivered', attempts: 2 });
      await hooks.app.request(`/jobs/${jobId}/retry`, { method: 'POST' });
      expect(await hooks.waitForJob(jobId)).toMatchObject({ status: 'completed', notify: { status: 'delivered', attempts: 1 } });
      expect(new Set(receiver.requests.map((r) => r.headers['webhook-id'])).size).toBe(2);
      await save('webhook', jobId, hooks);
    } finally {
      await hooks.close();
      await receiver.close();
    }
  });

  it('records a canceled job', async () => {
    const jobId = uniqueJobId('replay-cancel');
    await stack.submit({ jobId, resources: Array.from({ length: 12 }, (_, i) => ({ url: `${origin.url}/slow/20000/1/${jobId}-${i}` })) });
    await new Promise((r) => setTimeout(r, 1500));
    await stack.app.request(`/jobs/${jobId}/cancel`, { method: 'POST' });
    await stack.waitForJob(jobId);
    await save('cancel', jobId);
  });
});

describe('replaying recorded histories', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it('replays every recorded history with the current workflow code', async () => {
    const histories = files.map((file) => ({
      workflowId: file,
      history: JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as unknown,
    }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, histories)) {
      replayed++;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  });
});
