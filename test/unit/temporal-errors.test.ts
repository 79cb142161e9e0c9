import { Client, ServiceError, type ConnectionLike } from '@temporalio/client';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { JobService } from '../../src/api/job-service.js';
import { loadConfig } from '../../src/config/load-config.js';
import { builtInHandlers } from '../../src/handlers/registry.js';
import type { Storage } from '../../src/storage/storage.js';
import { ensureSearchAttributes, isSearchAttributeNotRegistered } from '../../src/temporal/search-attributes-setup.js';
import { SearchAttributes } from '../../src/model/search-attributes.js';
import { testApp } from '../support/app.js';

// What Temporal says while FetchBox's search attributes are missing or were registered a moment
// ago, and what the API and the worker's registration make of it.

const INVALID_ARGUMENT = 3;
const NO_MAPPING = 'Namespace default has no mapping defined for search attribute FetchBoxHandler';
const NOT_VALID = "invalid expression: column name 'FetchBoxHandler' is not a valid search attribute";

/**
 * An error shaped as @grpc/grpc-js raises it (callErrorFromStatus): code, details, and metadata
 * without status details.
 */
function grpcError(details: string, code = INVALID_ARGUMENT): Error {
  return Object.assign(new Error(`${code} INVALID_ARGUMENT: ${details}`), { code, details, metadata: { get: (): unknown[] => [] } });
}

/**
 * A real SDK Client over a stand-in connection whose frontend refuses starts and visibility
 * queries with the given errors, so the SDK wraps them as it does against a real cluster.
 */
function refusingClient(startError: Error, listError: Error): Client {
  const connection = {
    workflowService: {
      startWorkflowExecution: () => Promise.reject(startError),
      listWorkflowExecutions: () => Promise.reject(listError),
    },
    operatorService: {},
    withDeadline: (_deadline: number, fn: () => Promise<unknown>) => fn(),
    withMetadata: (_metadata: unknown, fn: () => Promise<unknown>) => fn(),
    withAbortSignal: (_signal: unknown, fn: () => Promise<unknown>) => fn(),
    ensureConnected: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  return new Client({ connection: connection as unknown as ConnectionLike, namespace: 'default' });
}

function appOver(client: Client) {
  const config = loadConfig({});
  const jobs = new JobService({ client, storage: {} as Storage, handlers: builtInHandlers(), config });
  return testApp(jobs);
}

const submit = (app: ReturnType<typeof appOver>) =>
  app.request('/jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jobId: 'j1', resources: [{ url: 'https://example.com/a' }] }),
  });

describe('isSearchAttributeNotRegistered', () => {
  it('recognises the frontend refusing FetchBox attributes, directly or as the cause of a ServiceError', () => {
    expect(isSearchAttributeNotRegistered(grpcError(NO_MAPPING))).toBe(true);
    expect(isSearchAttributeNotRegistered(new ServiceError('Failed to start Workflow', { cause: grpcError(NO_MAPPING) }))).toBe(true);
    expect(isSearchAttributeNotRegistered(grpcError(NOT_VALID))).toBe(true);
    expect(isSearchAttributeNotRegistered(grpcError('search attribute FetchBoxStatus is not defined'))).toBe(true);
    expect(isSearchAttributeNotRegistered(grpcError('invalid search attribute: FetchBoxBytes'))).toBe(true);
  });

  it('leaves other refusals and other attributes alone', () => {
    expect(isSearchAttributeNotRegistered(grpcError('Namespace default has no mapping defined for search attribute CustomerId'))).toBe(
      false,
    );
    expect(isSearchAttributeNotRegistered(grpcError('WorkflowId length exceeds limit'))).toBe(false);
    expect(isSearchAttributeNotRegistered(new Error('boom'))).toBe(false);
    expect(isSearchAttributeNotRegistered(undefined)).toBe(false);
  });
});

describe('the API while search attributes are not usable answers 503 with Retry-After, never 500', () => {
  const app = appOver(refusingClient(grpcError(NO_MAPPING), grpcError(NOT_VALID)));

  it('POST /jobs: 503 temporal_unavailable, Retry-After: 1, says how to register them', async () => {
    const res = await submit(app);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('temporal_unavailable');
    expect(body.error.message).toMatch(/search attributes are not registered/);
    expect(body.error.message).toContain('docs/deployment.md');
  });

  it('GET /jobs (a visibility query naming them): 503 with Retry-After', async () => {
    const res = await app.request('/jobs?handler=default');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ error: { code: 'temporal_unavailable' } });
  });

  it('another INVALID_ARGUMENT is still a 500 without Retry-After (not hidden as unavailable)', async () => {
    const other = appOver(refusingClient(grpcError('WorkflowId length exceeds limit'), grpcError('invalid query')));
    const res = await submit(other);
    expect(res.status).toBe(500);
    expect(res.headers.get('retry-after')).toBeNull();
  });
});

/** Log lines captured from a pino logger. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

/**
 * A namespace with no FetchBox attributes until addSearchAttributes, whose visibility queries
 * naming them fail `refusals` times after that (the mapping propagating), then succeed.
 */
function registeringClient(refusals: number) {
  const calls: string[] = [];
  let added = false;
  let refused = 0;
  const custom = () => (added ? Object.fromEntries(Object.values(SearchAttributes).map((k) => [k.name, 2])) : {});
  const client = {
    connection: {
      operatorService: {
        listSearchAttributes: async () => (calls.push('list'), { customAttributes: custom(), systemAttributes: { WorkflowId: 2 } }),
        addSearchAttributes: async () => (calls.push('add'), (added = true), {}),
      },
    },
    workflowService: {
      countWorkflowExecutions: async ({ query }: { query: string }) => {
        calls.push('count');
        expect(query).toContain('FetchBoxHandler');
        if (refused++ < refusals) throw grpcError(NOT_VALID);
        return { count: 0 };
      },
    },
  };
  return { client: client as unknown as Client, calls };
}

describe('ensureSearchAttributes waits until the frontend accepts what it registered', () => {
  it('polls a visibility query naming the attributes until it stops being refused', async () => {
    const { client, calls } = registeringClient(3);
    const { logger, lines } = capturingLogger();
    await ensureSearchAttributes(client, 'default', logger, 5_000);
    expect(calls.filter((c) => c === 'add')).toHaveLength(1);
    expect(calls.filter((c) => c === 'count')).toHaveLength(4);
    expect(lines.at(-1)).toMatchObject({ msg: 'registered FetchBox search attributes', readyAfterMs: expect.any(Number) as number });
  });

  it('gives up after the bound and warns (the worker starts anyway; the API answers 503 meanwhile)', async () => {
    const { client } = registeringClient(Number.POSITIVE_INFINITY);
    const { logger, lines } = capturingLogger();
    const started = Date.now();
    await ensureSearchAttributes(client, 'default', logger, 300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(lines.at(-1)).toMatchObject({ level: 40, waitedMs: 300 });
  });

  it('does not add or probe when the namespace already has them', async () => {
    const { client, calls } = registeringClient(0);
    await ensureSearchAttributes(client, 'default', pino({ level: 'silent' }), 300);
    calls.length = 0;
    await ensureSearchAttributes(client, 'default', pino({ level: 'silent' }), 300);
    expect(calls).toEqual(['list']);
  });
});
