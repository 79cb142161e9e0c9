import { describe, expect, it } from 'vitest';
import { parseTokens } from '../../src/api/auth.js';
import type { JobService } from '../../src/api/job-service.js';
import { testApp } from '../support/app.js';

// Validation happens before the job service is called; this service fails the test if it is.
const untouchable = new Proxy({} as JobService, {
  get(_t, prop) {
    if (prop === 'temporalUiUrl') return () => 'http://ui';
    throw new Error(`job service called (${String(prop)}) for a request that should have been refused`);
  },
});

const app = testApp(untouchable, { bodyLimitBytes: 1024 });

async function post(body: string, contentType = 'application/json') {
  const res = await app.request('/jobs', { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, body: (await res.json()) as { error: { code: string; message: string; details?: any } } };
}

describe('POST /jobs refuses bad input with the contract error shape', () => {
  it.each([
    ['no resources', { resources: [] }, 'resources'],
    ['missing resources', { jobId: 'a' }, 'resources'],
    ['a non-http URL', { resources: [{ url: 'file:///etc/passwd' }] }, 'resources.0.url'],
    ['a relative URL', { resources: [{ url: '/a.jpg' }] }, 'resources.0.url'],
    ['a bad jobId', { jobId: 'a b', resources: [{ url: 'http://x.test/' }] }, 'jobId'],
    ['a too long jobId', { jobId: 'a'.repeat(129), resources: [{ url: 'http://x.test/' }] }, 'jobId'],
    ['a header value with CR/LF', { resources: [{ url: 'http://x.test/', headers: { 'X-A': 'a\r\nX-B: b' } }] }, 'resources.0.headers.X-A'],
    ['a bad header name', { resources: [{ url: 'http://x.test/', headers: { 'X A': 'a' } }] }, 'resources.0.headers.X A'],
    ['a key escaping the root', { resources: [{ url: 'http://x.test/', key: '../../etc/x' }] }, 'resources.0.key'],
    ['an unknown field', { resources: [{ url: 'http://x.test/' }], resouces: [] }, 'resouces'],
    ['an unknown field of a resource', { resources: [{ url: 'http://x.test/' }, { url: 'http://x.test/', kye: 'a' }] }, 'resources.1.kye'],
    ['metadata that is not an object', { metadata: [1], resources: [{ url: 'http://x.test/' }] }, 'metadata'],
    ['a notify URL that is not http(s)', { notify: { url: 'file:///etc/passwd' }, resources: [{ url: 'http://x.test/' }] }, 'notify.url'],
    ['a notify URL with credentials', { notify: { url: 'https://u:p@hooks.test/' }, resources: [{ url: 'http://x.test/' }] }, 'notify.url'],
    [
      'an unknown notify event',
      { notify: { url: 'https://hooks.test/', events: ['failed'] }, resources: [{ url: 'http://x.test/' }] },
      'notify.events.0',
    ],
    [
      'a repeated notify event',
      { notify: { url: 'https://hooks.test/', events: ['completed', 'completed'] }, resources: [{ url: 'http://x.test/' }] },
      'notify.events',
    ],
    ['no notify events', { notify: { url: 'https://hooks.test/', events: [] }, resources: [{ url: 'http://x.test/' }] }, 'notify.events'],
    [
      'an unknown notify field',
      { notify: { url: 'https://hooks.test/', secret: 'x' }, resources: [{ url: 'http://x.test/' }] },
      'notify.secret',
    ],
  ])('400 invalid_manifest for %s, naming the field', async (_name, manifest, field) => {
    const res = await post(JSON.stringify(manifest));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_manifest');
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
  });

  it('lists each unknown field at its own path, at most 100 of them, and counts the rest', async () => {
    const manifest: Record<string, unknown> = { resources: [{ url: 'http://x.test/' }] };
    for (let i = 0; i < 250; i++) manifest[`extra${i}`] = i;
    const roomy = testApp(untouchable);
    const answer = await roomy.request('/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(manifest),
    });
    const res = { status: answer.status, body: (await answer.json()) as { error: { details: unknown[]; moreIssues?: number } } };
    expect(res.status).toBe(400);
    expect(res.body.error.details).toHaveLength(100);
    expect(res.body.error.details[0]).toEqual({ path: 'extra0', message: 'unknown field "extra0"' });
    expect(res.body.error.moreIssues).toBe(150);
  });

  it('400 invalid_manifest for a notify URL over 2 KiB, naming the field', async () => {
    const roomy = testApp(untouchable);
    const manifest = { notify: { url: `https://hooks.test/${'a'.repeat(2100)}` }, resources: [{ url: 'http://x.test/' }] };
    const answer = await roomy.request('/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(manifest),
    });
    const body = (await answer.json()) as { error: { code: string; details: { path: string }[] } };
    expect(answer.status).toBe(400);
    expect(body.error.details.map((d) => d.path)).toContain('notify.url');
  });

  it('400 invalid_manifest for a body that is not JSON', async () => {
    const res = await post('{"resources": [');
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_manifest' } } });
  });

  it('415 for a body that is not declared as JSON', async () => {
    const res = await post('{}', 'text/plain');
    expect(res).toMatchObject({ status: 415, body: { error: { code: 'unsupported_media_type' } } });
  });

  it('413 for a body over the limit', async () => {
    const res = await post(JSON.stringify({ resources: [{ url: `http://x.test/${'a'.repeat(2000)}` }] }));
    expect(res).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
  });

  it('400 invalid_request for a bad jobId in a path', async () => {
    const res = await app.request('/jobs/a%20b');
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toMatchObject({ code: 'invalid_request', message: 'invalid path parameters' });
  });

  it('names what failed validation: a well-formed body that fails its schema is not "invalid json"', async () => {
    const res = await app.request('/retries', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toMatchObject({ code: 'invalid_request', message: 'invalid request body' });
    const query = await app.request('/jobs?limit=0');
    expect(((await query.json()) as any).error).toMatchObject({ code: 'invalid_request', message: 'invalid query parameters' });
  });

  it('404 not_found for an unknown route, never a stack trace', async () => {
    const res = await app.request('/nope');
    expect(res.status).toBe(404);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'not_found' } });
    expect(text).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe('auth', () => {
  const secured = testApp(untouchable, { bodyLimitBytes: 1024, tokens: parseTokens(['s3cret']) });
  it('401 without or with a wrong bearer token; probes stay open', async () => {
    expect((await secured.request('/jobs/x')).status).toBe(401);
    expect((await secured.request('/jobs/x', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    expect((await secured.request('/healthz')).status).toBe(200);
    const body = (await (await secured.request('/jobs/x')).json()) as any;
    expect(body.error.code).toBe('unauthorized');
  });
});

describe('GET /openapi.json', () => {
  it('documents every route as OpenAPI 3.1', async () => {
    const doc = (await (await app.request('/openapi.json')).json()) as any;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/docs',
      '/failures',
      '/healthz',
      '/jobs',
      '/jobs/{jobId}',
      '/jobs/{jobId}/cancel',
      '/jobs/{jobId}/events',
      '/jobs/{jobId}/resources',
      '/jobs/{jobId}/retry',
      '/metrics',
      '/openapi.json',
      '/readyz',
      '/retries',
    ]);
    expect(Object.keys(doc.paths['/jobs'].post.responses)).toEqual(
      expect.arrayContaining(['200', '202', '400', '409', '413', '415', '503']),
    );
  });
});

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const { validate } = await import('@readme/openapi-parser');
    const doc = await (await app.request('/openapi.json')).json();
    const result = await validate(doc as never);
    expect(result.valid ? [] : result.errors).toEqual([]);
  });

  it('matches the routes the app serves: every documented operation answers, not 404 not_found', async () => {
    const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods)) {
        const url = path.replace('{jobId}', 'a b'); // invalid on purpose: validation answers before the service
        const res = await app.request(url, {
          method: method.toUpperCase(),
          headers: { 'content-type': 'application/json' },
          body: method === 'get' ? undefined : '{}',
        });
        const body = res.headers.get('content-type')?.includes('json') ? ((await res.json()) as any) : undefined;
        expect(body?.error?.code, `${method} ${path}`).not.toBe('not_found');
      }
    }
  });

  it('is rendered as a reference page at /docs, escaped', async () => {
    const res = await app.request('/docs');
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('<code>POST /jobs</code>');
    expect(html).toContain('/jobs/{jobId}/events');
    expect(html).not.toMatch(/<script/i);
  });
});

