import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VALIDATOR_METADATA } from '../../src/fetch/validators.js';
import type { DownloadTask } from '../../src/model/job-types.js';
import type { Handler } from '../../src/handlers/handler.js';
import { readBack } from '../support/objects.js';
import { contentSha256, startOrigin, type Origin } from '../support/origin.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';

// Issue 22: what FetchBox records about an object (size, sha256, validators) describes exactly
// the bytes at its key, for every client: validators bound to the request headers, no partial or
// conditional request from a manifest or handler, one key per resource within a job.

const SIZE = 50_000;

/** Adds `Range: bytes=0-9` to every request: a handler trying to store part of a body. */
const rangeHandler: Handler = { name: 'range-adder', headers: () => ({ Range: 'bytes=0-9' }) };

/** Each resource becomes two tasks (`<url>-a`, `<url>-b`), both at `metadata.key`: a handler that reuses a key within a page. */
const twoTasksOneKey: Handler = {
  name: 'two-tasks-one-key',
  expand: (resources, ctx) =>
    resources.flatMap((r) =>
      ['a', 'b'].map((n): DownloadTask => ({ id: `${r.id}/${n}`, url: `${r.url}-${n}`, key: String(ctx.metadata.key) })),
    ),
};

let origin: Origin;
let stack: Stack;
/** Set by the test below: resources whose header hook waits until this key holds an object. */
let waitForKey: { resourceId: string; key: string } | undefined;
/**
 * Every resource becomes one task at `metadata.key`; the resource named by `waitForKey` starts
 * only once the key holds another's object (with page size 1 the two are on two pages).
 */
const laterPageHandler: Handler = {
  name: 'one-key-later',
  expand: (resources, ctx) => resources.map((r): DownloadTask => ({ id: r.id, url: r.url, key: String(ctx.metadata.key) })),
  headers: async (task) => {
    const wait = waitForKey;
    if (wait && task.id === wait.resourceId) {
      await expect.poll(() => stack.storage.head(wait.key), { timeout: 30_000, interval: 100 }).toBeDefined();
    }
    return {};
  },
};

beforeAll(async () => {
  origin = await startOrigin();
  stack = await startStack('file', { FETCHBOX_RETRY_MAX_ATTEMPTS: '2', FETCHBOX_JOB_PAGE_SIZE: '1' }, [
    rangeHandler,
    twoTasksOneKey,
    laterPageHandler,
  ]);
}, 60_000);
afterAll(async () => {
  await stack?.close();
  await origin?.close();
});

async function run(manifest: Record<string, unknown>) {
  const jobId = uniqueJobId('integrity');
  const res = await stack.submit({ jobId, ...manifest });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const summary = await stack.waitForJob(jobId);
  const states = await stack.allResources(jobId);
  return { jobId, summary, byId: new Map(states.map((s) => [s.id as string, s])) };
}

describe('validators belong to the request headers that fetched the object', () => {
  it('a job with other headers downloads in full; the same headers again get a 304', async () => {
    const name = uniqueJobId('lang');
    const path = `/cond/${SIZE}/${name}`;
    const url = `${origin.url}${path}`;
    const key = `integrity/${name}`;
    const first = await run({ resources: [{ id: 'r', url, key, headers: { 'Accept-Language': 'fr' } }] });
    expect(first.byId.get('r')).toMatchObject({ status: 'succeeded', bytes: SIZE });
    expect((await stack.storage.head(key))?.metadata[VALIDATOR_METADATA.requestDigest]).toMatch(/^[0-9a-f]{64}$/);

    // Other headers (none): not asked conditionally, the whole body again.
    const second = await run({ resources: [{ id: 'r', url, key }] });
    expect(second.byId.get('r')).toMatchObject({ status: 'succeeded', bytes: SIZE });
    expect(second.byId.get('r')?.notModified).toBeUndefined();
    expect(origin.lastHeaders.get(path)?.['if-none-match']).toBeUndefined();
    expect(origin.bytesSent.get(path)).toBe(2 * SIZE);

    // The same headers as the object's: a 304 keeps it.
    const third = await run({ resources: [{ id: 'r', url, key }] });
    expect(third.byId.get('r')).toMatchObject({ status: 'succeeded', notModified: true, sha256: contentSha256(`${name}-v1`, SIZE) });
    expect(origin.bytesSent.get(path)).toBe(2 * SIZE);
  });

  it('a manifest with Range is refused at submit, naming the header; nothing is stored', async () => {
    const key = `integrity/${uniqueJobId('range')}`;
    const res = await stack.submit({ resources: [{ url: `${origin.url}/cond/${SIZE}/x`, key, headers: { Range: 'bytes=0-9' } }] });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('resources.0.headers.Range');
    expect(await stack.storage.head(key)).toBeUndefined();
  });

  it('a handler that adds Range fails the resource (handler) before any request; the key keeps what it held', async () => {
    const name = uniqueJobId('hrange');
    const path = `/cond/${SIZE}/${name}`;
    const key = `integrity/${name}`;
    await run({ resources: [{ id: 'r', url: `${origin.url}${path}`, key }] });
    const before = await stack.storage.head(key);
    const { summary, byId } = await run({ handler: 'range-adder', resources: [{ id: 'r', url: `${origin.url}${path}`, key }] });
    expect(summary).toMatchObject({ status: 'completed_with_failures' });
    expect(byId.get('r')).toMatchObject({ status: 'failed', error: { kind: 'handler', message: expect.stringMatching(/Range/) } });
    expect(origin.hits.get(path)).toBe(1);
    expect(await stack.storage.head(key)).toEqual(before);
  });
});

