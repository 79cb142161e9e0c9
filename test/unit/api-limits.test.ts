import type { Client } from '@temporalio/client';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../src/api/api-error.js';
import { JobService } from '../../src/api/job-service.js';
import { DEFAULT_MANIFEST_LIMITS } from '../../src/api/submit/manifest-limits.js';
import type { Manifest } from '../../src/api/submit/manifest-schema.js';
import { loadConfig } from '../../src/config/load-config.js';
import { REFUSED_REQUEST_HEADERS } from '../../src/fetch/header-rules.js';
import { builtInHandlers } from '../../src/handlers/registry.js';
import type { Storage } from '../../src/storage/storage.js';
import { testApp } from '../support/app.js';

/** A job service that records what reached it: only manifests that passed validation do. */
function recordingService() {
  const submitted: Manifest[] = [];
  const jobs = {
    submitted,
    submit: async (m: Manifest) => {
      submitted.push(m);
      return { jobId: m.jobId ?? 'generated', created: true };
    },
    temporalUiUrl: () => 'http://ui',
    handlerLabel: (name: string) => name,
  };
  return jobs;
}

function appWith(limits = DEFAULT_MANIFEST_LIMITS, bodyLimitBytes = 1 << 26) {
  const jobs = recordingService();
  const app = testApp(jobs as unknown as JobService, { bodyLimitBytes, limits });
  const post = async (body: string) => {
    const res = await app.request('/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.text();
    return {
      status: res.status,
      bytes: Buffer.byteLength(text),
      body: JSON.parse(text) as { error: { code: string; message: string; details?: any; moreIssues?: number } },
    };
  };
  return { app, jobs, post };
}

const paths = (body: { error: { details?: { path: string }[] } }) => (body.error.details ?? []).map((d) => d.path);
const url = 'http://x.test/a';

describe('validation stays small', () => {
  it('a flood of 200,000 bad resources answers 400 with 100 issues and a count of the rest, small and fast', async () => {
    const { post } = appWith({ ...DEFAULT_MANIFEST_LIMITS, maxResourcesPerJob: 1_000_000 });
    const body = JSON.stringify({ resources: Array.from({ length: 200_000 }, () => ({})) });
    expect(body.length).toBeGreaterThan(600_000);
    const started = performance.now();
    const res = await post(body);
    const ms = performance.now() - started;
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_manifest');
    expect(res.body.error.details).toHaveLength(100);
    expect(res.body.error.details[0]).toEqual({ path: 'resources.0.url', message: expect.any(String) });
    expect(res.body.error.moreIssues).toBe(199_900);
    expect(res.bytes).toBeLessThan(64 * 1024);
    expect(ms).toBeLessThan(5_000);
  });

  it('more resources than limits.maxResourcesPerJob are refused with one issue, before any element is looked at', async () => {
    const { post, jobs } = appWith({ ...DEFAULT_MANIFEST_LIMITS, maxResourcesPerJob: 10 });
    const res = await post(JSON.stringify({ resources: Array.from({ length: 11 }, () => ({ url })) }));
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ path: 'resources', message: '11 resources; the limit is 10' }]);
    expect((await post(JSON.stringify({ resources: Array.from({ length: 10 }, () => ({ url })) }))).status).toBe(202);
    expect(jobs.submitted).toHaveLength(1);
  });

  it('takes the configured limits from the job service when none are given', async () => {
    const config = loadConfig({ FETCHBOX_LIMITS_MAX_RESOURCES_PER_JOB: '3' });
    const jobs = new JobService({ client: {} as Client, storage: {} as Storage, handlers: builtInHandlers(), config });
    const app = testApp(jobs);
    const res = await app.request('/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resources: [{}, {}, {}, {}] }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { details: [{ path: 'resources', message: '4 resources; the limit is 3' }] } });
  });

  it('a 200,000-element flood over the default limit is one issue', async () => {
    const res = await appWith().post(JSON.stringify({ resources: Array.from({ length: 200_000 }, () => ({})) }));
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'invalid_manifest', details: [{ path: 'resources' }] } } });
    expect(res.body.error.moreIssues).toBeUndefined();
  });

  it('issue paths and messages are clipped: a huge unknown key or header name does not make a huge answer', async () => {
    const huge = 'k'.repeat(100_000);
    const res = await appWith().post(JSON.stringify({ resources: [{ url, [huge]: 1, headers: { [huge]: 'v' } }] }));
    expect(res.status).toBe(400);
    expect(res.bytes).toBeLessThan(4_096);
  });

  it('a stack overflow behind POST /jobs (input-driven recursion) is a 400, not a 500', async () => {
    const jobs = { ...recordingService(), submit: () => Promise.reject(new RangeError('Maximum call stack size exceeded')) };
    const app = testApp(jobs as unknown as JobService);
    const res = await app.request('/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resources: [{ url }] }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_manifest' } });
  });

  it('a body over api.bodyLimitBytes is 413 payload_too_large', async () => {
    const res = await appWith(DEFAULT_MANIFEST_LIMITS, 1_000).post(JSON.stringify({ resources: [{ url: `${url}${'a'.repeat(2_000)}` }] }));
    expect(res).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
  });
});

