import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../support/origin.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { waitFor } from '../support/wait-for.js';

// Completion webhooks against a real dev server: loopback receivers that fail, hang, say 410 or
// accept; a receiver on a refused address; the signature checked with the stock standardwebhooks
// library. Delivery windows are short here (1 s per request, 8 s in all) so give-ups come quickly.

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

let origin: Origin;
let receiver: WebhookReceiver;
let refused: WebhookReceiver;
let stack: Stack;

beforeAll(async () => {
  origin = await startOrigin();
  receiver = await startWebhookReceiver((n, path) => {
    if (path.startsWith('/flaky/')) return n < 2 ? 500 : 200;
    if (path.startsWith('/never/')) return 'hold';
    if (path.startsWith('/gone/')) return 410;
    return 200;
  });
  // 127.0.0.2 is loopback, but outside the stack's allow-list: the guard refuses it before connecting.
  refused = await startWebhookReceiver(() => 200, '127.0.0.2');
  stack = await startStack('file', {
    FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.1/32,::1/128',
    FETCHBOX_WEBHOOK_SECRET: SECRET,
    FETCHBOX_WEBHOOK_TIMEOUT_MS: '1000',
    FETCHBOX_WEBHOOK_RETRY_WINDOW: '8s',
  });
});

afterAll(async () => {
  await stack?.close();
  await receiver?.close();
  await refused?.close();
  await origin?.close();
});

/** A small job of `n` resources from the origin, with `notify`. */
async function submitWithNotify(jobId: string, notify: Record<string, unknown>, resources = [`${origin.url}/bytes/10/${jobId}`]) {
  const res = await stack.submit({ jobId, notify, resources: resources.map((url) => ({ url })) });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
}