describe('scopes', () => {
  const tokens = parseTokens(['ingest=crawler', 'operator=ops', 'read=viewer', 'all-powerful']);
  const scoped = testApp(untouchable, { bodyLimitBytes: 1024, tokens, metricsPublic: false });
  const call = async (method: string, path: string, token: string) =>
    (
      await scoped.request(path, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: method === 'POST' ? '{}' : undefined,
      })
    ).status;

  it('lets each scope do its part and answers 403 beyond it', async () => {
    // 400 means the request passed auth and reached validation.
    expect(await call('POST', '/jobs', 'crawler')).toBe(400);
    expect(await call('POST', '/jobs', 'ops')).toBe(403);
    expect(await call('POST', '/jobs', 'viewer')).toBe(403);
    expect(await call('POST', '/jobs/a%20b/retry', 'ops')).toBe(400);
    expect(await call('POST', '/jobs/a%20b/cancel', 'crawler')).toBe(403);
    expect(await call('GET', '/jobs/a%20b', 'viewer')).toBe(400);
    expect(await call('GET', '/jobs/a%20b', 'crawler')).toBe(400);
    expect(await call('POST', '/jobs/a%20b/cancel', 'all-powerful')).toBe(400);
    expect(await call('GET', '/metrics', 'viewer')).toBe(200);
    expect((await scoped.request('/metrics')).status).toBe(401);
    expect((await scoped.request('/openapi.json')).status).toBe(200);
    const res = await scoped.request('/jobs', {
      method: 'POST',
      headers: { authorization: 'Bearer viewer', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(await res.json()).toMatchObject({ error: { code: 'forbidden' } });
  });

  it('refuses an unknown scope when parsing tokens, without echoing the token', () => {
    expect(() => parseTokens(['admin=topsecret'])).toThrow(/entry 1: unknown scope admin/);
    expect(() => parseTokens(['admin=topsecret'])).not.toThrow(/topsecret/);
  });
});

describe('GET /metrics', () => {
  it('counts requests by route pattern and status, in Prometheus text format', async () => {
    await app.request('/healthz');
    await app.request('/jobs/a%20b');
    const res = await app.request('/metrics');
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/fetchbox_api_requests_total\{method="GET",route="\/healthz",status="200"\} [1-9]/);
    expect(text).toMatch(/fetchbox_api_requests_total\{method="GET",route="\/jobs\/:jobId",status="400"\} [1-9]/);
    expect(text).toContain('fetchbox_api_request_duration_seconds_bucket');
    expect(text).toContain('fetchbox_api_process_resident_memory_bytes');
  });
});

describe('submit rate limit', () => {
  it('answers 429 rate_limited with Retry-After past the burst, per client', async () => {
    const limited = testApp(untouchable, { bodyLimitBytes: 1024, tokens: parseTokens(['a', 'b']), submitRate: 1, submitBurst: 2 });
    const submit = (token: string) =>
      limited.request('/jobs', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{}',
      });
    expect((await submit('a')).status).toBe(400); // passed the limiter, refused by validation
    expect((await submit('a')).status).toBe(400);
    const third = await submit('a');
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('1');
    expect(await third.json()).toMatchObject({ error: { code: 'rate_limited' } });
    expect((await submit('b')).status).toBe(400); // another token has its own bucket
    expect((await limited.request('/jobs/x', { headers: { authorization: 'Bearer a' } })).status).not.toBe(429); // reads are not limited
  });
});
