import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { PageRunNotCompletedError, queryPageStates, readPageRun, readPageStates, readRoundStates } from '../../src/ledger/page-states.js';
import { pageWorkflowId } from '../../src/model/ids.js';
import type { PageResult, ResourceState } from '../../src/model/job-types.js';

const state = (id: string, status: ResourceState['status'], attempts: number): ResourceState => ({
  id,
  url: `http://127.0.0.1/${id}`,
  key: `k/${id}`,
  status,
  attempts,
});

type Run =
  { status: 'COMPLETED'; states: ResourceState[] } | { status: 'RUNNING'; states?: ResourceState[] } | { status: 'FAILED' | 'TERMINATED' };

/** A Client whose page workflows are `runs` (by workflow id); any other id is not found. */
function fakeClient(runs: Record<string, Run>, calls: string[] = []): Client {
  const getHandle = (workflowId: string) => {
    const run = runs[workflowId];
    return {
      describe: async () => {
        calls.push(`describe ${workflowId}`);
        if (!run) throw new WorkflowNotFoundError('not found', workflowId, undefined);
        return { status: { name: run.status } };
      },
      result: async () => {
        calls.push(`result ${workflowId}`);
        return { states: (run as { states: ResourceState[] }).states } as Partial<PageResult>;
      },
      query: async () => {
        calls.push(`query ${workflowId}`);
        const states = (run as { states?: ResourceState[] }).states;
        if (!states) throw new Error('no worker answered');
        return states;
      },
    };
  };
  return { workflow: { getHandle } } as unknown as Client;
}

const id = (page: number, round: number) => pageWorkflowId('j1', page, round);

describe('readPageRun / readRoundStates', () => {
  it('reads a completed run from its result, a running one from the pageStates query', async () => {
    const client = fakeClient({
      [id(0, 0)]: { status: 'COMPLETED', states: [state('a', 'failed', 1)] },
      [id(1, 0)]: { status: 'RUNNING', states: [state('b', 'pending', 0)] },
    });
    expect(await readRoundStates(client, { jobId: 'j1', page: 0, round: 0 })).toEqual([state('a', 'failed', 1)]);
    expect(await readPageRun(client, { jobId: 'j1', page: 1, round: 0 })).toEqual({
      status: 'running',
      states: [state('b', 'pending', 0)],
    });
  });

  it('answers undefined for a run that never started and for a running one no worker answers', async () => {
    const client = fakeClient({ [id(0, 0)]: { status: 'RUNNING' } });
    expect(await readPageRun(client, { jobId: 'j1', page: 3, round: 0 })).toEqual({ status: 'not_started' });
    expect(await readRoundStates(client, { jobId: 'j1', page: 3, round: 0 })).toBeUndefined();
    expect(await readRoundStates(client, { jobId: 'j1', page: 0, round: 0 })).toBeUndefined();
  });

  it('reads a run closed without a result as absent, or throws a typed error when a result is required', async () => {
    const client = fakeClient({ [id(0, 1)]: { status: 'TERMINATED' } });
    const run = { jobId: 'j1', page: 0, round: 1 };
    expect(await readRoundStates(client, run)).toBeUndefined();
    const err = await readRoundStates(client, run, { requireCompleted: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PageRunNotCompletedError);
    expect(err).toMatchObject({ run, closedAs: 'TERMINATED' });
  });

  it('passes every Temporal call through the caller wrapper (the API bounds and maps them)', async () => {
    const client = fakeClient({ [id(0, 0)]: { status: 'COMPLETED', states: [] } });
    let wrapped = 0;
    await readRoundStates(client, { jobId: 'j1', page: 0, round: 0 }, { call: (fn) => (wrapped++, fn()) });
    expect(wrapped).toBe(2); // describe and result
  });

  it('lets a wrapper error through (the API turns an outage into a 503)', async () => {
    const client = fakeClient({});
    const outage = new Error('unavailable');
    await expect(readRoundStates(client, { jobId: 'j1', page: 0, round: 0 }, { call: () => Promise.reject(outage) })).rejects.toBe(outage);
  });
});

describe('readPageStates', () => {
  it('merges later rounds over the first: settled states override, attempts add up, rounds without the page are skipped', async () => {
    const calls: string[] = [];
    const client = fakeClient(
      {
        [id(2, 0)]: { status: 'COMPLETED', states: [state('a', 'succeeded', 1), state('b', 'failed', 3), state('c', 'failed', 3)] },
        [id(2, 1)]: { status: 'COMPLETED', states: [state('b', 'succeeded', 2), state('c', 'failed', 3)] },
        [id(2, 3)]: { status: 'RUNNING', states: [state('c', 'pending', 0)] },
      },
      calls,
    );
    const states = await readPageStates(client, { jobId: 'j1', page: 2, lastRound: 3 });
    expect(states.map((s) => [s.id, s.status, s.attempts])).toEqual([
      ['a', 'succeeded', 1],
      ['b', 'succeeded', 5],
      ['c', 'failed', 6],
    ]);
    expect(calls.filter((c) => c.startsWith('describe'))).toHaveLength(4);
  });

  it('starts from beforeFirstRound while the first round has not run, and from nothing without it', async () => {
    const client = fakeClient({});
    const pending = [state('x', 'pending', 0)];
    expect(await readPageStates(client, { jobId: 'j1', page: 0, lastRound: 0 }, { beforeFirstRound: async () => pending })).toEqual(
      pending,
    );
    expect(await readPageStates(client, { jobId: 'j1', page: 0, lastRound: 2 })).toEqual([]);
  });
});

describe('queryPageStates', () => {
  it('queries a running page through queryCall (a shorter deadline), else call', async () => {
    const client = fakeClient({ [id(0, 0)]: { status: 'RUNNING', states: [state('a', 'pending', 0)] } });
    const used: string[] = [];
    const options = {
      call: <T>(fn: () => Promise<T>) => (used.push('call'), fn()),
      queryCall: <T>(fn: () => Promise<T>) => (used.push('query'), fn()),
    };
    expect(await queryPageStates(client, { jobId: 'j1', page: 0, round: 0 }, options)).toEqual([state('a', 'pending', 0)]);
    expect(used).toEqual(['query']);
    await readPageRun(client, { jobId: 'j1', page: 0, round: 0 }, options);
    expect(used).toEqual(['query', 'call', 'query']); // describe through call, the query through queryCall
    expect(await queryPageStates(client, { jobId: 'j1', page: 0, round: 0 }, { call: options.call })).toHaveLength(1);
    expect(used.at(-1)).toBe('call');
  });

  it('answers undefined when no worker answers', async () => {
    const client = fakeClient({ [id(0, 0)]: { status: 'RUNNING' } });
    expect(await queryPageStates(client, { jobId: 'j1', page: 0, round: 0 })).toBeUndefined();
  });
});