describe('completion webhooks', { timeout: 60_000 }, () => {
  it('a receiver that fails twice then accepts gets one delivery: three requests with one webhook-id, each signed', async () => {
    const jobId = uniqueJobId('hook-flaky');
    const path = `/flaky/${jobId}`;
    await submitWithNotify(jobId, { url: `${receiver.url}${path}` });
    const summary = await stack.waitForJob(jobId);
    const requests = receiver.to(path);
    expect(requests.map((r) => r.answered)).toEqual([500, 500, 200]);
    const ids = new Set(requests.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    expect(summary).toMatchObject({
      status: 'completed',
      notify: { status: 'delivered', attempts: 3, webhookId: [...ids][0] },
      resources: { total: 1, succeeded: 1, failed: 0, pending: 0 },
    });
    const verifier = new Webhook(SECRET);
    for (const r of requests) {
      expect(r.method).toBe('POST');
      expect(r.headers['content-type']).toBe('application/json');
      expect(verifier.verify(r.body, r.headers as Record<string, string>)).toBeTruthy();
      expect(r.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    }
    // A body signed with another secret, or altered, does not verify.
    expect(() =>
      new Webhook(`whsec_${Buffer.alloc(32, 8).toString('base64')}`).verify(
        requests[2]!.body,
        requests[2]!.headers as Record<string, string>,
      ),
    ).toThrow();
    expect(() =>
      verifier.verify(requests[2]!.body.replace('completed', 'canceled!'), requests[2]!.headers as Record<string, string>),
    ).toThrow();
    const body = JSON.parse(requests[2]!.body) as Record<string, unknown>;
    expect(body).toEqual({
      type: 'completed',
      jobId,
      handler: 'default',
      status: 'completed',
      resources: { total: 1, succeeded: 1, failed: 0, pending: 0 },
      bytes: 10,
      startedAt: summary.startedAt,
      closedAt: summary.closedAt,
      links: summary.links,
    });
  });

  it('a receiver that never answers is retried with the same id until the window ends; the job reads running meanwhile, then closes', async () => {
    const jobId = uniqueJobId('hook-never');
    const path = `/never/${jobId}`;
    await submitWithNotify(jobId, { url: `${receiver.url}${path}` });
    // While the webhook is being delivered, the job is not reported closed.
    const seen = await waitFor(
      'two attempts while the job reads pending',
      async () => {
        const s = await stack.summary(jobId);
        return s.notify?.status === 'pending' && receiver.to(path).length >= 2 ? s : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(seen).toMatchObject({ status: 'running', notify: { status: 'pending' } });
    expect(seen.notify.attempts).toBeGreaterThanOrEqual(2);
    expect(seen.notify.lastError).toMatch(/no answer from http:\/\/127\.0\.0\.1:\d+ within 1000 ms/);
    expect(seen.closedAt).toBeUndefined();
    const summary = await stack.waitForJob(jobId);
    expect(summary).toMatchObject({ status: 'completed', notify: { status: 'failed' } });
    expect(summary.notify.lastError).toMatch(/retried for .*no answer/);
    const requests = receiver.to(path);
    expect(requests.length).toBeGreaterThanOrEqual(2);
    expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    // Never the path or query in what the API shows: they may hold the receiver's token.
    expect(JSON.stringify(summary.notify)).not.toContain(path);
  });

  it('a webhook to a refused address is a recorded failure: no connection, no retry', async () => {
    const jobId = uniqueJobId('hook-refused');
    await submitWithNotify(jobId, { url: `${refused.url}/hook?token=abc` });
    const summary = await stack.waitForJob(jobId);
    expect(summary).toMatchObject({ status: 'completed', notify: { status: 'failed', attempts: 1 } });
    expect(summary.notify.lastError).toMatch(/127\.0\.0\.2.*not allowed/);
    expect(summary.notify.lastError).not.toContain('token=abc');
    expect(refused.connections).toBe(0);
    expect(refused.requests).toEqual([]);
  });

  it('410 Gone stops retrying at once', async () => {
    const jobId = uniqueJobId('hook-gone');
    const path = `/gone/${jobId}`;
    await submitWithNotify(jobId, { url: `${receiver.url}${path}` });
    const summary = await stack.waitForJob(jobId);
    expect(summary).toMatchObject({ status: 'completed', notify: { status: 'failed', attempts: 1 } });
    expect(summary.notify.lastError).toContain('410');
    expect(receiver.to(path)).toHaveLength(1);
  });

  it('sends nothing when the closing status is not among events', async () => {
    const jobId = uniqueJobId('hook-filtered');
    const path = `/ok/${jobId}`;
    await submitWithNotify(jobId, { url: `${receiver.url}${path}`, events: ['completed_with_failures', 'canceled'] });
    const summary = await stack.waitForJob(jobId);
    expect(summary).toMatchObject({ status: 'completed', notify: { status: 'skipped' } });
    expect(receiver.to(path)).toEqual([]);
  });

  it('reports completed_with_failures and canceled jobs with their event', async () => {
    const failing = uniqueJobId('hook-failures');
    await submitWithNotify(failing, { url: `${receiver.url}/ok/${failing}` }, [
      `${origin.url}/bytes/10/${failing}`,
      `${origin.url}/status/404/${failing}`,
    ]);
    expect((await stack.waitForJob(failing)).notify).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(JSON.parse(receiver.to(`/ok/${failing}`)[0]!.body)).toMatchObject({
      type: 'completed_with_failures',
      status: 'completed_with_failures',
      resources: { total: 2, succeeded: 1, failed: 1 },
    });

    const canceled = uniqueJobId('hook-canceled');
    await submitWithNotify(canceled, { url: `${receiver.url}/ok/${canceled}` }, [`${origin.url}/slow/30000/10/${canceled}`]);
    await waitFor('the download to start', () => (origin.hits.get(`/slow/30000/10/${canceled}`) ?? 0) > 0, { timeoutMs: 20_000 });
    expect((await stack.app.request(`/jobs/${canceled}/cancel`, { method: 'POST' })).status).toBe(202);
    const summary = await stack.waitForJob(canceled);
    expect(summary).toMatchObject({ status: 'canceled', notify: { status: 'delivered' } });
    expect(JSON.parse(receiver.to(`/ok/${canceled}`)[0]!.body)).toMatchObject({ type: 'canceled', status: 'canceled' });
  });

  it('notify is part of the manifest identity only when given', async () => {
    const jobId = uniqueJobId('hook-identity');
    const manifest = { jobId, notify: { url: `${receiver.url}/ok/${jobId}` }, resources: [{ url: `${origin.url}/bytes/10/${jobId}` }] };
    expect((await stack.submit(manifest)).status).toBe(202);
    // Events given as the default (in another order) are the same manifest.
    expect(
      (await stack.submit({ ...manifest, notify: { ...manifest.notify, events: ['canceled', 'completed', 'completed_with_failures'] } }))
        .status,
    ).toBe(200);
    expect((await stack.submit({ ...manifest, notify: { ...manifest.notify, events: ['completed'] } })).status).toBe(409);
    expect((await stack.submit({ ...manifest, notify: undefined })).status).toBe(409);
    await stack.waitForJob(jobId);
  });
});