describe('metadata limits', () => {
  it('refuses metadata over limits.maxMetadataBytes (64 KiB by default), naming metadata', async () => {
    const { post, jobs } = appWith();
    const big = await post(JSON.stringify({ metadata: { a: 'x'.repeat(64 * 1024) }, resources: [{ url }] }));
    expect(big.status).toBe(400);
    expect(paths(big.body)).toEqual(['metadata']);
    const fits = await post(JSON.stringify({ metadata: { a: 'x'.repeat(60 * 1024) }, resources: [{ url }] }));
    expect(fits.status).toBe(202);
    expect(jobs.submitted).toHaveLength(1);
  });

  it('follows a configured limit', async () => {
    const { post } = appWith({ ...DEFAULT_MANIFEST_LIMITS, maxMetadataBytes: 100 });
    expect((await post(JSON.stringify({ metadata: { a: 'x'.repeat(100) }, resources: [{ url }] }))).status).toBe(400);
    expect((await post(JSON.stringify({ metadata: { a: 'x'.repeat(50) }, resources: [{ url }] }))).status).toBe(202);
  });

  it.each([
    ['metadata', (deep: string) => `{"metadata":{"a":${deep}},"resources":[{"url":"${url}"}]}`, 'metadata'],
    ['resources', (deep: string) => `{"resources":${deep}}`, 'resources.0'],
    ['a header value', (deep: string) => `{"resources":[{"url":"${url}","headers":{"X-A":${deep}}}]}`, 'resources.0.headers.X-A'],
    ['jobId', (deep: string) => `{"jobId":${deep},"resources":[{"url":"${url}"}]}`, 'jobId'],
  ])('100,000 levels of nesting in %s answer 400, not 500', async (_where, body, path) => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const res = await appWith().post(body(deep));
    expect(res.status).toBe(400);
    expect(paths(res.body)).toContain(path);
  });

  it('metadata nested deeper than 64 levels is refused even when small', async () => {
    const res = await appWith().post(
      JSON.stringify({ metadata: { a: JSON.parse(`${'['.repeat(70)}${']'.repeat(70)}`) }, resources: [{ url }] }),
    );
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].message).toMatch(/deeper than 64/);
  });
});

