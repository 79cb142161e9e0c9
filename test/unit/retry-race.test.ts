import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/api/api-error.js';
import { JobService, isAlreadyCompleted } from '../../src/api/job-service.js';
import { loadConfig } from '../../src/config/load-config.js';
import { builtInHandlers } from '../../src/handlers/registry.js';
import type { Storage } from '../../src/storage/storage.js';

type Status = 'RUNNING' | 'COMPLETED' | 'CANCELLED';

/**
 * A Temporal client whose job is `statuses[i]` at the i-th describe, whose retry signal finds the
 * workflow already closed (the race), and whose closed run has `failedPages`.
 */
function racingClient(statuses: Status[], opts: { failedPages?: number[]; startError?: Error } = {}) {
  const calls: string[] = [];
  let describes = 0;
  const client = {
    connection: { withDeadline: (_deadline: number, fn: () => Promise<unknown>) => fn() },
    workflow: {
      getHandle: (workflowId: string, runId?: string) => ({
        describe: async () => {
          const name = statuses[Math.min(describes, statuses.length - 1)]!;
          describes++;
          calls.push(`describe:${name}`);
          return {
            status: { name },
            runId: `run-${describes}`,
            memo: {},
            startTime: new Date(),
            typedSearchAttributes: { get: (key: { name: string }) => (key.name === 'FetchBoxStatus' ? 'completed_with_failures' : undefined) },
          };
        },
        signal: async () => {
          calls.push('signal');
          throw new WorkflowNotFoundError('workflow execution already completed', workflowId, undefined);
        },
        result: async () => {
          calls.push(`result:${runId ?? 'latest'}`);
          const carry = { failedPages: opts.failedPages ?? [0], failed: 1, retryRequests: 0 };
          return { handler: 'default', resume: { jobId: 'j', carry } };
        },
      }),
      start: async () => {
        calls.push('start');
        if (opts.startError) throw opts.startError;
      },
    },
  };
  return { client: client as unknown as Client, calls };
}

function service(client: Client) {
  return new JobService({ client, storage: {} as Storage, handlers: builtInHandlers(), config: loadConfig({}) });
}

describe('a retry racing the job close answers 202 or 409, never 500', () => {
  it('retries a job that closed between describe and signal as a closed job (202)', async () => {
    const { client, calls } = racingClient(['RUNNING', 'COMPLETED']);
    await expect(service(client).retry('j')).resolves.toEqual({ status: 'running', retrying: true });
    // The closed run's own result (by run id): a retry run started meanwhile is never waited for.
    expect(calls).toEqual(['describe:RUNNING', 'signal', 'describe:COMPLETED', 'result:run-2', 'start']);
  });

  it('answers 202 when a concurrent retry started the new run first', async () => {
    const { client } = racingClient(['RUNNING', 'COMPLETED'], { startError: new WorkflowExecutionAlreadyStartedError('started', 'job-j', 'jobWorkflow') });
    await expect(service(client).retry('j')).resolves.toEqual({ status: 'running', retrying: true });
  });

  it('answers nothing to retry when the job closed without failures', async () => {
    const { client } = racingClient(['RUNNING', 'COMPLETED'], { failedPages: [] });
    await expect(service(client).retry('j')).resolves.toEqual({ status: 'completed_with_failures', retrying: false });
  });

  it('answers 409 when the job was canceled meanwhile', async () => {
    const { client } = racingClient(['RUNNING', 'CANCELLED']);
    const err = await service(client).retry('j').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(409);
  });

  it('stops looking after three races in a row with 202 (a retry run is under way)', async () => {
    const { client, calls } = racingClient(['RUNNING']);
    await expect(service(client).retry('j')).resolves.toEqual({ status: 'running', retrying: true });
    expect(calls.filter((c) => c === 'signal')).toHaveLength(3);
  });

  it('recognises the server message for a signal to a closed workflow', () => {
    expect(isAlreadyCompleted(new Error('5 NOT_FOUND: workflow execution already completed'))).toBe(true);
    expect(isAlreadyCompleted(Object.assign(new Error('wrapped'), { cause: new Error('workflow execution already completed') }))).toBe(true);
    expect(isAlreadyCompleted(new Error('14 UNAVAILABLE: connection refused'))).toBe(false);
  });
});

describe('metric labels carry registered handler names only', () => {
  it('maps unknown handler names to other', () => {
    const jobs = service({} as Client);
    expect(jobs.handlerLabel('link-expander')).toBe('link-expander');
    expect(jobs.handlerLabel('made-up-' + 'x'.repeat(100))).toBe('other');
  });
});