describe('one key, one resource per job', () => {
  it('a handler that gives two tasks of one page one key fails the later one; the object matches the record', async () => {
    const name = uniqueJobId('twice');
    const key = `integrity/${name}`;
    const { summary, byId } = await run({
      handler: 'two-tasks-one-key',
      metadata: { key },
      resources: [{ id: 'r', url: `${origin.url}/bytes/${SIZE}/${name}` }],
    });
    expect(summary).toMatchObject({ status: 'completed_with_failures', resources: { total: 2, succeeded: 1, failed: 1 } });
    expect(byId.get('r/a')).toMatchObject({ status: 'succeeded', bytes: SIZE });
    expect(byId.get('r/b')).toMatchObject({
      status: 'failed',
      error: { kind: 'handler', message: expect.stringMatching(/storage key .*r\/a/) },
    });
    expect(origin.hits.get(`/bytes/${SIZE}/${name}-b`)).toBeUndefined();
    expect(await readBack(stack.storage, key)).toEqual({ sha256: byId.get('r/a')!.sha256, bytes: SIZE });
  });

  it('a key another page of the job stored already fails the later resource; the object matches the record', async () => {
    const key = `integrity/${uniqueJobId('pages')}`;
    const names = ['p0', 'p1'].map((n) => uniqueJobId(n));
    waitForKey = { resourceId: 'r1', key };
    try {
      const { summary, byId } = await run({
        handler: 'one-key-later',
        metadata: { key },
        resources: names.map((n, i) => ({ id: `r${i}`, url: `${origin.url}/bytes/${SIZE}/${n}` })),
      });
      expect(summary).toMatchObject({ status: 'completed_with_failures', resources: { succeeded: 1, failed: 1 } });
      expect(byId.get('r0')).toMatchObject({ status: 'succeeded' });
      expect(byId.get('r1')).toMatchObject({
        status: 'failed',
        error: { kind: 'handler', message: expect.stringMatching(/already holds resource "r0"/) },
      });
      expect(origin.hits.get(`/bytes/${SIZE}/${names[1]}`)).toBeUndefined();
      expect(await readBack(stack.storage, key)).toEqual({ sha256: byId.get('r0')!.sha256, bytes: SIZE });
    } finally {
      waitForKey = undefined;
    }
  });

  it('two jobs writing one key at once leave a matching pair: the bytes at the key are those its metadata describes', async () => {
    const key = `integrity/${uniqueJobId('race')}`;
    const names = ['j0', 'j1'].map((n) => uniqueJobId(n));
    const jobs = names.map((n) => ({
      jobId: uniqueJobId('race'),
      resources: [{ id: 'r', url: `${origin.url}/bytes/${4 * 1024 * 1024}/${n}`, key }],
    }));
    const submitted = await Promise.all(jobs.map((m) => stack.submit(m)));
    expect(submitted.map((r) => r.status)).toEqual([202, 202]);
    for (const m of jobs) expect(await stack.waitForJob(m.jobId)).toMatchObject({ status: 'completed' });
    const head = await stack.storage.head(key);
    const stored = await readBack(stack.storage, key);
    expect(stored).toEqual({ sha256: head?.metadata.sha256, bytes: head?.bytes });
    expect([contentSha256(names[0]!, 4 * 1024 * 1024), contentSha256(names[1]!, 4 * 1024 * 1024)]).toContain(stored.sha256);
  });
});