describe('header limits', () => {
  it('at most 32 headers per resource', async () => {
    const headers = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`X-H${i}`, 'v']));
    const { post } = appWith();
    const res = await post(JSON.stringify({ resources: [{ url }, { url, headers: headers(33) }] }));
    expect(res.status).toBe(400);
    expect(paths(res.body)).toEqual(['resources.1.headers']);
    expect((await post(JSON.stringify({ resources: [{ url, headers: headers(32) }] }))).status).toBe(202);
  });

  it('at most 8 KiB of header names and values per resource', async () => {
    const { post } = appWith();
    const res = await post(JSON.stringify({ resources: [{ url, headers: { 'X-A': 'a'.repeat(4_000), 'X-B': 'b'.repeat(4_200) } }] }));
    expect(res.status).toBe(400);
    expect(paths(res.body)).toEqual(['resources.0.headers']);
    expect(
      (await post(JSON.stringify({ resources: [{ url, headers: { 'X-A': 'a'.repeat(4_000), 'X-B': 'b'.repeat(4_000) } }] }))).status,
    ).toBe(202);
  });

  it.each([
    'Host',
    'host',
    'Connection',
    'Keep-Alive',
    'Proxy-Authorization',
    'Proxy-Connection',
    'proxy-anything',
    'TE',
    'Trailer',
    'Transfer-Encoding',
    'UPGRADE',
    'Content-Length',
    'Expect',
  ])('refuses the header %s, naming it', async (name) => {
    const res = await appWith().post(JSON.stringify({ resources: [{ url, headers: { Accept: '*/*', [name]: 'x' } }] }));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_manifest');
    expect(paths(res.body)).toEqual([`resources.0.headers.${name}`]);
  });

  it.each(['Range', 'if-range', 'If-Match', 'IF-NONE-MATCH', 'If-Modified-Since', 'If-Unmodified-Since'])(
    'refuses the partial or conditional header %s, naming it: FetchBox stores whole representations',
    async (name) => {
      const res = await appWith().post(JSON.stringify({ resources: [{ url, headers: { Accept: '*/*', [name]: 'bytes=0-9' } }] }));
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_manifest');
      expect(paths(res.body)).toEqual([`resources.0.headers.${name}`]);
      expect(res.body.error.details[0].message).toMatch(/whole representations/);
    },
  );

  it('the refused list is the one in header-rules.ts', () => {
    expect(REFUSED_REQUEST_HEADERS).toEqual([
      'host',
      'connection',
      'keep-alive',
      'proxy-*',
      'te',
      'trailer',
      'transfer-encoding',
      'upgrade',
      'content-length',
      'expect',
    ]);
  });
});

describe('job ids and the reserved namespace', () => {
  it.each(['.', '..', '...', '.fetchbox', '.FetchBox-meta', '.fetchbox-tmp'])('refuses jobId %j', async (jobId) => {
    const res = await appWith().post(JSON.stringify({ jobId, resources: [{ url }] }));
    expect(res.status).toBe(400);
    expect(paths(res.body)).toEqual(['jobId']);
  });

  it.each(['a.b', '.hidden', 'x..y', 'fetchbox'])('accepts jobId %j', async (jobId) => {
    expect((await appWith().post(JSON.stringify({ jobId, resources: [{ url }] }))).status).toBe(202);
  });

  it.each([
    'other/.fetchbox/0123456789abcdef/pages/000000.json',
    'other/.fetchbox/0123456789abcdef/manifest.json',
    '.fetchbox-meta/victim.jpg.json',
    '.fetchbox-tmp/x',
    '.FETCHBOX-META/x',
    'a/b/.FetchBox/c',
    'a/．ｆｅｔｃｈｂｏｘ/c',
  ])('refuses key %j with 400 naming resources.N.key', async (key) => {
    const res = await appWith().post(JSON.stringify({ resources: [{ url }, { url, key }] }));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_manifest');
    expect(paths(res.body)).toEqual(['resources.1.key']);
  });

  it('accepts keys that only look alike', async () => {
    const { post, jobs } = appWith();
    const res = await post(
      JSON.stringify({
        resources: [
          { url, key: 'a/fetchbox/x' },
          { url, key: 'a/x.fetchbox' },
          { url, key: 'a/_fetchbox-meta' },
        ],
      }),
    );
    expect(res.status).toBe(202);
    expect(jobs.submitted[0]!.resources.map((r) => r.key)).toEqual(['a/fetchbox/x', 'a/x.fetchbox', 'a/_fetchbox-meta']);
  });
});

