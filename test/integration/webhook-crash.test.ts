import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../support/origin.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { WorkerProcesses, workerEnv } from '../support/worker-processes.js';

// A `fetchbox worker` SIGKILLed while its deliverWebhook attempt waits on the receiver: the attempt
// times out (request deadline + 5 s), another worker delivers it with the same webhook-id, and the
// receiver accepts exactly one delivery. Runs dist/ (npm run build first).

const SECRET = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;

let origin: Origin;
let receiver: WebhookReceiver;
let stack: Stack;
const workers = new WorkerProcesses();

beforeAll(async () => {
  origin = await startOrigin();
  // The first request is held (its worker dies waiting); later ones are accepted.
  receiver = await startWebhookReceiver((n) => (n === 0 ? 'hold' : 200));
  stack = await startStack('file', { FETCHBOX_WEBHOOK_SECRET: SECRET, FETCHBOX_WEBHOOK_TIMEOUT_MS: '2000' });
  // Only the worker processes below run this test's jobs.
  stack.worker.shutdown();
});

afterAll(async () => {
  workers.killAll();
  await stack?.close();
  await receiver?.close();
  await origin?.close();
});

describe('a worker killed mid-delivery', () => {
  it('still delivers once: the retry on another worker carries the same webhook-id', async () => {
    const env = workerEnv(stack.taskQueue, stack.config.storage.url, { FETCHBOX_WEBHOOK_SECRET: SECRET });
    const first = workers.start(env);
    const jobId = uniqueJobId('hook-crash');
    await stack.accept({
      jobId,
      notify: { url: `${receiver.url}/hook` },
      resources: [{ url: `${origin.url}/bytes/10/${jobId}` }],
    });
    const killedAt = await workers.killDuring(first, env, 'the webhook to be requested', () => receiver.requests.length > 0);
    const summary = await stack.waitForJob(jobId, { timeoutMs: 60_000, report: () => workers.report() });
    expect(summary).toMatchObject({ status: 'completed', notify: { status: 'delivered', attempts: 2 } });
    const requests = receiver.requests;
    expect(requests.map((r) => r.answered)).toEqual([undefined, 200]);
    expect(requests[0]!.headers['webhook-id']).toBe(requests[1]!.headers['webhook-id']);
    expect(new Webhook(SECRET).verify(requests[1]!.body, requests[1]!.headers as Record<string, string>)).toMatchObject({
      jobId,
      type: 'completed',
    });
    process.stderr.write(`[webhook-crash] delivered ${Date.now() - killedAt} ms after the worker in deliverWebhook was killed\n`);
  }, 150_000);
});
