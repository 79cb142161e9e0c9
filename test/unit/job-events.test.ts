import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { JobService } from '../../src/api/job-service.js';
import type { JobEvent } from '../../src/api/jobs/job-events.js';
import { loadConfig } from '../../src/config/load-config.js';
import { builtInHandlers } from '../../src/handlers/registry.js';
import type { Storage } from '../../src/storage/storage.js';
import type { ResourceState } from '../../src/model/job-types.js';

const PAGES = 50;

/**
 * A Temporal client with one closed job `j` of PAGES completed page runs (round 0), each with one
 * failed and one succeeded resource, and no retry round; `calls` records every describe and result.
 */
function closedJobClient(expired: ReadonlySet<number> = new Set()) {
  const calls: string[] = [];
  const states = (page: number): ResourceState[] => [
    {
      id: `bad-${page}`,
      url: `http://127.0.0.1/bad-${page}`,
      key: `j/bad-${page}`,
      status: 'failed',
      attempts: 1,
      error: { kind: 'http_status', message: 'HTTP 404', httpStatus: 404 },
    },
    { id: `ok-${page}`, url: `http://127.0.0.1/ok-${page}`, key: `j/ok-${page}`, status: 'succeeded', attempts: 1, bytes: 1 },
  ];
  const client = {
    connection: { withDeadline: (_deadline: number, fn: () => Promise<unknown>) => fn() },
    workflow: {
      getHandle: (workflowId: string) => {
        const page = /\/p(\d+)(?:\/r(\d+))?$/.exec(workflowId);
        if (!page) {
          return {
            describe: async () => {
              calls.push('describe:job');
              return {
                status: { name: 'COMPLETED' },
                memo: { pageCount: PAGES, startedAt: '2026-11-28T00:00:00.000Z' },
                startTime: new Date(),
                closeTime: new Date(),
                typedSearchAttributes: {
                  get: (key: { name: string }) => (key.name === 'FetchBoxStatus' ? 'completed_with_failures' : undefined),
                },
              };
            },
            // Its pages ran as children: its result carries no inline round (the ledger looks there when page 0 is gone).
            result: async () => (calls.push('result:job'), { resume: { carry: {} } }),
          };
        }
        const n = Number(page[1]);
        if (n >= PAGES) throw new Error(`page ${n} does not exist`);
        if (page[2] !== undefined || expired.has(n)) {
          // No retry round ran: its page runs were never started; an expired page run is gone too.
          return {
            describe: async () => (
              calls.push(`describe:${n}/r${page[2]}`),
              Promise.reject(new WorkflowNotFoundError('not found', workflowId, undefined))
            ),
          };
        }
        return {
          describe: async () => (calls.push(`describe:${n}`), { status: { name: 'COMPLETED' } }),
          result: async () => (calls.push(`result:${n}`), { page: n, round: 0, states: states(n) }),
        };
      },
    },
  };
  return { client: client as unknown as Client, calls };
}

const service = (client: Client) => new JobService({ client, storage: {} as Storage, handlers: builtInHandlers(), config: loadConfig({}) });

describe('a job event stream', () => {
  it('reads the ledger only as fast as its client takes events: a slow client holds it back', async () => {
    const { client, calls } = closedJobClient();
    const events = await service(client).events('j', { intervalMs: 10, resources: 'failed', signal: new AbortController().signal });
    const first = await events.next();
    expect(first.value).toMatchObject({ event: 'resource', data: { jobId: 'j', page: 0, round: 0, id: 'bad-0', status: 'failed' } });
    // One page run read, nothing ahead of the client.
    expect(calls.filter((c) => !c.endsWith(':job'))).toEqual(['describe:0', 'result:0']);
    const rest: JobEvent[] = [];
    for await (const e of events) rest.push(e);
    expect(rest).toHaveLength(PAGES + 1); // the other 49 failures, then one summary and end
    expect(rest.at(-2)).toMatchObject({ event: 'summary', data: { jobId: 'j', status: 'completed_with_failures' } });
    expect(rest.at(-1)).toMatchObject({ event: 'end', data: { jobId: 'j', status: 'completed_with_failures' } });
    expect(rest.slice(0, -2).map((e) => (e.event === 'resource' ? e.data.id : e.event))).toEqual(
      Array.from({ length: PAGES - 1 }, (_, i) => `bad-${i + 1}`),
    );
    // Every page run read once, in order; then the first page of a retry round, found never started.
    expect(calls.filter((c) => c.startsWith('result:'))).toEqual(Array.from({ length: PAGES }, (_, i) => `result:${i}`));
    expect(calls.filter((c) => c.includes('/r'))).toEqual(['describe:0/r1']);
  });

  it('reports every settled resource with `all`', async () => {
    const { client } = closedJobClient();
    const events = await service(client).events('j', { intervalMs: 10, resources: 'all', signal: new AbortController().signal });
    const all: JobEvent[] = [];
    for await (const e of events) all.push(e);
    expect(all.filter((e) => e.event === 'resource')).toHaveLength(2 * PAGES);
  });

  it('of a closed job looks past first-round page runs that are gone (retention)', async () => {
    const { client } = closedJobClient(new Set([0, 7]));
    const events = await service(client).events('j', { intervalMs: 10, resources: 'failed', signal: new AbortController().signal });
    const ids: string[] = [];
    for await (const e of events) ids.push(e.event === 'resource' ? e.data.id : e.event);
    expect(ids).toHaveLength(PAGES - 2 + 2);
    expect(ids).not.toContain('bad-0');
    expect(ids).not.toContain('bad-7');
    expect(ids.slice(0, 2)).toEqual(['bad-1', 'bad-2']);
    expect(ids.slice(-2)).toEqual(['summary', 'end']);
  });

  it('stops at its next step once the client went away, without an end event', async () => {
    const { client, calls } = closedJobClient();
    const abort = new AbortController();
    const events = await service(client).events('j', { intervalMs: 10, resources: 'failed', signal: abort.signal });
    await events.next();
    abort.abort();
    const rest: JobEvent[] = [];
    for await (const e of events) rest.push(e);
    expect(rest.length).toBeLessThanOrEqual(1);
    expect(rest.some((e) => e.event === 'end')).toBe(false);
    expect(calls.filter((c) => c.startsWith('result:')).length).toBeLessThanOrEqual(2);
  });
});
