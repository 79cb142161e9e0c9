import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, ErrorCode } from '../../src/api/api-error.js';
import type { JobContext } from '../../src/api/jobs/job-context.js';
import type { RetryResult } from '../../src/api/jobs/job-views.js';

// bulkRetry calls the single-job retry; here it answers per jobId from `answers`.
const answers = new Map<string, () => Promise<RetryResult>>();
const retried: string[] = [];
vi.mock('../../src/api/operator/retry-job.js', () => ({
  retryJob: async (_ctx: unknown, jobId: string) => {
    retried.push(jobId);
    const answer = answers.get(jobId);
    if (!answer) throw new Error(`unexpected retry of ${jobId}`);
    return answer();
  },
}));
const { bulkRetry } = await import('../../src/api/operator/bulk-retry.js');
const { matchRetryTargets, RetryBounds } = await import('../../src/api/operator/retry-targets.js');

const retrying = async (): Promise<RetryResult> => ({ status: 'running', retrying: true });
const unavailable = async (): Promise<RetryResult> => {
  throw new ApiError(503, ErrorCode.temporalUnavailable, 'Temporal is unavailable');
};

/** A stub Temporal for matching: visibility lists `runs` (offset page tokens), describe names each job's latest run. */
function stubContext(runs: { jobId: string; runId: string }[], latest: (jobId: string) => string | undefined) {
  const queries: string[] = [];
  const client = {
    workflowService: {
      listWorkflowExecutions: async ({
        query,
        pageSize,
        nextPageToken,
      }: {
        query: string;
        pageSize: number;
        nextPageToken?: Uint8Array;
      }) => {
        queries.push(query);
        const from = nextPageToken ? Number(Buffer.from(nextPageToken).toString()) : 0;
        return {
          executions: runs
            .slice(from, from + pageSize)
            .map((r) => ({ execution: { workflowId: `job-${r.jobId}`, runId: r.runId }, closeTime: { seconds: 1 } })),
          nextPageToken: from + pageSize < runs.length ? Buffer.from(String(from + pageSize)) : Buffer.alloc(0),
        };
      },
    },
    workflow: {
      getHandle: (workflowId: string) => ({
        describe: async () => {
          const runId = latest(workflowId.slice(4));
          if (!runId) throw new ApiError(404, ErrorCode.jobNotFound, 'gone');
          return { runId, status: { name: 'COMPLETED' }, typedSearchAttributes: { get: () => 'completed_with_failures' }, memo: {} };
        },
      }),
    },
  };
  const ctx = {
    deps: { client, config: { temporal: { namespace: 'default' } } },
    temporal: (fn: () => Promise<unknown>) => fn(),
  } as unknown as JobContext;
  return { ctx, queries };
}

beforeEach(() => {
  answers.clear();
  retried.length = 0;
});

