import { Client, type Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTokens } from '../../src/api/auth.js';
import { JobService } from '../../src/api/job-service.js';
import type { Io } from '../../src/cli/api-client.js';
import { failuresCommand } from '../../src/cli/failures-command.js';
import { jobsCommand } from '../../src/cli/jobs-command.js';
import { builtInHandlers } from '../../src/handlers/registry.js';
import { createApiConnection } from '../../src/temporal/api-connection.js';
import { freePort } from '../support/ports.js';
import { startOrigin, type Origin } from '../support/origin.js';
import { serveApp, startStack, uniqueJobId, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait-for.js';
import type { App } from '../../src/api/app.js';
import { testApp } from '../support/app.js';

// Three jobs fail in three ways: A (two pages) with 404s (http_status), B with 503s past its two
// attempts (retries_exhausted), C on another origin with a body over the 1,000-byte limit (too_large).
let origin: Origin;
let other: Origin;
let stack: Stack;
let server: { url: string; close(): Promise<void> };
const A = uniqueJobId('dlq-a');
const B = uniqueJobId('dlq-b');
const C = uniqueJobId('dlq-c');
let T0: string;
const closedAt: Record<string, string> = {};

beforeAll(async () => {
  origin = await startOrigin();
  other = await startOrigin();
  stack = await startStack('file', { FETCHBOX_RETRY_MAX_ATTEMPTS: '2', FETCHBOX_FETCH_MAX_BYTES: '1000', FETCHBOX_JOB_PAGE_SIZE: '2' });
  server = await serveApp(stack.app);
  T0 = new Date(Date.now() - 1000).toISOString();
  origin.broken.add(`${A}-1`).add(`${A}-2`);
  const submits = await Promise.all([
    stack.submit({
      jobId: A,
      resources: [
        { id: 'a1', url: `${origin.url}/switch/10/${A}-1` },
        { id: 'ok', url: `${origin.url}/bytes/10/${A}` },
        { id: 'a2', url: `${origin.url}/switch/10/${A}-2` },
      ],
    }),
    stack.submit({ jobId: B, resources: [{ id: 'b1', url: `${origin.url}/flaky/2/503/10/${B}` }] }),
    stack.submit({ jobId: C, resources: [{ id: 'c1', url: `${other.url}/bytes/5000/${C}` }] }),
  ]);
  expect(submits.map((s) => s.status)).toEqual([202, 202, 202]);
  for (const jobId of [A, B, C]) {
    const summary = await stack.waitForJob(jobId);
    expect(summary.status, jobId).toBe('completed_with_failures');
    closedAt[jobId] = summary.closedAt;
  }
});
afterAll(async () => {
  await server?.close();
  await stack?.close();
  await origin?.close();
  await other?.close();
});

/** Polls until `ok` holds (visibility indexes closes a moment later), returning that value. */
async function eventually<T>(fn: () => Promise<T>, ok: (value: T) => boolean, ms = 20_000): Promise<T> {
  let last: T | undefined;
  const held = await waitFor(
    'the listing to settle',
    async () => {
      last = await fn();
      return ok(last) ? { value: last } : undefined;
    },
    { timeoutMs: ms, intervalMs: 200, report: () => JSON.stringify(last) },
  );
  return held.value;
}

async function page(query: string): Promise<{ items: any[]; nextCursor: string | null }> {
  const res = await stack.app.request(`/failures?${query}`);
  expect(res.status, `${query}: ${await res.clone().text()}`).toBe(200);
  return (await res.json()) as { items: any[]; nextCursor: string | null };
}

/** Every failure of a query, following cursors; also how many pages it took. */
async function allFailures(query: string): Promise<any[] & { pages?: number }> {
  const items: any[] & { pages?: number } = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const p = await page(`${query}${cursor ? `&cursor=${cursor}` : ''}`);
    items.push(...p.items);
    cursor = p.nextCursor;
    pages++;
  } while (cursor);
  items.pages = pages;
  return items;
}

const ours = (items: any[], jobs = [A, B, C]) => items.filter((i) => jobs.includes(i.jobId));
const ids = (items: any[]) => items.map((i) => `${i.jobId}/${i.id}`);

