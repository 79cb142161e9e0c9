import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { FetchFailure } from '../../src/fetch/errors.js';
import { createFetcher, type Fetcher } from '../../src/fetch/fetcher.js';
import { createFetchText } from '../../src/handlers/fetch-text.js';
import { linkExpanderHandler } from '../../src/handlers/link-expander.js';
import { createHandlerHarness } from '../../src/handlers/testing.js';
import { startHostileOrigin, type HostileOrigin } from '../support/hostile-origin.js';
import { readBack } from '../support/objects.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait-for.js';

const SECRETS = {
  Authorization: 'Bearer s3cret-token',
  Cookie: 'session=s3cret-cookie',
  'Proxy-Authorization': 'Basic s3cret-proxy',
  'X-Api-Key': 's3cret-api-key',
  'Private-Token': 's3cret-private-token',
  'X-Custom': 'custom',
};
/** The headers that may follow a request to another origin (origin-headers.ts), with the values given. */
const NON_SECRET = {
  'User-Agent': 'crawler/1.0',
  Accept: 'application/octet-stream',
  'Accept-Language': 'de-CH',
  'Accept-Encoding': 'identity',
};
/** What a manifest may carry (the API refuses `Proxy-*` headers in manifests). */
const MANIFEST_SECRETS = {
  Authorization: SECRETS.Authorization,
  Cookie: SECRETS.Cookie,
  'X-Api-Key': SECRETS['X-Api-Key'],
  'Private-Token': SECRETS['Private-Token'],
  'X-Custom': 'custom',
  ...NON_SECRET,
};
const MiB = 1024 * 1024;

