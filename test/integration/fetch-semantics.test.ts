import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { contentSha256, startOrigin, type Origin } from '../support/origin.js';
import { readBack } from '../support/objects.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';

let origin: Origin;
/** The stack the current test uses: first attempts batched (the default), or one activity per resource. */
let stack: Stack;
let batched: Stack;
let single: Stack;
beforeAll(async () => {
  origin = await startOrigin();
  batched = await startStack('file', { FETCHBOX_RETRY_MAX_ATTEMPTS: '4' });
  single = await startStack('file', { FETCHBOX_RETRY_MAX_ATTEMPTS: '4', FETCHBOX_JOB_BATCH_SIZE: '1' });
  stack = batched;
});
afterAll(async () => {
  await batched?.close();
  await single?.close();
  await origin?.close();
});
afterEach(() => origin.hits.clear());

/** Runs a one-resource job and returns its single resource state. */
async function runOne(
  path: string,
  extra: Record<string, unknown> = {},
): Promise<{ state: Record<string, any>; summary: Record<string, any> }> {
  const jobId = uniqueJobId('fetch');
  const res = await stack.submit({ jobId, resources: [{ url: `${origin.url}${path}`, id: 'only', ...extra }] });
  expect(res.status).toBe(202);
  const summary = await stack.waitForJob(jobId);
  const [state] = await stack.allResources(jobId);
  return { state: state!, summary };
}

