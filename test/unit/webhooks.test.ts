import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/api/api-error.js';
import { manifestHash } from '../../src/api/submit/manifest-hash.js';
import { jobNotifyOf, notifyIdentity } from '../../src/api/submit/submit-job.js';
import { notifyStateOf } from '../../src/api/jobs/job-reader.js';
import { devWebhookSecret } from '../../src/config/webhook-settings.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { webhookIdOf, webhookOrigin } from '../../src/workflows/job-notify.js';

const SECRET = `whsec_${Buffer.alloc(32, 5).toString('base64')}`;
const links = { self: '/jobs/j', temporalUi: 'http://ui/j' };

describe('webhook configuration', () => {
  it('takes a whsec_ secret of 24-64 bytes, a retry window as a duration, and defaults to 10 s and 24 h', () => {
    const config = loadConfig({ FETCHBOX_WEBHOOK_SECRET: SECRET, FETCHBOX_WEBHOOK_RETRY_WINDOW: '90m' });
    expect(config.webhooks).toMatchObject({ secret: SECRET, timeoutMs: 10_000, retryWindow: 90 * 60_000 });
    expect(loadConfig({}).webhooks).toEqual({ timeoutMs: 10_000, retryWindow: 86_400_000 });
  });

  it.each([
    ['a secret without whsec_', { FETCHBOX_WEBHOOK_SECRET: Buffer.alloc(32).toString('base64') }, 'FETCHBOX_WEBHOOK_SECRET'],
    ['a secret of 16 bytes', { FETCHBOX_WEBHOOK_SECRET: `whsec_${Buffer.alloc(16).toString('base64')}` }, 'FETCHBOX_WEBHOOK_SECRET'],
    ['a default URL without a secret', { FETCHBOX_WEBHOOK_DEFAULT_URL: 'https://hooks.test/' }, 'FETCHBOX_WEBHOOK_DEFAULT_URL'],
    [
      'a default URL with credentials',
      { FETCHBOX_WEBHOOK_SECRET: SECRET, FETCHBOX_WEBHOOK_DEFAULT_URL: 'https://a:b@hooks.test/' },
      'FETCHBOX_WEBHOOK_DEFAULT_URL',
    ],
    ['a retry window of 8 days', { FETCHBOX_WEBHOOK_RETRY_WINDOW: '8d' }, 'FETCHBOX_WEBHOOK_RETRY_WINDOW'],
    ['a retry window as a bare number', { FETCHBOX_WEBHOOK_RETRY_WINDOW: '3600' }, 'FETCHBOX_WEBHOOK_RETRY_WINDOW'],
    ['a timeout over a minute', { FETCHBOX_WEBHOOK_TIMEOUT_MS: '60001' }, 'FETCHBOX_WEBHOOK_TIMEOUT_MS'],
  ])('refuses %s, naming the variable', (_name, env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(variable);
  });
});

describe("a job's webhook at submit", () => {
  it('is a 400 naming notify when the server has no secret', () => {
    const err = (() => {
      try {
        jobNotifyOf(loadConfig({}), { notify: { url: 'https://hooks.test/' } }, links);
      } catch (e) {
        return e;
      }
    })() as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(400);
    expect(err.body().error).toMatchObject({ code: 'invalid_manifest', details: [{ path: 'notify' }] });
    expect(err.message).not.toContain('whsec_');
  });

  it("takes the manifest's notify with every event by default, the policy in force, and the job's links", () => {
    const config = loadConfig({
      FETCHBOX_WEBHOOK_SECRET: SECRET,
      FETCHBOX_WEBHOOK_TIMEOUT_MS: '2000',
      FETCHBOX_WEBHOOK_RETRY_WINDOW: '1h',
    });
    expect(jobNotifyOf(config, { notify: { url: 'https://hooks.test/h' } }, links)).toEqual({
      url: 'https://hooks.test/h',
      events: ['completed', 'completed_with_failures', 'canceled'],
      timeoutMs: 2000,
      retryForMs: 3_600_000,
      links,
    });
    expect(jobNotifyOf(config, {}, links)).toBeUndefined();
  });

  it('uses the configured default URL for a manifest without notify, outside the manifest identity', () => {
    const config = loadConfig({ FETCHBOX_WEBHOOK_SECRET: SECRET, FETCHBOX_WEBHOOK_DEFAULT_URL: 'https://hooks.test/all' });
    expect(jobNotifyOf(config, {}, links)).toMatchObject({
      url: 'https://hooks.test/all',
      events: ['completed', 'completed_with_failures', 'canceled'],
    });
    expect(jobNotifyOf(config, { notify: { url: 'https://mine.test/', events: ['canceled'] } }, links)).toMatchObject({
      url: 'https://mine.test/',
      events: ['canceled'],
    });
    expect(notifyIdentity({})).toBeUndefined();
  });

  it('hashes notify only when given, with events in one order', () => {
    const resources = [{ id: '0', url: 'http://x.test/' }];
    const without = manifestHash('default', undefined, resources);
    expect(manifestHash('default', undefined, resources, undefined, undefined, notifyIdentity({}))).toBe(without);
    const all = notifyIdentity({ notify: { url: 'https://hooks.test/' } });
    const shuffled = notifyIdentity({
      notify: { url: 'https://hooks.test/', events: ['canceled', 'completed_with_failures', 'completed'] },
    });
    expect(shuffled).toEqual(all);
    expect(manifestHash('default', undefined, resources, undefined, undefined, all)).not.toBe(without);
  });
});

