import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../support/origin.js';
import { startStack, uniqueJobId } from '../support/stack.js';

let origin: Origin;
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin?.close();
});

describe('attempts counts every attempt, timed-out ones included', () => {
  it.each([
    ['first attempt in a batch', '100'],
    ['one activity per resource', '1'],
  ])('an origin that never answers, maximumAttempts 3 → attempts 3 (%s)', async (_, batchSize) => {
    const stack = await startStack('file', {
      FETCHBOX_JOB_ATTEMPT_TIMEOUT_MS: '1000',
      FETCHBOX_RETRY_MAX_ATTEMPTS: '3',
      FETCHBOX_JOB_BATCH_SIZE: batchSize,
    });
    try {
      const jobId = uniqueJobId('attempts');
      // Answers after 10 minutes: every attempt runs into the 1 s attempt timeout.
      const url = `${origin.url}/slow/600000/16/${jobId}`;
      expect((await stack.submit({ jobId, resources: [{ url }] })).status).toBe(202);
      const summary = await stack.waitForJob(jobId);
      expect(summary.status).toBe('completed_with_failures');
      const [state] = await stack.allResources(jobId);
      expect(state).toMatchObject({ status: 'failed', attempts: 3, error: { kind: 'timeout' } });
      expect(origin.hits.get(new URL(url).pathname)).toBe(3);
    } finally {
      await stack.close();
    }
  });
});