describe('JobService.submit enforces the configured limits for every caller', () => {
  const config = loadConfig({ FETCHBOX_LIMITS_MAX_METADATA_BYTES: '100', FETCHBOX_LIMITS_MAX_RESOURCES_PER_JOB: '2' });
  const service = new JobService({ client: {} as Client, storage: {} as Storage, handlers: builtInHandlers(), config });
  const refusal = async (manifest: Manifest) => {
    const err = await service.submit(manifest, 'peer:local').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  };

  it('the default limits are the configuration defaults', () => {
    expect(loadConfig({}).limits).toMatchObject(DEFAULT_MANIFEST_LIMITS);
  });

  it('refuses big or deep metadata, too many resources and a reserved jobId before touching Temporal or storage', async () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    expect((await refusal({ handler: 'default', metadata: { a: 'x'.repeat(200) }, resources: [{ url }] })).details).toEqual([
      { path: 'metadata', message: expect.stringMatching(/100/) },
    ]);
    expect((await refusal({ handler: 'default', metadata: { a: deep }, resources: [{ url }] })).status).toBe(400);
    expect((await refusal({ handler: 'default', resources: [{ url }, { url }, { url }] })).details).toEqual([
      { path: 'resources', message: expect.any(String) },
    ]);
    expect((await refusal({ jobId: '..', handler: 'default', resources: [{ url }] })).details).toEqual([
      { path: 'jobId', message: expect.any(String) },
    ]);
  });

  it("refuses a key that names the job's own manifest document, at resources.N.key", async () => {
    const err = await refusal({ jobId: 'j1', handler: 'default', resources: [{ url }, { url, key: 'j1/manifest.json' }] });
    expect(err.status).toBe(400);
    expect(err.body().error.code).toBe('invalid_manifest');
    expect(err.details).toEqual([{ path: 'resources.1.key', message: expect.stringMatching(/manifest document/) }]);
  });

  it('refuses two resources with one storage key, naming both paths (explicit and default keys)', async () => {
    const twice = await refusal({
      jobId: 'j1',
      handler: 'default',
      resources: [
        { url, key: 'k/a' },
        { url: `${url}2`, key: 'k/a' },
      ],
    });
    expect(twice.body().error.code).toBe('invalid_manifest');
    expect(twice.details).toEqual([{ path: 'resources.1.key', message: expect.stringContaining('resources.0.key') }]);
    // A manifest key equal to another resource's default key, and ids that default to one key (a b, a_b).
    const mixed = await refusal({
      jobId: 'j1',
      handler: 'default',
      resources: [
        { url, id: 'a b' },
        { url, id: 'a_b' },
      ],
    });
    expect(mixed.details).toEqual([{ path: 'resources.1', message: expect.stringContaining('resources.0') }]);
    const wide = new JobService({ client: {} as Client, storage: {} as Storage, handlers: builtInHandlers(), config: loadConfig({}) });
    const onDefault = (await wide
      .submit(
        {
          jobId: 'j2',
          handler: 'default',
          resources: [
            { url: 'http://x.test/f.jpg', id: 'x' },
            { url, key: 'j2/x-f.jpg' },
          ],
        },
        'peer:local',
      )
      .catch((e: unknown) => e)) as ApiError;
    expect(onDefault.details).toEqual([{ path: 'resources.1.key', message: expect.stringContaining('resources.0') }]);
  });

  it('lists at most 100 duplicate ids and counts the rest', async () => {
    const wide = new JobService({ client: {} as Client, storage: {} as Storage, handlers: builtInHandlers(), config: loadConfig({}) });
    const err = (await wide
      .submit({ handler: 'default', resources: Array.from({ length: 300 }, () => ({ url, id: 'same' })) }, 'peer:local')
      .catch((e: unknown) => e)) as ApiError;
    expect(err.body().error.details).toHaveLength(100);
    expect(err.body().error.moreIssues).toBe(199);
  });
});

describe('one parse per manifest', () => {
  it('parses the body once: the submit guards hand their parse to the handler', async () => {
    const { app, jobs } = appWith();
    const text = JSON.stringify({ jobId: 'once', resources: Array.from({ length: 50 }, (_, i) => ({ url: `https://example.com/${i}` })) });
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const res = await app.request('/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
      expect(res.status).toBe(202);
      expect(parse.mock.calls.filter(([arg]) => arg === text)).toHaveLength(1);
    } finally {
      parse.mockRestore();
    }
    expect(jobs.submitted[0]?.resources).toHaveLength(50);
  });
});
