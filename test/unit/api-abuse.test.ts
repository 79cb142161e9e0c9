import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { listenApi } from '../../src/api/api-server.js';
import type { AppDeps } from '../../src/api/app.js';
import { bearerToken, parseTokens } from '../../src/api/auth.js';
import { CursorSigner } from '../../src/api/cursor.js';
import { JobService } from '../../src/api/job-service.js';
import type { JobEvent } from '../../src/api/jobs/job-events.js';
import { createJobContext } from '../../src/api/jobs/job-context.js';
import { encodeResourcesCursor, decodeResourcesCursor } from '../../src/api/jobs/resource-states.js';
import type { ReadinessCheck } from '../../src/api/service/health-routes.js';
import { apiClient } from '../../src/cli/api-client.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { builtInHandlers } from '../../src/handlers/registry.js';
import type { Storage } from '../../src/storage/storage.js';
import { testApp } from '../support/app.js';

// Item 4 of issue 22 ("auth and abuse"): each test here fails on the code before it.

/** A job service answering listings and event streams; every other call fails the test. */
function stubService(events?: (jobId: string, signal: AbortSignal) => AsyncGenerator<JobEvent>) {
  const calls: string[] = [];
  const parts: Partial<JobService> = {
    failures: async () => (calls.push('failures'), { items: [], next: null }),
    resources: async () => (calls.push('resources'), { items: [], next: null }),
    events: async (jobId, opts) => (calls.push(`events:${jobId}`), (events ?? idleEvents)(jobId, opts.signal!)),
  };
  const jobs = new Proxy(parts as JobService, {
    get(target, prop) {
      if (prop === 'temporalUiUrl') return () => 'http://ui';
      if (prop === 'handlerLabel') return (name: string) => name;
      if (prop in target) return target[prop as keyof JobService];
      throw new Error(`job service called (${String(prop)}) unexpectedly`);
    },
  });
  return { jobs, calls };
}

/** An event stream that sends only keepalives until the request is aborted (a job that stays running). */
async function* idleEvents(_jobId: string, signal: AbortSignal): AsyncGenerator<JobEvent> {
  while (!signal.aborted) {
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    if (!signal.aborted) yield { event: 'keepalive' } as JobEvent;
  }
}

const appWith = (deps: Partial<AppDeps>, jobs = stubService().jobs) => testApp(jobs, { bodyLimitBytes: 1024, ...deps });

describe('the bearer scheme, parsed once', () => {
  it.each([
    ['Bearer T', 'T'],
    ['bearer T', 'T'],
    ['BEARER T', 'T'],
    ['BeArEr abc.DEF_-~+/=', 'abc.DEF_-~+/='],
  ])('accepts %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([
    ['two spaces', 'Bearer  T'],
    ['a TAB', 'Bearer\tT'],
    ['no token', 'Bearer'],
    ['a space and no token', 'Bearer '],
    ['no space', 'BearerT'],
    ['another scheme', 'Basic T'],
    ['two tokens', 'Bearer T U'],
    ['a non-ASCII token', 'Bearer Tö'],
    ['nothing', undefined],
  ])('refuses %s', (_name, header) => {
    expect(bearerToken(header)).toBeUndefined();
  });

  it('answers 401 to every spelling but the scheme in any case and one space', async () => {
    const app = appWith({ tokens: parseTokens(['T']) });
    const status = async (authorization: string) => (await app.request('/jobs/a%20b', { headers: { authorization } })).status;
    // 400: the token was accepted and the (invalid) jobId reached validation.
    for (const ok of ['Bearer T', 'bearer T', 'BEARER T']) expect(await status(ok), ok).toBe(400);
    for (const bad of ['Bearer  T', 'Bearer\tT', 'Bearer', 'Basic T', 'Token T', 'Bearer T T']) expect(await status(bad), bad).toBe(401);
  });
});