describe('webhook ids and origins', () => {
  it('derives the id from the workflow, the run and the event', () => {
    expect(webhookIdOf('job-a', 'run-1', 'completed')).toBe('job-a/run-1/completed');
    expect(webhookIdOf('job-a', 'run-2', 'completed')).not.toBe(webhookIdOf('job-a', 'run-1', 'completed'));
  });

  it('names only the origin of a webhook URL', () => {
    expect(webhookOrigin('https://hooks.test:8443/p/secret-token?k=v')).toBe('https://hooks.test:8443');
  });
});

describe('the delivery state GET /jobs/{jobId} reports', () => {
  const desc = (status: string, memo: unknown, pending: unknown[] = [], runId = 'r2') =>
    ({
      runId,
      status: { name: status },
      memo: { notify: memo },
      raw: { pendingActivities: pending },
    }) as unknown as WorkflowExecutionDescription;

  it('is waiting, or skipped once closed, when the memo is an earlier run copy or the submit stub', () => {
    expect(notifyStateOf(desc('RUNNING', { status: 'waiting' }))?.view).toEqual({ status: 'waiting' });
    expect(notifyStateOf(desc('RUNNING', { status: 'delivered', runId: 'r1', attempts: 1 }))?.view).toEqual({ status: 'waiting' });
    expect(notifyStateOf(desc('TERMINATED', { status: 'waiting' }))?.view).toEqual({ status: 'skipped' });
    expect(notifyStateOf({ runId: 'r', status: { name: 'RUNNING' }, memo: {} } as unknown as WorkflowExecutionDescription)).toBeUndefined();
  });

  it("is pending with the activity's attempts and last failure while delivering, failed when the run closed meanwhile", () => {
    const memo = { status: 'pending', runId: 'r2', webhookId: 'job-j/r2/completed', closedAt: '2026-12-07T00:00:00.000Z' };
    const pending = [
      { activityType: { name: 'deliverWebhook' }, attempt: 3, lastFailure: { message: 'HTTP 500 from https://hooks.test' } },
    ];
    expect(notifyStateOf(desc('RUNNING', memo, pending))).toEqual({
      view: { status: 'pending', webhookId: 'job-j/r2/completed', attempts: 3, lastError: 'HTTP 500 from https://hooks.test' },
      closedAt: '2026-12-07T00:00:00.000Z',
    });
    expect(notifyStateOf(desc('TERMINATED', memo, pending))?.view).toMatchObject({
      status: 'failed',
      lastError: expect.stringContaining('terminated'),
    });
  });
});

describe("fetchbox dev's webhook secret", () => {
  it('is generated once under the data dir (mode 0600) and kept across starts', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-dev-secret-'));
    try {
      const first = await devWebhookSecret(dir);
      expect(first.created).toBe(true);
      expect(first.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
      expect(() => loadConfig({ FETCHBOX_WEBHOOK_SECRET: first.secret })).not.toThrow();
      expect((await stat(first.file)).mode & 0o777).toBe(0o600);
      expect((await readFile(first.file, 'utf8')).trim()).toBe(first.secret);
      expect(await devWebhookSecret(dir)).toEqual({ ...first, created: false });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
