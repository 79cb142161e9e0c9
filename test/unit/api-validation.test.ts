import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import type { JobService } from '../../src/api/job-service.js';

// Validation happens before the job service is called; this service fails the test if it is.
const untouchable = new Proxy({} as JobService, {
  get(_t, prop) {
    if (prop === 'temporalUiUrl') return () => 'http://ui';
    throw new Error(`job service called (${String(prop)}) for a request that should have been refused`);
  },
});

const app = createApp({ jobs: untouchable, logger: pino({ level: 'silent' }), bodyLimitBytes: 1024, checks: [] });

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
    ['an unknown field', { resources: [{ url: 'http://x.test/' }], resouces: [] }, '(body)'],
    ['metadata that is not an object', { metadata: [1], resources: [{ url: 'http://x.test/' }] }, 'metadata'],
  ])('400 invalid_manifest for %s, naming the field', async (_name, manifest, field) => {
    const res = await post(JSON.stringify(manifest));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_manifest');
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(field);
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
    expect(((await res.json()) as any).error.code).toBe('invalid_request');
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
  const secured = createApp({ jobs: untouchable, logger: pino({ level: 'silent' }), bodyLimitBytes: 1024, checks: [], tokens: ['s3cret'] });
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
    expect(Object.keys(doc.paths).sort()).toEqual(['/healthz', '/jobs', '/jobs/{jobId}', '/jobs/{jobId}/cancel', '/jobs/{jobId}/resources', '/jobs/{jobId}/retry', '/readyz']);
    expect(Object.keys(doc.paths['/jobs'].post.responses)).toEqual(expect.arrayContaining(['200', '202', '400', '409', '413', '415', '503']));
  });
});
