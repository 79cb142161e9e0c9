import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import os from 'node:os';
import { Client, type Connection } from '@temporalio/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobService } from '../../src/api/job-service.js';
import { declaredRoutes } from '../../src/api/route-security.js';
import { temporalReady } from '../../src/cli/run-api.js';
import { createApiConnection } from '../../src/temporal/api-connection.js';
import { builtInHandlers } from '../../src/handlers/registry.js';
import { freePort } from '../support/ports.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';
import type { App } from '../../src/api/app.js';
import { testApp } from '../support/app.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack('file');
});
afterAll(async () => {
  await stack?.close();
});

describe('API errors against the real stack', () => {
  it('404 job_not_found for a job that does not exist', async () => {
    for (const path of [`/jobs/${uniqueJobId('ghost')}`, `/jobs/${uniqueJobId('ghost')}/resources`]) {
      const res = await stack.app.request(path);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: 'job_not_found' } });
    }
  });

  it('400 unknown_handler, listing the known ones', async () => {
    const res = await stack.submit({ handler: 'nope', resources: [{ url: 'http://127.0.0.1:1/x' }] });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'unknown_handler', details: { known: ['default', 'link-expander'] } } });
  });

  it('400 invalid_manifest for duplicate resource ids and for more resources than the limit', async () => {
    const dup = await stack.submit({
      resources: [
        { url: 'http://127.0.0.1:1/a', id: 'x' },
        { url: 'http://127.0.0.1:1/b', id: 'x' },
      ],
    });
    expect(dup).toMatchObject({ status: 400, body: { error: { code: 'invalid_manifest', details: [{ path: 'resources.1.id' }] } } });
  });

  it('generates a jobId when the manifest has none', async () => {
    const res = await stack.submit({ resources: [{ url: 'http://127.0.0.1:1/unreachable' }] });
    expect(res.status).toBe(202);
    expect(res.body.jobId).toMatch(/^[0-9a-f-]{36}$/);
    await stack.client.workflow.getHandle(`job-${res.body.jobId as string}`).terminate('test cleanup');
  });

  it('refuses the hostile manifests of issue 12 with 400 invalid_manifest naming the field, and starts no job', async () => {
    const victim = uniqueJobId('victim');
    const url = 'http://127.0.0.1:9/x';
    const cases: [unknown, string][] = [
      [{ resources: [{ url, key: `${victim}/.fetchbox/0123456789abcdef/pages/000000.json` }] }, 'resources.0.key'],
      [{ resources: [{ url, key: '.fetchbox-meta/a/b.json' }] }, 'resources.0.key'],
      [{ resources: [{ url, key: '.FetchBox-Tmp/x' }] }, 'resources.0.key'],
      [{ jobId: '.', resources: [{ url }] }, 'jobId'],
      [{ jobId: '..', resources: [{ url }] }, 'jobId'],
      [{ resources: [{ url, headers: { Host: 'internal.example' } }] }, 'resources.0.headers.Host'],
      [{ resources: [{ url, headers: { 'Transfer-Encoding': 'chunked' } }] }, 'resources.0.headers.Transfer-Encoding'],
      [{ resources: [{ url, headers: { Connection: 'close' } }] }, 'resources.0.headers.Connection'],
    ];
    for (const [manifest, path] of cases) {
      const res = await stack.submit(manifest);
      expect(res.status, JSON.stringify(manifest)).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'invalid_manifest', details: [{ path }] } });
    }
  });

  it('a flood of 200,000 empty resources answers 400 with a small body, and the API keeps answering', async () => {
    const res = await stack.app.request('/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resources: Array.from({ length: 200_000 }, () => ({})) }),
    });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text.length).toBeLessThan(64 * 1024);
    expect((await stack.app.request('/healthz')).status).toBe(200);
  });

  describe('with Temporal unreachable', () => {
    // FETCHBOX_API_TEMPORAL_TIMEOUT_MS bounds the wait; the default is 5 s.
    let connection: Connection;
    let app: App;
    beforeAll(async () => {
      connection = createApiConnection({ address: `127.0.0.1:${await freePort()}`, connectTimeoutMs: 500 });
      const client = new Client({ connection });
      const jobs = new JobService({ client, storage: stack.storage, handlers: builtInHandlers(), config: stack.config });
      app = testApp(jobs, { checks: [{ name: 'temporal', check: () => temporalReady(client) }] });
    });
    afterAll(async () => {
      await connection?.close();
    });

    it('answers 503 temporal_unavailable to a submit, and /readyz 503', async () => {
      const res = await app.request('/jobs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jobId: uniqueJobId('down'), resources: [{ url: 'http://127.0.0.1:1/a' }] }),
      });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: { code: 'temporal_unavailable' } });
      const ready = await app.request('/readyz');
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'error', checks: { temporal: expect.stringMatching(/^error/) } });
    });
  });
});

