import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSED_CLAUSE, quantile, runBurst } from '../../bench/many-small.js';
import { readBack } from '../support/objects.js';
import { contentSha256, startOrigin, type Origin } from '../support/origin.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';

// The `many-small` bench scenario (bench/bench.test.ts) at a smoke-test size: the bench's own
// driver (bench/many-small.ts: concurrent submitters, closed jobs counted in visibility, close times
// read back in one listing) against an in-process stack on file storage. The bench's targets stay in
// the bench; this asserts that every job completes and every object is stored byte-exact.

const JOBS = 20;
const PER_JOB = 5;
const SIZE = 4096;

let origin: Origin;
let stack: Stack;
beforeAll(async () => {
  origin = await startOrigin();
  stack = await startStack('file');
});
afterAll(async () => {
  await stack?.close();
  await origin?.close();
});

describe('many small jobs (bench smoke test)', () => {
  it(`runs ${JOBS} jobs of ${PER_JOB} resources from 8 submitters, each completed and byte-exact`, async () => {
    const prefix = uniqueJobId('many-small');
    const jobIdOf = (i: number) => `${prefix}-${i}`;
    const result = await runBurst({
      client: stack.client,
      count: JOBS,
      submitters: 8,
      submit: async (i) => {
        const jobId = jobIdOf(i);
        const resources = Array.from({ length: PER_JOB }, (_, k) => ({ url: `${origin.url}/bytes/${SIZE}/${jobId}-${k}` }));
        const submitted = await stack.submit({ jobId, resources });
        if (submitted.status !== 202) throw new Error(`submit of ${jobId} answered ${submitted.status}: ${JSON.stringify(submitted.body)}`);
      },
      workflowId: (i) => `job-${jobIdOf(i)}`,
      closedQuery: `WorkflowType = 'jobWorkflow' AND WorkflowId STARTS_WITH 'job-${prefix}-' AND ${CLOSED_CLAUSE}`,
      timeoutMs: 60_000,
      pollMs: 100,
    });

    expect(result.items.map((x) => x.status)).toEqual(Array.from({ length: JOBS }, () => 'COMPLETED'));
    for (const item of result.items) {
      expect(item.closedAt).toBeGreaterThanOrEqual(item.sentAt);
      expect(item.submitMs).toBeGreaterThan(0);
    }
    expect(result.seconds).toBeGreaterThan(0);
    expect(
      quantile(
        result.items.map((x) => x.closedAt - x.sentAt),
        0.99,
      ),
    ).toBeLessThanOrEqual(result.seconds * 1000);

    for (let i = 0; i < JOBS; i++) {
      const jobId = jobIdOf(i);
      const summary = await stack.waitForJob(jobId);
      expect(summary).toMatchObject({ jobId, status: 'completed', resources: { total: PER_JOB, succeeded: PER_JOB, failed: 0 } });
      const states = await stack.allResources(jobId);
      expect(states).toHaveLength(PER_JOB);
      for (const state of states) {
        const seed = new URL(state.url as string).pathname.split('/').pop()!;
        const expected = contentSha256(seed, SIZE);
        expect(state).toMatchObject({ status: 'succeeded', bytes: SIZE, sha256: expected });
        expect(await readBack(stack.storage, state.key as string)).toEqual({ sha256: expected, bytes: SIZE });
      }
    }
  });
});