describe('per-client limits are keyed on the token, never the header text', () => {
  const submit = (app: ReturnType<typeof appWith>, authorization: string) =>
    app.request('/jobs', { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: '{}' });

  it('after a token got 429, no other spelling of it gets through', async () => {
    const app = appWith({ tokens: parseTokens(['T', 'U']), submitRate: 0.001, submitBurst: 1 });
    expect((await submit(app, 'Bearer T')).status).toBe(400); // through the limiter, refused by validation
    const limited = await submit(app, 'Bearer T');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    for (const spelling of ['bearer T', 'BEARER T', 'BeArEr T']) expect((await submit(app, spelling)).status, spelling).toBe(429);
    for (const spelling of ['Bearer  T', 'Bearer\tT']) expect((await submit(app, spelling)).status, spelling).toBe(401);
    expect((await submit(app, 'Bearer U')).status).toBe(400); // another token has its own bucket
  });

  it('one token listed twice is one client, with the scopes of both entries', async () => {
    const tokens = parseTokens(['ingest=T', 'operator=T']);
    expect(tokens[0]!.id).toBe(tokens[1]!.id);
    const app = appWith({ tokens, submitRate: 0.001, submitBurst: 1 });
    expect((await submit(app, 'Bearer T')).status).toBe(400);
    expect((await submit(app, 'Bearer T')).status).toBe(429);
    expect((await app.request('/jobs/a%20b/cancel', { method: 'POST', headers: { authorization: 'Bearer T' } })).status).toBe(400);
  });
});

describe('listing rate limit (GET /failures, GET /jobs/{jobId}/resources)', () => {
  it('answers 429 with Retry-After past the burst, one bucket for both routes, per token', async () => {
    const { jobs, calls } = stubService();
    const app = appWith({ tokens: parseTokens(['A', 'B']), listRate: 0.5, listBurst: 2 }, jobs);
    const get = (path: string, token: string) => app.request(path, { headers: { authorization: `Bearer ${token}` } });
    expect((await get('/failures', 'A')).status).toBe(200);
    expect((await get('/jobs/j1/resources', 'A')).status).toBe(200);
    const limited = await get('/failures', 'A');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(await limited.json()).toMatchObject({ error: { code: 'rate_limited', message: expect.stringContaining('listings') } });
    expect((await get('/jobs/j1/resources', 'A')).status).toBe(429);
    expect((await get('/failures', 'B')).status).toBe(200);
    expect((await get('/jobs/j1', 'A')).status).not.toBe(429); // other reads are not limited
    expect(calls).toEqual(['failures', 'resources', 'failures']);
  });

  it('keys a token-less API on the client address', async () => {
    const app = appWith({ listRate: 0.5, listBurst: 1 });
    expect((await app.request('/failures')).status).toBe(200);
    expect((await app.request('/failures')).status).toBe(429);
  });
});

describe('open event streams per client', () => {
  const open = (app: ReturnType<typeof appWith>, token: string, jobId = 'j1') =>
    app.request(`/jobs/${jobId}/events`, { headers: { authorization: `Bearer ${token}` } });

  it('answers 429 with Retry-After beyond the cap, and frees a slot when a stream is closed', async () => {
    const app = appWith({ tokens: parseTokens(['A', 'B']), maxStreamsPerClient: 2 });
    const first = await open(app, 'A');
    const second = await open(app, 'A', 'j2');
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await open(app, 'A');
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(await third.json()).toMatchObject({ error: { code: 'rate_limited' } });
    expect((await open(app, 'B')).status).toBe(200); // another token has its own cap
    await first.body!.cancel(); // the client goes away
    const again = await open(app, 'A');
    expect(again.status).toBe(200);
    await Promise.all([second.body!.cancel(), again.body!.cancel()]);
  });

  it('frees the slot of a stream that ended (the job closed) and of a request answered before its stream began', async () => {
    async function* closedJob(): AsyncGenerator<JobEvent> {
      yield { event: 'end', data: { jobId: 'j1' } } as unknown as JobEvent;
    }
    const { jobs } = stubService(() => closedJob());
    const app = appWith({ maxStreamsPerClient: 1 }, jobs);
    for (let i = 0; i < 3; i++) {
      const res = await app.request('/jobs/j1/events');
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('event: end');
    }
    const failing = stubService(() => {
      throw new Error('boom'); // as a 404 or 503 before the stream begins
    });
    const refused = appWith({ maxStreamsPerClient: 1 }, failing.jobs);
    expect((await refused.request('/jobs/j1/events')).status).toBe(500);
    expect((await refused.request('/jobs/j1/events')).status).toBe(500); // not 429: the first freed its slot
  });
});