describe('bulkRetry', () => {
  const { ctx } = stubContext([], () => undefined);

  it('retries each named job once and counts the outcomes', async () => {
    answers.set('a', retrying);
    answers.set('b', async () => ({ status: 'completed', retrying: false }));
    answers.set('c', async () => {
      throw new ApiError(409, ErrorCode.jobNotRetryable, 'job c is canceled');
    });
    answers.set('d', async () => {
      throw new ApiError(404, ErrorCode.jobNotFound, 'no job d');
    });
    answers.set('e', async () => {
      throw new Error('boom');
    });
    const result = await bulkRetry(ctx, { jobIds: ['a', 'b', 'a', 'c', 'd', 'e'] });
    expect(retried.sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(result).toMatchObject({
      dryRun: false,
      matched: 5,
      retried: 1,
      skipped: { nothing_to_retry: 1, not_retryable: 1, not_found: 1, error: 1 },
    });
    expect(result.jobs).toEqual([
      { jobId: 'a', outcome: 'retrying', status: 'running' },
      { jobId: 'b', outcome: 'nothing_to_retry', status: 'completed' },
      { jobId: 'c', outcome: 'not_retryable', message: 'job c is canceled' },
      { jobId: 'd', outcome: 'not_found' },
      { jobId: 'e', outcome: 'error', message: 'boom' },
    ]);
  });

  it('a dry run retries nothing', async () => {
    const result = await bulkRetry(ctx, { jobIds: ['a', 'b'], dryRun: true });
    expect(retried).toEqual([]);
    expect(result).toMatchObject({
      dryRun: true,
      matched: 2,
      retried: 0,
      skipped: {},
      jobs: [
        { jobId: 'a', outcome: 'matched' },
        { jobId: 'b', outcome: 'matched' },
      ],
    });
  });

  it('stops the fan-out when Temporal is unavailable: the rest not attempted; nothing retried is the 503', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `j${i}`);
    for (const id of ids) answers.set(id, id === 'j0' ? retrying : unavailable);
    const partial = await bulkRetry(ctx, { jobIds: ids });
    expect(partial.retried).toBe(1);
    expect(partial.skipped.unavailable).toBeGreaterThanOrEqual(1);
    expect(partial.skipped.not_attempted).toBeGreaterThanOrEqual(40 - RetryBounds.concurrency - 1);
    expect(retried.length).toBeLessThanOrEqual(RetryBounds.concurrency + 1);
    answers.set('j0', unavailable);
    await expect(bulkRetry(ctx, { jobIds: ids })).rejects.toMatchObject({ status: 503, code: 'temporal_unavailable' });
  });
});

describe('matchRetryTargets', () => {
  it('matches each job once by its newest listed run, leaving out jobs a later run superseded', async () => {
    const runs = [
      { jobId: 'a', runId: 'a2' },
      { jobId: 'b', runId: 'b1' },
      { jobId: 'a', runId: 'a1' },
      { jobId: 'c', runId: 'c1' },
      { jobId: 'gone', runId: 'g1' },
    ];
    const { ctx, queries } = stubContext(runs, (jobId) => ({ a: 'a2', b: 'b2', c: 'c1' })[jobId]);
    expect(await matchRetryTargets(ctx, { status: 'completed_with_failures', handler: 'default' })).toEqual(['a', 'c']);
    expect(queries[0]).toContain(
      "FetchBoxResourcesFailed > 0 AND (ExecutionStatus = 'Completed' AND FetchBoxStatus = 'completed_with_failures') AND FetchBoxHandler = 'default'",
    );
  });

  it('refuses a filter matching more than 1000 jobs (400, narrow it), before retrying anything', async () => {
    const runs = Array.from({ length: RetryBounds.maxMatched + 1 }, (_, i) => ({ jobId: `j${i}`, runId: `r${i}` }));
    const { ctx } = stubContext(runs, (jobId) => `r${jobId.slice(1)}`);
    await expect(matchRetryTargets(ctx, { since: '2026-11-28T00:00:00.000Z' })).rejects.toMatchObject({
      status: 400,
      code: 'invalid_request',
      message: expect.stringMatching(/more than 1000 jobs; narrow it/),
    });
    const exactly = stubContext(runs.slice(0, RetryBounds.maxMatched), (jobId) => `r${jobId.slice(1)}`);
    expect(await matchRetryTargets(exactly.ctx, { since: '2026-11-28T00:00:00.000Z' })).toHaveLength(RetryBounds.maxMatched);
    await expect(bulkRetry(stubContext(runs, () => 'x').ctx, { filter: { handler: 'default' } })).rejects.toMatchObject({ status: 400 });
    expect(retried).toEqual([]);
  });

  it('refuses kind with a status other than completed_with_failures', async () => {
    const { ctx } = stubContext([], () => undefined);
    await expect(matchRetryTargets(ctx, { kind: 'timeout', status: 'running' })).rejects.toMatchObject({ status: 400 });
  });
});