// Both download paths keep the same semantics: the first attempt in a batch then retries alone,
// or every attempt in one activity per resource.
describe.each(['batched first attempts', 'one activity per resource'])('fetch semantics against a misbehaving origin (%s)', (mode) => {
  beforeAll(() => {
    stack = mode === 'batched first attempts' ? batched : single;
  });
  afterAll(() => {
    stack = batched;
  });

  it('fails a 404 permanently after exactly one request', async () => {
    const { state, summary } = await runOne('/status/404/gone');
    expect(summary.status).toBe('completed_with_failures');
    expect(state).toMatchObject({ status: 'failed', attempts: 1, error: { kind: 'http_status', httpStatus: 404 } });
    expect(origin.hits.get('/status/404/gone')).toBe(1);
    expect(await stack.storage.head(state.key)).toBeUndefined();
  });

  it('retries a 503 with Retry-After and then succeeds', async () => {
    const path = '/flaky/2/503/1000/retry-after';
    const started = Date.now();
    const { state } = await runOne(`${path}?retryAfter=1`);
    expect(state).toMatchObject({ status: 'succeeded', attempts: 3, bytes: 1000, sha256: contentSha256('retry-after', 1000) });
    expect(origin.hits.get(path)).toBe(3);
    // Two waits of Retry-After: 1 s each (the configured backoff here is only 100 ms).
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
  });

  it('retries a 429 without Retry-After on the configured backoff', async () => {
    const { state } = await runOne('/flaky/1/429/10/ratelimited');
    expect(state).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('gives up on a persistent 500 after the configured attempts: retries_exhausted', async () => {
    const { state } = await runOne('/status/500/down');
    expect(state).toMatchObject({ status: 'failed', attempts: 4, error: { kind: 'retries_exhausted', httpStatus: 500 } });
    expect(origin.hits.get('/status/500/down')).toBe(4);
  });

  it('retries a body shorter than its Content-Length and stores only the whole body', async () => {
    const path = '/truncate/2/200000/short';
    const { state } = await runOne(path);
    expect(state).toMatchObject({ status: 'succeeded', attempts: 3, bytes: 200_000 });
    expect(origin.hits.get(path)).toBe(3);
    expect(await readBack(stack.storage, state.key)).toEqual({ sha256: contentSha256('short', 200_000), bytes: 200_000 });
  });

  it('records truncated when every attempt is cut short, and stores nothing', async () => {
    const { state } = await runOne('/truncate/100/100000/always-short');
    expect(state).toMatchObject({ status: 'failed', attempts: 4, error: { kind: 'truncated' } });
    expect(await stack.storage.head(state.key)).toBeUndefined();
  });

  it('follows redirects up to the limit', async () => {
    const { state } = await runOne('/redirect/5/hops');
    expect(state).toMatchObject({ status: 'succeeded', bytes: 16, sha256: contentSha256('hops', 16) });
  });

  it('fails a redirect loop without retrying it', async () => {
    const { state } = await runOne('/loop/forever');
    expect(state).toMatchObject({ status: 'failed', attempts: 1, error: { kind: 'http_status' } });
    expect(state.error.message).toMatch(/more than 5 redirects/);
    expect(origin.hits.get('/loop/forever')).toBe(6);
  });

  it('sends the manifest headers to the origin', async () => {
    const { state } = await runOne('/headers/h', { headers: { Referer: 'https://example.com/', 'X-Crawl': 'yes' } });
    expect(state.status).toBe('succeeded');
    const seen = origin.lastHeaders.get('/headers/h')!;
    expect(seen.referer).toBe('https://example.com/');
    expect(seen['x-crawl']).toBe('yes');
    expect(seen['user-agent']).toMatch(/^FetchBox\//);
  });
});

describe('limits and the address guard', () => {
  let guarded: Stack;
  beforeAll(async () => {
    // Only 127.0.0.1 is allowed (the origin); 127.0.0.2 and every other loopback address are not.
    guarded = await startStack('file', { FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.1/32', FETCHBOX_FETCH_MAX_BYTES: '10000' });
  });
  afterAll(async () => {
    await guarded?.close();
  });

  async function runGuarded(url: string) {
    const jobId = uniqueJobId('guard');
    await guarded.submit({ jobId, resources: [{ url, id: 'only' }] });
    await guarded.waitForJob(jobId);
    return (await guarded.allResources(jobId))[0]!;
  }

  it('refuses a body whose Content-Length is over the limit, without retrying', async () => {
    const state = await runGuarded(`${origin.url}/bytes/20000/big`);
    expect(state).toMatchObject({ status: 'failed', attempts: 1, error: { kind: 'too_large' } });
    expect(await guarded.storage.head(state.key)).toBeUndefined();
  });

  it('refuses a chunked body that grows over the limit, and stores nothing', async () => {
    const state = await runGuarded(`${origin.url}/chunked/50000/big-chunked`);
    expect(state).toMatchObject({ status: 'failed', attempts: 1, error: { kind: 'too_large' } });
    expect(await guarded.storage.head(state.key)).toBeUndefined();
  });

  it('stores a chunked body under the limit with its measured size', async () => {
    const state = await runGuarded(`${origin.url}/chunked/9000/small-chunked`);
    expect(state).toMatchObject({ status: 'succeeded', bytes: 9000, sha256: contentSha256('small-chunked', 9000) });
  });

  it('refuses a redirect to a blocked address before connecting: blocked_address, no retry', async () => {
    const target = `http://127.0.0.2:${new URL(origin.url).port}/bytes/10/x`;
    const state = await runGuarded(`${origin.url}/goto/hop?to=${encodeURIComponent(target)}`);
    expect(state).toMatchObject({ status: 'failed', attempts: 1, error: { kind: 'blocked_address' } });
    expect(state.error.message).toMatch(/127\.0\.0\.2.*loopback/);
    expect(origin.hits.get('/goto/hop')).toBe(1);
  });

  it('refuses a URL whose host is a blocked literal address', async () => {
    const state = await runGuarded('http://[::1]:9/never');
    expect(state).toMatchObject({ status: 'failed', attempts: 1, error: { kind: 'blocked_address' } });
  });
});

describe('an origin that misbehaves', () => {
  it('survives connection resets before the response, then stores the body', async () => {
    const { state } = await runOne('/reset/2/3000/reset-me');
    expect(state).toMatchObject({ status: 'succeeded', attempts: 3, bytes: 3000, sha256: contentSha256('reset-me', 3000) });
  });

  it('stores a trickled body whole', async () => {
    const { state } = await runOne('/trickle/2000/slowly');
    expect(state).toMatchObject({ status: 'succeeded', attempts: 1, bytes: 2000, sha256: contentSha256('slowly', 2000) });
  });

  it('stores exactly Content-Length bytes when the origin sends more', async () => {
    const { state } = await runOne('/overlong/1000/overlong');
    // The first 1,000 bytes of the 1,100 sent (deterministic content shares its prefix).
    expect(state).toMatchObject({ status: 'succeeded', bytes: 1000, sha256: contentSha256('overlong', 1000) });
    expect(await readBack(stack.storage, state.key)).toEqual({ sha256: contentSha256('overlong', 1000), bytes: 1000 });
  });

  it('ignores a garbage Retry-After and retries on its own backoff', async () => {
    for (const garbage of ['soon', '-3', '1e9', 'Thu, 99 Foo 2026']) {
      const { state } = await runOne(`/flaky/1/503/10/garbage-${encodeURIComponent(garbage)}?retryAfter=${encodeURIComponent(garbage)}`);
      expect(state, garbage).toMatchObject({ status: 'succeeded', attempts: 2 });
    }
  });
});