describe('a token-less API answers only to its own address (DNS rebinding)', () => {
  const bound = { host: '127.0.0.1', port: () => 3000 };
  const status = async (app: ReturnType<typeof appWith>, host?: string) =>
    (await app.request('/healthz', host === undefined ? {} : { headers: { host } })).status;

  it('serves the loopback names and the configured host with the bound port', async () => {
    const app = appWith({ bound });
    for (const host of ['127.0.0.1:3000', 'localhost:3000', 'LocalHost:3000', '[::1]:3000'])
      expect(await status(app, host), host).toBe(200);
    const v6 = appWith({ bound: { host: '::1', port: () => 3000 } });
    expect(await status(v6, '[::1]:3000')).toBe(200);
    const port80 = appWith({ bound: { host: 'localhost', port: () => 80 } });
    expect(await status(port80, 'localhost')).toBe(200);
    expect(await status(port80, 'localhost:80')).toBe(200);
  });

  it.each([
    ['a rebound DNS name', 'attacker.example:3000'],
    ['a name without the port', 'localhost'],
    ['another port', '127.0.0.1:3001'],
    ['a look-alike', '127.0.0.1.nip.io:3000'],
    ['a trailing dot', 'localhost.:3000'],
    ['a userinfo trick', 'localhost:3000@evil.test'],
    ['no Host at all', undefined],
  ])('answers 421 misdirected_request to %s, before any route runs', async (_name, host) => {
    const { jobs, calls } = stubService();
    const app = appWith({ bound }, jobs);
    const res = await app.request('/failures', host === undefined ? {} : { headers: { host } });
    expect(res.status).toBe(421);
    expect(await res.json()).toEqual({ error: { code: 'misdirected_request', message: expect.any(String) } });
    expect(calls).toEqual([]);
  });

  it('does not check Host when tokens are on (the token is the defence, proxies may rename)', async () => {
    const app = appWith({ bound, tokens: parseTokens(['T']) });
    expect(await status(app, 'fetchbox.internal:443')).toBe(200);
  });
});

describe('/readyz', () => {
  const logged: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) });
  const secret = 'ENOENT: no such file /srv/fetchbox/objects/.probe at 10.1.2.3:9000';

  it('reports each check as ok or error, the details only in the log', async () => {
    const checks: ReadinessCheck[] = [
      { name: 'temporal', check: async () => {} },
      {
        name: 'storage',
        check: async () => {
          throw new Error(secret);
        },
      },
    ];
    const app = testApp(stubService().jobs, { logger, bodyLimitBytes: 1024, checks });
    const res = await app.request('/readyz');
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ status: 'error', checks: { temporal: 'ok', storage: 'error' } });
    for (const leak of ['/srv', '10.1.2.3', 'ENOENT', ' at ']) expect(text).not.toContain(leak);
    expect(logged.join('\n')).toContain(secret);
    expect(logged.join('\n')).toContain('readiness check failed');
  });

  it('runs each check at most once per cache period; concurrent callers share one run', async () => {
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const checks: ReadinessCheck[] = [{ name: 'storage', check: async () => (runs++, gate) }];
    const app = testApp(stubService().jobs, { bodyLimitBytes: 1024, checks, readinessCacheMs: 60_000 });
    const answers = Array.from({ length: 20 }, () => app.request('/readyz'));
    release();
    expect((await Promise.all(answers)).map((r) => r.status)).toEqual(Array(20).fill(200));
    expect((await app.request('/readyz')).status).toBe(200);
    expect(runs).toBe(1);

    let uncached = 0;
    const every = testApp(stubService().jobs, {
      bodyLimitBytes: 1024,
      checks: [{ name: 'storage', check: async () => void uncached++ }],
      readinessCacheMs: 0,
    });
    await every.request('/readyz');
    await every.request('/readyz');
    expect(uncached).toBe(2);
  });
});

