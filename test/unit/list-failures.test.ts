import { describe, expect, it } from 'vitest';
import { listFailures } from '../../src/api/failures/list-failures.js';
import type { FailureFilter } from '../../src/api/failures/failure-views.js';
import type { JobContext } from '../../src/api/jobs/job-context.js';
import { ErrorKind } from '../../src/model/constants.js';
import { type ResourceState } from '../../src/model/job-types.js';
import { CursorSigner } from '../../src/api/cursor.js';

// A stub Temporal: visibility lists `runs` newest first (page tokens are offsets); each job's describe
// names its latest run; a job run's result carries its failed pages; page runs return their states.
interface StubRun {
  jobId: string;
  runId: string;
  closedSeconds: number;
  failedPages: number[];
}
const failed = (id: string, kind: ErrorKind, host = 'a.test'): ResourceState => ({
  id,
  url: `https://${host}/${id}`,
  key: id,
  status: 'failed',
  attempts: 1,
  error: { kind, message: id },
});
const ok = (id: string): ResourceState => ({ id, url: `https://a.test/${id}`, key: id, status: 'succeeded', attempts: 1 });

const runs: StubRun[] = [
  { jobId: 'j3', runId: 'r3', closedSeconds: 300, failedPages: [0, 2] },
  { jobId: 'j2', runId: 'r2-old', closedSeconds: 200, failedPages: [0] }, // superseded by r2-new
  { jobId: 'j1', runId: 'r1', closedSeconds: 100, failedPages: [1] },
  { jobId: 'j0', runId: 'r0', closedSeconds: 50, failedPages: [0] },
];
const latest: Record<string, string> = { j3: 'r3', j2: 'r2-new', j1: 'r1', j0: 'r0' };
const pages: Record<string, ResourceState[]> = {
  'job-j3/p000000': [failed('3a', ErrorKind.timeout), ok('3b'), failed('3c', ErrorKind.httpStatus, 'B.test')],
  'job-j3/p000002': [failed('3d', ErrorKind.timeout), failed('3e', ErrorKind.timeout)],
  'job-j2/p000000': [failed('2a', ErrorKind.timeout)],
  'job-j1/p000001': [ok('1a'), failed('1b', ErrorKind.tooLarge, 'b.test')],
  'job-j0/p000000': [failed('0a', ErrorKind.timeout)],
};
let calls = 0;

const client = {
  workflowService: {
    listWorkflowExecutions: async ({ pageSize, nextPageToken }: { pageSize: number; nextPageToken?: Uint8Array }) => {
      calls++;
      const from = nextPageToken ? Number(Buffer.from(nextPageToken).toString()) : 0;
      const slice = runs.slice(from, from + pageSize);
      return {
        executions: slice.map((r) => ({
          execution: { workflowId: `job-${r.jobId}`, runId: r.runId },
          closeTime: { seconds: r.closedSeconds, nanos: 0 },
        })),
        nextPageToken: from + pageSize < runs.length ? Buffer.from(String(from + pageSize)) : Buffer.alloc(0),
      };
    },
  },
  workflow: {
    getHandle: (workflowId: string, runId?: string) => ({
      describe: async () => {
        calls++;
        if (workflowId.includes('/')) return { status: { name: 'COMPLETED' } };
        return { runId: latest[workflowId.slice(4)], status: { name: 'COMPLETED' }, memo: {} };
      },
      result: async () => {
        calls++;
        if (workflowId.includes('/')) return { states: pages[workflowId] ?? [] };
        const run = runs.find((r) => r.runId === runId)!;
        return { resume: { carry: { failedPages: run.failedPages, round: 0 } } };
      },
    }),
  },
};
const ctx = {
  deps: { client, config: { temporal: { namespace: 'default' } } },
  temporal: (fn: () => Promise<unknown>) => fn(),
  cursors: CursorSigner.random(),
} as unknown as JobContext;

/** Every item of a listing, following cursors, and the number of calls it took. */
async function everything(
  filter: FailureFilter,
  limit: number,
  budget?: { visibilityPageSize: number; jobsPerCall: number; pagesPerCall: number },
) {
  const items = [];
  let cursor: string | undefined;
  let requests = 0;
  do {
    const page = await listFailures(ctx, filter, { limit, ...(cursor ? { cursor } : {}), ...(budget ? { budget } : {}) });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    items.push(...page.items);
    cursor = page.next ?? undefined;
    requests++;
  } while (cursor && requests < 100);
  return { ids: items.map((i) => `${i.jobId}/${i.id}`), items, requests };
}

describe('listFailures', () => {
  it('lists failed states of the latest runs, newest job first, in page order, with the run close time', async () => {
    const { ids, items, requests } = await everything({}, 100);
    expect(ids).toEqual(['j3/3a', 'j3/3c', 'j3/3d', 'j3/3e', 'j1/1b', 'j0/0a']); // j2's listed run is superseded
    expect(requests).toBe(1);
    expect(items[0]).toEqual({
      jobId: 'j3',
      handler: 'default',
      id: '3a',
      url: 'https://a.test/3a',
      key: '3a',
      attempts: 1,
      error: { kind: 'timeout', message: '3a' },
      when: new Date(300_000).toISOString(),
      page: 0,
    });
    expect(items.map((i) => i.page)).toEqual([0, 0, 2, 2, 1, 0]);
  });

  it('gives the same items whatever the limit and the per-call budget, each call within its budget', async () => {
    const all = (await everything({}, 100)).ids;
    for (const limit of [1, 2, 3, 5]) {
      for (const budget of [
        undefined,
        { visibilityPageSize: 50, jobsPerCall: 1, pagesPerCall: 1 },
        { visibilityPageSize: 1, jobsPerCall: 2, pagesPerCall: 1 },
        { visibilityPageSize: 2, jobsPerCall: 1, pagesPerCall: 5 },
        { visibilityPageSize: 3, jobsPerCall: 3, pagesPerCall: 2 },
      ]) {
        const before = calls;
        const got = await everything({}, limit, budget);
        expect(got.ids, `limit ${limit} budget ${JSON.stringify(budget)}`).toEqual(all);
        if (budget) {
          // Per call: visibility pages (at most one per job opened, plus one), at most `jobsPerCall` jobs
          // (describe + result) and `pagesPerCall` pages (describe + result).
          expect(calls - before).toBeLessThanOrEqual(got.requests * (2 + 3 * budget.jobsPerCall + 2 * budget.pagesPerCall));
        }
      }
    }
  });

  it('filters by kind and host, across cursors', async () => {
    expect((await everything({ kind: ErrorKind.timeout }, 1, { visibilityPageSize: 1, jobsPerCall: 1, pagesPerCall: 1 })).ids).toEqual([
      'j3/3a',
      'j3/3d',
      'j3/3e',
      'j0/0a',
    ]);
    expect((await everything({ host: 'b.TEST' }, 100)).ids).toEqual(['j3/3c', 'j1/1b']);
    expect((await everything({ kind: ErrorKind.tooLarge, host: 'a.test' }, 100)).ids).toEqual([]);
  });
});