async function retries(body: unknown, app = stack.app, token?: string): Promise<{ status: number; body: any }> {
  const res = await app.request('/retries', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

describe('GET /failures', () => {
  it('lists the failed resources of the three jobs, each with its job, error and when', async () => {
    const all = await eventually(
      () => allFailures(`since=${T0}`),
      (items) => ours(items).length === 4,
    );
    expect(ours(all)).toHaveLength(4);
    const byId = Object.fromEntries(ours(all).map((i) => [`${i.jobId}/${i.id}`, i]));
    expect(byId[`${A}/a1`]).toEqual({
      jobId: A,
      handler: 'default',
      id: 'a1',
      url: `${origin.url}/switch/10/${A}-1`,
      key: expect.any(String),
      attempts: 1,
      error: { kind: 'http_status', message: expect.any(String), httpStatus: 404 },
      when: closedAt[A],
      page: 0,
    });
    expect(byId[`${A}/a2`]).toMatchObject({ page: 1, error: { kind: 'http_status', httpStatus: 404 } });
    expect(byId[`${B}/b1`]).toMatchObject({ attempts: 2, error: { kind: 'retries_exhausted' }, when: closedAt[B] });
    expect(byId[`${C}/c1`]).toMatchObject({ error: { kind: 'too_large' }, when: closedAt[C], url: `${other.url}/bytes/5000/${C}` });
    // Newest jobs first; a job's failures together, in page order.
    const whens = all.map((i) => i.when as string);
    expect([...whens].sort().reverse()).toEqual(whens);
    expect(ids(ours(all, [A]))).toEqual([`${A}/a1`, `${A}/a2`]);
  });

  it('filters by kind, host, handler and time window', async () => {
    // ours(): the window opens 1 s before this file's first job, where an earlier file's last job may have closed.
    expect(ids(ours(await allFailures(`since=${T0}&kind=too_large`)))).toEqual([`${C}/c1`]);
    expect(ids(ours(await allFailures(`since=${T0}&kind=http_status`)))).toEqual([`${A}/a1`, `${A}/a2`]);
    expect(ids(await allFailures(`since=${T0}&host=${new URL(other.url).host}`))).toEqual([`${C}/c1`]);
    expect(ids(await allFailures(`since=${T0}&host=${new URL(other.url).host.toUpperCase()}`))).toEqual([`${C}/c1`]);
    expect(ids(ours(await allFailures(`since=${T0}&host=${new URL(origin.url).host}`))).sort()).toEqual(
      [`${A}/a1`, `${A}/a2`, `${B}/b1`].sort(),
    );
    expect([...(await allFailures('handler=nobody'))]).toEqual([]);
    expect(ours(await allFailures(`since=${T0}&handler=default`))).toHaveLength(4);
    expect(ours(await allFailures(`until=${T0}`))).toEqual([]);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect([...(await allFailures(`since=${encodeURIComponent(future)}`))]).toEqual([]);
  });

  it('paginates with an opaque cursor bound to its filter', async () => {
    const all = await allFailures(`since=${T0}`);
    const oneByOne = await allFailures(`since=${T0}&limit=1`);
    expect(ids(oneByOne)).toEqual(ids(all));
    expect(oneByOne.pages).toBeGreaterThanOrEqual(all.length);
    const first = await page(`since=${T0}&limit=1`);
    expect(first.items).toHaveLength(1);
    expect(first.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
    const foreign = await stack.app.request(`/failures?since=${T0}&kind=timeout&limit=1&cursor=${first.nextCursor}`);
    expect(foreign.status).toBe(400);
    expect(await foreign.json()).toMatchObject({ error: { code: 'invalid_request', message: expect.stringMatching(/other filters/) } });
  });

  it('answers 400 to a bad cursor, kind, since or limit', async () => {
    for (const query of [
      'cursor=nonsense',
      `cursor=${Buffer.from('{"v":1}').toString('base64url')}`,
      'kind=exploded',
      'since=yesterday',
      'until=2026-02-30T00:00:00Z',
      'limit=5000',
    ]) {
      const res = await stack.app.request(`/failures?${query}`);
      expect(res.status, query).toBe(400);
      expect(await res.json(), query).toMatchObject({ error: { code: 'invalid_request' } });
    }
  });
});

describe('fetchbox failures', () => {
  const run = async (args: string[]) => {
    let out = '';
    let err = '';
    const io: Io = { out: (t) => void (out += t), err: (t) => void (err += t), stdin: async () => '' };
    const code = await failuresCommand(args, { FETCHBOX_API_URL: server.url }, io);
    return { code, out, err };
  };

  it('prints the failures with a per-kind and per-host summary', async () => {
    const host = new URL(origin.url).host;
    const { code, out } = await run(['--since', T0, '--host', host]);
    expect(code).toBe(0);
    expect(out).toMatch(new RegExp(`  ${A}  a1  \\[http_status 404\\] ${origin.url}/switch/10/${A}-1  .* \\(1 attempt\\)`));
    expect(out).toMatch(new RegExp(`  ${B}  b1  \\[retries_exhausted 503\\] .* \\(2 attempts\\)`));
    expect(out).toContain('3 failures in 2 jobs\nby kind: http_status 2, retries_exhausted 1\n');
    expect(out).toContain(`by host: ${host} 3\n`);
    const json = await run(['--since', T0, '--kind', 'too_large', '--json']);
    expect(JSON.parse(json.out)).toMatchObject({
      items: [{ jobId: C, id: 'c1' }],
      summary: { failures: 1, jobs: 1, byKind: { too_large: 1 }, truncated: false },
    });
    const bad = await run(['--kind', 'exploded']);
    expect(bad.code).toBe(4);
    expect(bad.err).toMatch(/400 invalid_request/);
    expect((await run(['--since', 'yesterday'])).code).toBe(2);
  });
});

describe('POST /retries', () => {
  let cRunId: string;
  beforeAll(async () => {
    cRunId = (await stack.client.workflow.getHandle(`job-${C}`).describe()).runId;
  });

  it('retries the jobs named by jobIds once the origin is fixed; the third stays as it was', async () => {
    origin.broken.delete(`${A}-1`);
    origin.broken.delete(`${A}-2`); // B's origin answers its third request
    const dry = await retries({ jobIds: [A, B], dryRun: true });
    expect(dry).toMatchObject({ status: 202, body: { dryRun: true, matched: 2, retried: 0 } });
    const res = await retries({ jobIds: [A, B, A] });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ dryRun: false, matched: 2, retried: 2, skipped: {}, batchId: expect.any(String) });
    expect(res.body.jobs).toEqual([
      { jobId: A, outcome: 'retrying', status: 'running', links: { self: `/jobs/${A}` } },
      { jobId: B, outcome: 'retrying', status: 'running', links: { self: `/jobs/${B}` } },
    ]);
    for (const jobId of [A, B]) expect((await stack.waitForJob(jobId)).status, jobId).toBe('completed');
    const c = await stack.client.workflow.getHandle(`job-${C}`).describe();
    expect(c.runId).toBe(cRunId);
    expect((await stack.waitForJob(C)).status).toBe('completed_with_failures');
    // The retried jobs' earlier runs are superseded: their failures leave the view.
    expect(ids(ours(await allFailures(`since=${T0}`)))).toEqual([`${C}/c1`]);
    const missing = await retries({ jobIds: [uniqueJobId('ghost')] });
    expect(missing.body).toMatchObject({ matched: 1, retried: 0, skipped: { not_found: 1 } });
  });

  it('retries the jobs a filter matches (fetchbox jobs retry --where); other jobs untouched', async () => {
    const T1 = new Date().toISOString();
    const D = uniqueJobId('dlq-d');
    const E = uniqueJobId('dlq-e');
    origin.broken.add(`${D}-1`);
    await stack.submit({ jobId: D, resources: [{ id: 'd1', url: `${origin.url}/switch/10/${D}-1` }] });
    await stack.submit({ jobId: E, resources: [{ id: 'e1', url: `${origin.url}/flaky/2/503/10/${E}` }] });
    for (const jobId of [D, E]) expect((await stack.waitForJob(jobId)).status).toBe('completed_with_failures');
    const filter = { status: 'completed_with_failures', since: T1 };
    const dry = await eventually(
      () => retries({ ...filter, dryRun: true }),
      (r) => r.body.matched === 2,
    );
    expect(dry.body.jobs.map((j: any) => j.jobId).sort()).toEqual([D, E].sort());
    const byKind = await retries({ since: T1, kind: 'http_status', dryRun: true });
    expect(byKind.body).toMatchObject({ matched: 1, jobs: [{ jobId: D, outcome: 'matched' }] });
    expect((await retries({ status: 'running', kind: 'http_status' })).status).toBe(400);

    origin.broken.delete(`${D}-1`);
    let out = '';
    const io: Io = { out: (t) => void (out += t), err: (t) => void (out += t), stdin: async () => '' };
    const code = await jobsCommand(
      ['retry', '--where', `status=completed_with_failures,since=${T1}`],
      { FETCHBOX_API_URL: server.url },
      io,
    );
    expect(code, out).toBe(0);
    expect(out).toMatch(/^matched 2, retrying 2 \(batch [0-9a-f-]+\)$/m);
    for (const jobId of [D, E]) expect((await stack.waitForJob(jobId)).status, jobId).toBe('completed');
    expect((await stack.client.workflow.getHandle(`job-${C}`).describe()).runId).toBe(cRunId);
  });

  it('a retried job that fails again stays in the view by its latest run, attempts added over rounds', async () => {
    const res = await retries({ since: T0, kind: 'too_large' });
    expect(res.body).toMatchObject({ matched: 1, retried: 1, jobs: [{ jobId: C, outcome: 'retrying' }] });
    const summary = await stack.waitForJob(C);
    expect(summary.status).toBe('completed_with_failures');
    expect(summary.closedAt > closedAt[C]!).toBe(true);
    const items = await eventually(
      () => allFailures(`since=${T0}&kind=too_large`),
      (found) => found.some((i) => i.when === summary.closedAt),
    );
    expect([...items]).toEqual([
      expect.objectContaining({
        jobId: C,
        id: 'c1',
        attempts: 2,
        when: summary.closedAt,
        page: 0,
        error: expect.objectContaining({ kind: 'too_large' }),
      }),
    ]);
  });

  it('needs the operator scope; GET /failures needs read', async () => {
    const jobs = new JobService({ client: stack.client, storage: stack.storage, handlers: builtInHandlers(), config: stack.config });
    const app = testApp(jobs, { tokens: parseTokens(['read=viewer', 'operator=ops']) });
    expect((await retries({ jobIds: [C], dryRun: true }, app)).status).toBe(401);
    expect(await retries({ jobIds: [C], dryRun: true }, app, 'viewer')).toMatchObject({
      status: 403,
      body: { error: { code: 'forbidden' } },
    });
    expect(await retries({ jobIds: [C], dryRun: true }, app, 'ops')).toMatchObject({ status: 202, body: { matched: 1 } });
    expect((await app.request('/failures')).status).toBe(401);
    expect((await app.request(`/failures?since=${T0}`, { headers: { authorization: 'Bearer viewer' } })).status).toBe(200);
  });
});

describe('with Temporal unreachable', () => {
  let connection: Connection;
  let app: App;
  beforeAll(async () => {
    connection = createApiConnection({ address: `127.0.0.1:${await freePort()}`, connectTimeoutMs: 500 });
    const config = { ...stack.config, api: { ...stack.config.api, temporalTimeoutMs: 1_000 } };
    const jobs = new JobService({ client: new Client({ connection }), storage: stack.storage, handlers: builtInHandlers(), config });
    app = testApp(jobs);
  });
  afterAll(async () => {
    await connection?.close();
  });

  it('answers 503 temporal_unavailable to GET /failures and POST /retries', async () => {
    const listed = await app.request('/failures');
    expect(listed.status).toBe(503);
    expect(await listed.json()).toMatchObject({ error: { code: 'temporal_unavailable' } });
    for (const body of [{ jobIds: ['a', 'b'] }, { status: 'completed_with_failures' }]) {
      const res = await retries(body, app);
      expect(res.status, JSON.stringify(body)).toBe(503);
      expect(res.body).toMatchObject({ error: { code: 'temporal_unavailable' } });
    }
  });
});