/** Two origins: same host, two ports. */
let a: HostileOrigin;
let b: HostileOrigin;
let fetcher: Fetcher;
beforeAll(async () => {
  [a, b] = await Promise.all([startHostileOrigin(), startHostileOrigin()]);
  fetcher = createFetcher(loadConfig({ FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.0/8,::1/128', FETCHBOX_LOG_LEVEL: 'silent' }).fetch);
});
afterAll(async () => {
  await fetcher?.close();
  await Promise.all([a?.close(), b?.close()]);
});

/** Opens `url` with `headers` through the fetcher and returns the JSON body (an echo). */
async function echo(url: string, headers: Record<string, string>): Promise<Record<string, string>> {
  const res = await fetcher.open({ url, headers });
  const chunks: Buffer[] = [];
  for await (const chunk of res.body) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, string>;
}

/** Resolves once an origin's sent-byte count for `path` has stopped moving (the client hung up). */
async function settledSent(origin: HostileOrigin, path: string): Promise<number> {
  let last = -1;
  const settled = await waitFor(
    `${path} to stop being sent`,
    () => {
      const now = origin.sent.get(path) ?? 0;
      const same = now === last;
      last = now;
      return same ? { sent: now } : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 200 },
  );
  return settled.sent;
}

/** The secret headers (any given for a resource but not on the non-secret list) an origin saw. */
function credentialsIn(headers: Record<string, string | string[] | undefined>): string[] {
  return ['authorization', 'cookie', 'proxy-authorization', 'x-api-key', 'private-token', 'x-custom'].filter(
    (name) => headers[name] !== undefined,
  );
}

/** The non-secret headers as an origin saw them (lower-case names). */
function nonSecretIn(headers: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
  return Object.fromEntries(Object.keys(NON_SECRET).map((name) => [name.toLowerCase(), headers[name.toLowerCase()]]));
}
const NON_SECRET_SEEN = Object.fromEntries(Object.entries(NON_SECRET).map(([name, value]) => [name.toLowerCase(), value]));

describe('origin-bound headers (fetcher, two loopback origins)', () => {
  it('drops every header but the non-secret ones on a redirect to another origin (X-Api-Key, Private-Token too)', async () => {
    const referer = `${a.url}/listing?session=s3cret-referer`;
    const seen = await echo(`${a.url}/goto/x1?to=${encodeURIComponent(`${b.url}/echo/x1`)}`, {
      ...SECRETS,
      ...NON_SECRET,
      Referer: referer,
    });
    expect(credentialsIn(seen)).toEqual([]);
    expect(nonSecretIn(seen)).toEqual(NON_SECRET_SEEN);
    // Referer: cut to its origin on another origin (it may carry a session in its query).
    expect(seen.referer).toBe(`${a.url}/`);
    expect(b.hits.get('/echo/x1')).toBe(1);
  });

  it('keeps them on a same-origin redirect (Proxy-Authorization is a Proxy-* header: never sent to an origin)', async () => {
    const seen = await echo(`${a.url}/goto/x2?to=/echo/x2`, { ...SECRETS, ...NON_SECRET });
    expect(seen).toMatchObject({
      authorization: SECRETS.Authorization,
      cookie: SECRETS.Cookie,
      'x-api-key': SECRETS['X-Api-Key'],
      'private-token': SECRETS['Private-Token'],
      'x-custom': 'custom',
      ...NON_SECRET_SEEN,
    });
    expect(seen['proxy-authorization']).toBeUndefined();
  });

  it('keeps them dropped when a later hop returns to the first origin (as WHATWG fetch does)', async () => {
    const back = `${a.url}/echo/x3`;
    const seen = await echo(`${a.url}/goto/x3?to=${encodeURIComponent(`${b.url}/goto/x3?to=${encodeURIComponent(back)}`)}`, SECRETS);
    expect(credentialsIn(seen)).toEqual([]);
  });

  it('compares header names in any case, and host names (127.0.0.1 and localhost are two origins)', async () => {
    const port = new URL(a.url).port;
    const seen = await echo(`${a.url}/goto/x4?to=${encodeURIComponent(`http://localhost:${port}/echo/x4`)}`, {
      AUTHORIZATION: 'Bearer x',
      cookie: 'c=1',
      'x-API-key': 'k',
      'PRIVATE-TOKEN': 'p',
    });
    expect(credentialsIn(seen)).toEqual([]);
  });

  it('applies to handler fetches (ctx.fetchText) too', async () => {
    const fetchText = createFetchText({ fetcher });
    const page = await fetchText(`${a.url}/goto/x5?to=${encodeURIComponent(`${b.url}/echo/x5`)}`, {
      headers: { ...SECRETS, ...NON_SECRET },
    });
    expect(page.url).toBe(`${b.url}/echo/x5`);
    const seen = JSON.parse(page.text) as Record<string, string>;
    expect(credentialsIn(seen)).toEqual([]);
    expect(nonSecretIn(seen)).toEqual(NON_SECRET_SEEN);
  });

  it('never sends routing or hop-by-hop headers a hook or task carries (Host, Connection, Transfer-Encoding, Proxy-*)', async () => {
    const seen = await echo(`${a.url}/echo/x6`, {
      Host: 'other-vhost.example',
      Connection: 'upgrade',
      'Transfer-Encoding': 'chunked',
      'Proxy-Connection': 'keep-alive',
      Expect: '100-continue',
      'X-Keep': 'kept',
    });
    expect(seen.host).toBe(new URL(a.url).host);
    expect(seen['transfer-encoding']).toBeUndefined();
    expect(seen['proxy-connection']).toBeUndefined();
    expect(seen.expect).toBeUndefined();
    expect(seen.connection).not.toBe('upgrade');
    expect(seen['x-keep']).toBe('kept');
  });
});

describe('bounded ctx.fetchText', () => {
  it('stops an endless chunked body at its byte cap with too_large, and hangs up', async () => {
    const fetchText = createFetchText({ fetcher, maxBytes: MiB });
    const error = await fetchText(`${a.url}/endless/f1`).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(FetchFailure);
    expect(error).toMatchObject({ kind: 'too_large', message: expect.stringMatching(/^too_large: .* more than 1048576 bytes/) });
    // What the origin got out before the connection closed: the cap plus socket buffers, not more.
    expect(await settledSent(a, '/endless/f1')).toBeLessThan(16 * MiB);
  });

  it('refuses a Content-Length over the cap before reading', async () => {
    const fetchText = createFetchText({ fetcher, maxBytes: 1_000 });
    await expect(fetchText(`${a.url}/quadratic/5000/f2`)).rejects.toMatchObject({ kind: 'too_large' });
  });

  it('gives up on a trickling origin at its total deadline', async () => {
    const fetchText = createFetchText({ fetcher, deadlineMs: 600 });
    const started = Date.now();
    await expect(fetchText(`${a.url}/trickle/f3`)).rejects.toMatchObject({
      kind: 'timeout',
      message: expect.stringMatching(/^timeout: .*600 ms/),
    });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('is aborted by the cancellation signal', async () => {
    const controller = new AbortController();
    const fetchText = createFetchText({ fetcher, signal: () => controller.signal });
    setTimeout(() => controller.abort(new Error('activity canceled')), 300);
    const started = Date.now();
    await expect(fetchText(`${a.url}/trickle/f4`)).rejects.toThrow('activity canceled');
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('hostile listings do not stall the event loop (link-expander, handler harness)', () => {
  it('keeps the worst event-loop delay under 200 ms for <a x 2 MiB, ReDoS patterns and a 200 MiB chunked listing', async () => {
    const allow = { allowCidrs: ['127.0.0.1/32'] };
    const plain = await createHandlerHarness(linkExpanderHandler, { ...allow, jobId: 'loop-a' });
    const anchored = await createHandlerHarness(linkExpanderHandler, { ...allow, jobId: 'loop-b1', metadata: { linkPattern: '^(a+)+$' } });
    const unanchored = await createHandlerHarness(linkExpanderHandler, { ...allow, jobId: 'loop-b2', metadata: { linkPattern: '(a+)+$' } });
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    try {
      histogram.enable();
      const [quadratic, redos1, redos2, huge] = await Promise.all([
        plain.expand([{ id: 'quadratic', url: `${a.url}/quadratic/${2 * MiB}/l1` }]),
        anchored.expand([{ id: 'redos', url: `${a.url}/redos/300/4000/l2` }]),
        unanchored.expand([{ id: 'redos', url: `${a.url}/redos/300/4000/l3` }]),
        plain.expand([{ id: 'huge', url: `${a.url}/chunked/${200 * MiB}/l4` }]),
      ]);
      histogram.disable();
      expect(histogram.max / 1e6).toBeLessThan(200);
      expect(quadratic).toEqual({ tasks: [], pageResources: 1 });
      expect(redos1).toEqual({ tasks: [], pageResources: 1 });
      expect(redos2).toEqual({ tasks: [], pageResources: 1 });
      // The 200 MiB listing fails (recorded failed, not an empty success) without being read whole.
      expect(huge.tasks).toEqual([]);
      expect(huge.handlerError?.message).toMatch(/^handler expand failed: too_large: .* more than 8388608 bytes/);
      expect(huge.handlerError?.resources.map((r) => r.id)).toEqual(['huge']);
      expect(await settledSent(a, `/chunked/${200 * MiB}/l4`)).toBeLessThan(32 * MiB);
    } finally {
      histogram.disable();
      await Promise.all([plain.close(), anchored.close(), unanchored.close()]);
    }
  });

  it('fails a listing whose linkPattern RE2 cannot run, before fetching it', async () => {
    const harness = await createHandlerHarness(linkExpanderHandler, { allowCidrs: ['127.0.0.1/32'], metadata: { linkPattern: '(a)\\1' } });
    try {
      const page = await harness.expand([{ id: 'l', url: `${a.url}/links/bad-pattern` }]);
      expect(page.handlerError?.message).toMatch(/metadata\.linkPattern is not a valid RE2 pattern/);
      expect(a.hits.get('/links/bad-pattern')).toBeUndefined();
    } finally {
      await harness.close();
    }
  });
});

describe('hostile origins in real jobs', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('file', {
      FETCHBOX_RETRY_MAX_ATTEMPTS: '2',
      FETCHBOX_FETCH_MAX_BYTES: String(MiB),
      FETCHBOX_FETCH_MAX_REDIRECTS: '3',
      FETCHBOX_JOB_ATTEMPT_TIMEOUT_MS: '1500',
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('records each hostile download as failed (or stored as sent) and stores nothing for the failures', async () => {
    const jobId = uniqueJobId('hostile');
    const r = (id: string, path: string, extra: Record<string, unknown> = {}) => ({
      id,
      url: `${a.url}${path}`,
      key: `${jobId}/${id}.bin`,
      ...extra,
    });
    const res = await stack.submit({
      jobId,
      resources: [
        r('endless', `/endless/${jobId}`),
        r('trickle', `/trickle/${jobId}`),
        r('gzip', `/gzip-bomb/${jobId}`),
        r('chain', `/chain/10/${jobId}`),
        r('headers', `/huge-headers/${jobId}`),
        r('cross', `/goto/${jobId}?to=${encodeURIComponent(`${b.url}/echo/cross-${jobId}`)}`, { headers: MANIFEST_SECRETS }),
        r('same', `/goto/${jobId}-same?to=/echo/same-${jobId}`, { headers: MANIFEST_SECRETS }),
        r('ok', `/chain/1/ok-${jobId}`),
      ],
    });
    expect(res.status).toBe(202);
    const summary = await stack.waitForJob(jobId);
    expect(summary).toMatchObject({ status: 'completed_with_failures', resources: { total: 8, succeeded: 4, failed: 4 } });
    const states = new Map((await stack.allResources(jobId)).map((s) => [s.id as string, s]));
    expect(states.get('endless')).toMatchObject({ status: 'failed', error: { kind: 'too_large' } });
    expect(states.get('trickle')).toMatchObject({ status: 'failed', attempts: 2, error: { kind: 'timeout' } });
    expect(states.get('chain')).toMatchObject({
      status: 'failed',
      attempts: 1,
      error: { kind: 'http_status', message: expect.stringMatching(/more than 3 redirects/) },
    });
    expect(states.get('headers')).toMatchObject({
      status: 'failed',
      attempts: 2,
      error: { kind: 'retries_exhausted', message: expect.stringMatching(/Headers ?Overflow|header/i) },
    });
    for (const id of ['endless', 'trickle', 'chain', 'headers']) expect(await stack.storage.head(`${jobId}/${id}.bin`)).toBeUndefined();
    expect(await settledSent(a, `/endless/${jobId}`)).toBeLessThan(16 * MiB);

    // The gzip bomb is stored as sent, compressed: FetchBox never inflates.
    expect(states.get('gzip')).toMatchObject({ status: 'succeeded', bytes: a.gzipBomb.length });
    expect(a.gzipBomb.length).toBeLessThan(a.gzipBombInflated / 100);
    expect((await readBack(stack.storage, `${jobId}/gzip.bin`)).bytes).toBe(a.gzipBomb.length);

    // A resource's headers: at the foreign origin only the non-secret ones, all of them on the same origin.
    expect(states.get('cross')).toMatchObject({ status: 'succeeded' });
    const foreign = b.lastHeaders.get(`/echo/cross-${jobId}`)!;
    expect(credentialsIn(foreign)).toEqual([]);
    expect(nonSecretIn(foreign)).toEqual(NON_SECRET_SEEN);
    expect(a.lastHeaders.get(`/echo/same-${jobId}`)).toMatchObject({
      authorization: SECRETS.Authorization,
      cookie: SECRETS.Cookie,
      'x-api-key': SECRETS['X-Api-Key'],
      'private-token': SECRETS['Private-Token'],
      'x-custom': 'custom',
    });
    expect(states.get('ok')).toMatchObject({ status: 'succeeded', bytes: 16 });
  });

  it("sends a listing's headers only to links on its own origin, and to others only the non-secret ones", async () => {
    const jobId = uniqueJobId('expand-creds');
    const to = [`${a.url}/links/${jobId}/same.bin`, `${b.url}/links/${jobId}/foreign.bin`]
      .map((u) => `to=${encodeURIComponent(u)}`)
      .join('&');
    await stack.submit({
      jobId,
      handler: 'link-expander',
      metadata: { linkPattern: '/links/.+/.+\\.bin$' },
      resources: [{ id: 'idx', url: `${a.url}/links/${jobId}?${to}`, headers: MANIFEST_SECRETS }],
    });
    expect(await stack.waitForJob(jobId)).toMatchObject({ status: 'completed', resources: { total: 2, succeeded: 2 } });
    const listing = `${a.url}/links/${jobId}?${to}`;
    expect(a.lastHeaders.get(`/links/${jobId}/same.bin`)).toMatchObject({
      cookie: SECRETS.Cookie,
      authorization: SECRETS.Authorization,
      'x-api-key': SECRETS['X-Api-Key'],
      'private-token': SECRETS['Private-Token'],
      'x-custom': 'custom',
      referer: listing,
      ...NON_SECRET_SEEN,
    });
    const foreign = b.lastHeaders.get(`/links/${jobId}/foreign.bin`)!;
    expect(credentialsIn(foreign)).toEqual([]);
    expect(nonSecretIn(foreign)).toEqual(NON_SECRET_SEEN);
    // The listing URL (its query may carry a session) is cut to its origin for a link on another origin.
    expect(foreign.referer).toBe(`${a.url}/`);
  });

  it('records a 200 MiB chunked listing as a failed resource, not an empty success', async () => {
    const jobId = uniqueJobId('huge-listing');
    const path = `/chunked/${200 * MiB}/${jobId}`;
    await stack.submit({ jobId, handler: 'link-expander', resources: [{ id: 'idx', url: `${a.url}${path}` }] });
    expect(await stack.waitForJob(jobId)).toMatchObject({
      status: 'completed_with_failures',
      resources: { total: 1, failed: 1, succeeded: 0 },
    });
    const [state] = await stack.allResources(jobId);
    expect(state).toMatchObject({ id: 'idx', status: 'failed', error: { kind: 'handler', message: expect.stringMatching(/too_large/) } });
    expect(await settledSent(a, path)).toBeLessThan(32 * MiB);
  });
});