describe('signed cursors', () => {
  /** A Temporal client that records every call: a refused cursor must leave it untouched. */
  function recordingClient() {
    const calls: string[] = [];
    const record = (name: string) => () => (calls.push(name), Promise.reject(new Error(`Temporal called: ${name}`)));
    const client = {
      connection: { withDeadline: (_d: number, fn: () => Promise<unknown>) => fn() },
      workflowService: { listWorkflowExecutions: record('listWorkflowExecutions') },
      workflow: { getHandle: () => ({ describe: record('describe'), result: record('result') }) },
    } as unknown as Client;
    return { client, calls };
  }
  const config = loadConfig({ FETCHBOX_CURSOR_SECRET: 's'.repeat(32) });

  it('a forged, tampered, foreign or unsigned cursor is 400 invalid_request before Temporal is called', async () => {
    const { client, calls } = recordingClient();
    const jobs = new JobService({ client, storage: {} as Storage, handlers: builtInHandlers(), config });
    const app = testApp(jobs, { bodyLimitBytes: 1024 });
    const ours = CursorSigner.fromSecret(config.api.cursorSecret!);
    const real = encodeResourcesCursor(ours, 'j1', { page: 1, offset: 0 });
    const forged = [
      '1.0', // the unsigned form cursors had before
      `1-0${'A'.repeat(43)}`,
      encodeResourcesCursor(CursorSigner.random(), 'j1', { page: 1, offset: 0 }), // another key
      encodeResourcesCursor(ours, 'j2', { page: 1, offset: 0 }), // another job's
      `9${real.slice(1)}`, // tampered position
      real.slice(0, -1) + (real.endsWith('A') ? 'B' : 'A'), // tampered MAC
    ];
    for (const cursor of forged) {
      const res = await app.request(`/jobs/j1/resources?cursor=${encodeURIComponent(cursor)}`);
      expect(res.status, cursor).toBe(400);
      expect(await res.json(), cursor).toMatchObject({ error: { code: 'invalid_request' } });
    }
    for (const cursor of ['eyJ2IjoxfQ', `eyJ2IjoxfQ${'A'.repeat(43)}`]) {
      expect((await app.request(`/failures?cursor=${cursor}`)).status, cursor).toBe(400);
      expect((await app.request(`/jobs?cursor=${cursor}`)).status, cursor).toBe(400);
    }
    expect(calls).toEqual([]);
  });

  it('with one FETCHBOX_CURSOR_SECRET, a cursor of one API process is good on another (replicas, restarts)', () => {
    const deps = { client: {} as Client, storage: {} as Storage, handlers: builtInHandlers(), config };
    const cursor = encodeResourcesCursor(createJobContext(deps).cursors, 'j1', { page: 3, offset: 7 });
    expect(decodeResourcesCursor(createJobContext(deps).cursors, 'j1', cursor)).toEqual({ page: 3, offset: 7 });
    const unset = { ...deps, config: loadConfig({}) };
    expect(() => decodeResourcesCursor(createJobContext(unset).cursors, 'j1', cursor)).toThrow();
  });

  it('refuses a secret shorter than 32 characters, without echoing it', () => {
    expect(() => loadConfig({ FETCHBOX_CURSOR_SECRET: 'short-secret' })).toThrow(ConfigError);
    expect(() => loadConfig({ FETCHBOX_CURSOR_SECRET: 'short-secret' })).not.toThrow(/short-secret/);
  });
});

describe('API server settings', () => {
  it('refuses a headers timeout longer than the request timeout', () => {
    expect(() => loadConfig({ FETCHBOX_API_HEADERS_TIMEOUT_MS: '60000', FETCHBOX_API_REQUEST_TIMEOUT_MS: '30000' })).toThrow(
      /FETCHBOX_API_HEADERS_TIMEOUT_MS/,
    );
  });
});

describe('the fetchbox CLI and the listing limit', () => {
  it('waits out a 429 on a read for Retry-After and tries again (paging a large job is not refused)', async () => {
    const { jobs, calls } = stubService();
    const app = appWith({ listRate: 1, listBurst: 1 }, jobs);
    const server = await listenApi(
      app.fetch,
      { hostname: '127.0.0.1', port: 0 },
      { headersTimeoutMs: 5_000, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 1_000, maxConnections: 10 },
    );
    try {
      const client = apiClient({ api: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }, {});
      expect((await client.failures()).items).toEqual([]);
      const started = performance.now();
      expect((await client.failures()).items).toEqual([]); // 429 first, then the retry
      expect(performance.now() - started).toBeGreaterThanOrEqual(900);
      expect(calls).toEqual(['failures', 'failures']);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