describe('auth and body limits on the real stack', () => {
  let secured: Stack;
  beforeAll(async () => {
    secured = await startStack('file', {
      FETCHBOX_API_TOKENS: 'ingest=crawler,operator=ops',
      FETCHBOX_API_BODY_LIMIT_BYTES: '2000',
      FETCHBOX_LIMITS_MAX_METADATA_BYTES: '100',
    });
  });
  afterAll(async () => {
    await secured?.close();
  });

  const post = (path: string, token: string | undefined, body: string, type = 'application/json') =>
    secured.app.request(path, {
      method: 'POST',
      headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body,
    });

  it('401 without a token, 403 with the wrong scope, 202 with the right one', async () => {
    const manifest = JSON.stringify({ jobId: uniqueJobId('auth'), resources: [{ url: 'http://127.0.0.1:9/x' }] });
    expect((await post('/jobs', undefined, manifest)).status).toBe(401);
    const forbidden = await post('/jobs', 'ops', manifest);
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ error: { code: 'forbidden' } });
    const accepted = await post('/jobs', 'crawler', manifest);
    expect(accepted.status).toBe(202);
    const { jobId } = (await accepted.json()) as { jobId: string };
    expect((await post(`/jobs/${jobId}/cancel`, 'crawler', '')).status).toBe(403);
    expect((await post(`/jobs/${jobId}/cancel`, 'ops', '')).status).toBe(202);
  });

  it('every route the app serves declares its access; without a token each non-public one answers 401', async () => {
    const routes = declaredRoutes(secured.app);
    expect(routes.filter((r) => !r.access)).toEqual([]);
    const open = routes.filter((r) => r.access && 'public' in r.access).map((r) => `${r.method} ${r.path}`);
    expect(open).toEqual(expect.arrayContaining(['GET /healthz', 'GET /readyz', 'GET /openapi.json', 'GET /docs', 'GET /metrics']));
    for (const r of routes) {
      const url = r.path.replaceAll(/:[^/]+/g, 'some-job');
      const res = await secured.app.request(url, {
        method: r.method,
        ...(r.method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, body: '{}' }),
      });
      if (open.includes(`${r.method} ${r.path}`)) expect(res.status, `${r.method} ${r.path}`).toBe(200);
      else expect({ route: `${r.method} ${r.path}`, status: res.status }).toEqual({ route: `${r.method} ${r.path}`, status: 401 });
    }
  });

  it('checks the token before the body: no token answers 401 to an oversized or non-JSON submit', async () => {
    const big = JSON.stringify({ resources: Array.from({ length: 100 }, (_, i) => ({ url: `http://127.0.0.1:9/${i}` })) });
    expect((await post('/jobs', undefined, big)).status).toBe(401);
    expect((await post('/jobs', undefined, '{}', 'text/plain')).status).toBe(401);
    expect((await post('/jobs', 'ops', big)).status).toBe(403);
  });

  it('400 invalid_manifest naming metadata over FETCHBOX_LIMITS_MAX_METADATA_BYTES', async () => {
    const manifest = (size: number) =>
      JSON.stringify({ jobId: uniqueJobId('meta'), metadata: { a: 'x'.repeat(size) }, resources: [{ url: 'http://127.0.0.1:9/x' }] });
    const refused = await post('/jobs', 'crawler', manifest(200));
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { code: 'invalid_manifest', details: [{ path: 'metadata' }] } });
    const accepted = await post('/jobs', 'crawler', manifest(20));
    expect(accepted.status).toBe(202);
    const { jobId } = (await accepted.json()) as { jobId: string };
    expect((await post(`/jobs/${jobId}/cancel`, 'ops', '')).status).toBe(202);
  });

  it('413 payload_too_large and 415 unsupported_media_type', async () => {
    const big = JSON.stringify({ resources: Array.from({ length: 100 }, (_, i) => ({ url: `http://127.0.0.1:9/${i}` })) });
    const tooLarge = await post('/jobs', 'crawler', big);
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    const wrongType = await post('/jobs', 'crawler', '{}', 'application/x-www-form-urlencoded');
    expect(wrongType.status).toBe(415);
    expect(await wrongType.json()).toMatchObject({ error: { code: 'unsupported_media_type' } });
  });
});

describe('runApi without tokens', () => {
  it('refuses to listen on a non-loopback address', async () => {
    const { runApi } = await import('../../src/cli/run-api.js');
    const { loadConfig } = await import('../../src/config/load-config.js');
    const config = loadConfig({ FETCHBOX_API_HOST: '0.0.0.0', FETCHBOX_API_PORT: '0' });
    await expect(runApi(config, pino({ level: 'silent' }))).rejects.toThrow(/refusing to listen on 0\.0\.0\.0 without authentication/);
  });
  it('answers only to its bound address over a real socket, with the configured server limits (issue 22)', async () => {
    const { runApi } = await import('../../src/cli/run-api.js');
    const { loadConfig } = await import('../../src/config/load-config.js');
    const lines: string[] = [];
    const config = loadConfig({
      FETCHBOX_API_PORT: '0',
      FETCHBOX_STORAGE_URL: `file://${os.tmpdir()}/fetchbox-host-check`,
      FETCHBOX_API_HEADERS_TIMEOUT_MS: '500',
    });
    const api = await runApi(config, pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) }));
    try {
      const port = Number(new URL(api.url).port);
      const get = (host: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpRequest({ host: '127.0.0.1', port, path: '/healthz', headers: { host } }, (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.on('error', reject);
          req.end();
        });
      expect((await get(`127.0.0.1:${port}`)).status).toBe(200);
      expect((await get(`localhost:${port}`)).status).toBe(200);
      const rebound = await get(`attacker.example:${port}`);
      expect(rebound.status).toBe(421);
      expect(JSON.parse(rebound.body)).toMatchObject({ error: { code: 'misdirected_request' } });
      // Headers that never finish: 408 and closed after the configured 500 ms, not Node's 60 s.
      const socket = connect(port, '127.0.0.1');
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('not closed within 10 s')), 10_000);
        socket.once('close', () => (clearTimeout(timer), resolve()));
      });
      expect(received).toMatch(/^HTTP\/1\.1 408/);
      // No FETCHBOX_CURSOR_SECRET: a per-process key, and a warning that says what that means.
      expect(lines.join('\n')).toContain('cursors are signed with a per-process key');
    } finally {
      await api.close();
    }
  });
});
