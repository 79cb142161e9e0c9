import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WithStartWorkflowOperation } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/api/api-error.js';
import { JobService } from '../../src/api/job-service.js';
import { isAlreadyCompleted } from '../../src/temporal/grpc-errors.js';
import { loadConfig } from '../../src/config/load-config.js';
import { builtInHandlers } from '../../src/handlers/registry.js';
import type { Storage } from '../../src/storage/storage.js';
import { RETRY_REFUSED } from '../../src/model/constants.js';

type Status = 'RUNNING' | 'COMPLETED' | 'CANCELLED';

/** The validator's refusal as the client reports it. */
function refused(message = 'job j is being canceled; a retry makes no sense'): WorkflowUpdateFailedError {
  return new WorkflowUpdateFailedError(
    'Workflow Update failed',
    ApplicationFailure.create({ type: RETRY_REFUSED, message, details: [{ status: 'running' }] }),
  );
}

/**
 * A Temporal client whose job is `statuses[i]` at the i-th describe, whose retry Update to the
 * running workflow finds it already closed (the race) unless `updateError` says otherwise, and whose
 * closed run has `failedPages`. Update-With-Start answers `retrying: true` or throws `startError`.
 */
function racingClient(statuses: Status[], opts: { failedPages?: number[]; startError?: Error; updateError?: Error } = {}) {
  const calls: string[] = [];
  const started: WithStartWorkflowOperation<never>[] = [];
  let describes = 0;
  const resume = { jobId: 'j', carry: { failedPages: opts.failedPages ?? [0], failed: 1, retryRequests: 0 } };
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
            typedSearchAttributes: {
              get: (key: { name: string }) => (key.name === 'FetchBoxStatus' ? 'completed_with_failures' : undefined),
            },
          };
        },
        executeUpdate: async () => {
          calls.push('update');
          throw opts.updateError ?? new WorkflowNotFoundError('workflow execution already completed', workflowId, undefined);
        },
        result: async () => {
          calls.push(`result:${runId ?? 'latest'}`);
          return { handler: 'default', resume };
        },
      }),
      executeUpdateWithStart: async (_update: unknown, options: { startWorkflowOperation: WithStartWorkflowOperation<never> }) => {
        calls.push('updateWithStart');
        started.push(options.startWorkflowOperation);
        if (opts.startError) throw opts.startError;
        return { status: 'running', retrying: true };
      },
    },
  };
  return { client: client as unknown as Client, calls, started, resume };
}

function service(client: Client) {
  return new JobService({ client, storage: {} as Storage, handlers: builtInHandlers(), config: loadConfig({}) });
}

describe('a retry racing the job close answers 202 or 409, never 500', () => {
  it('retries a job that closed between describe and Update as a closed job (Update-With-Start)', async () => {
    const { client, calls, started, resume } = racingClient(['RUNNING', 'COMPLETED']);
    await expect(service(client).retry('j')).resolves.toEqual({ status: 'running', retrying: true });
    // The closed run's own result (by run id): a retry run started meanwhile is never waited for.
    expect(calls).toEqual(['describe:RUNNING', 'update', 'describe:COMPLETED', 'result:run-2', 'updateWithStart']);
    // The new run's input is the closed run's resume, verbatim: the workflow's Update records the request.
    const options = started[0]!.options;
    expect(options.args).toEqual([resume]);
    expect(options).toMatchObject({
      workflowId: 'job-j',
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
  });

  it('answers 409 job_not_retryable when the running job refuses the Update (being canceled)', async () => {
    const { client, calls } = racingClient(['RUNNING'], { updateError: refused() });
    const err = await service(client)
      .retry('j')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, code: 'job_not_retryable' });
    expect((err as ApiError).message).toContain('being canceled');
    expect(calls).toEqual(['describe:RUNNING', 'update']);
  });

  it('answers 409 when the retry run Update-With-Start reached refuses it', async () => {
    const { client } = racingClient(['COMPLETED'], { startError: refused('job j is failing; a retry makes no sense') });
    await expect(service(client).retry('j')).rejects.toMatchObject({ status: 409, code: 'job_not_retryable' });
  });

  it('answers nothing to retry when the job closed without failures, and starts nothing', async () => {
    const { client, calls } = racingClient(['RUNNING', 'COMPLETED'], { failedPages: [] });
    await expect(service(client).retry('j')).resolves.toEqual({ status: 'completed_with_failures', retrying: false });
    expect(calls).not.toContain('updateWithStart');
  });

  it('answers 409 when the job was canceled meanwhile', async () => {
    const { client } = racingClient(['RUNNING', 'CANCELLED']);
    const err = await service(client)
      .retry('j')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(409);
  });

  it('stops looking after three races in a row with 202 (a retry run is under way)', async () => {
    const { client, calls } = racingClient(['RUNNING']);
    await expect(service(client).retry('j')).resolves.toEqual({ status: 'running', retrying: true });
    expect(calls.filter((c) => c === 'update')).toHaveLength(3);
  });

  it('recognises the server message for a message to a closed workflow', () => {
    expect(isAlreadyCompleted(new Error('5 NOT_FOUND: workflow execution already completed'))).toBe(true);
    expect(isAlreadyCompleted(Object.assign(new Error('wrapped'), { cause: new Error('workflow execution already completed') }))).toBe(
      true,
    );
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
