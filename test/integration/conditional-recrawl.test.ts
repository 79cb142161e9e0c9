import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Handler } from '../../src/handlers/handler.js';
import { VALIDATOR_METADATA } from '../../src/fetch/validators.js';
import { readBack } from '../support/objects.js';
import { contentSha256, startOrigin, type Origin } from '../support/origin.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';

// Conditional recrawls (issue 16 item 4): a key that holds an object from the same URL with the
// origin's validators is asked about with If-None-Match / If-Modified-Since; a 304 keeps it.

const noRevalidate: Handler = { name: 'no-revalidate', policy: { revalidate: false } };

let origin: Origin;
const stacks: Partial<Record<'file' | 's3', Stack>> = {};
beforeAll(async () => {
  origin = await startOrigin();
  stacks.file = await startStack('file', { FETCHBOX_RETRY_MAX_ATTEMPTS: '2' }, [noRevalidate]);
  stacks.s3 = await startStack('s3', { FETCHBOX_RETRY_MAX_ATTEMPTS: '2' }, [noRevalidate]);
}, 60_000);
afterAll(async () => {
  await stacks.file?.close();
  await stacks.s3?.close();
  await origin?.close();
});

const SIZE = 100_000;

/** Runs a job over `resources` and returns the states by id. */
async function run(stack: Stack, resources: { id: string; url: string; key: string }[], handler?: string) {
  const jobId = uniqueJobId('recrawl');
  const res = await stack.submit({ jobId, ...(handler ? { handler } : {}), resources });
  expect(res.status).toBe(202);
  const summary = await stack.waitForJob(jobId);
  const states = await stack.allResources(jobId);
  return { summary, byId: new Map(states.map((s) => [s.id as string, s])) };
}

/** Body bytes the origin sent for these names. */
const sentFor = (names: string[]) => names.reduce((n, name) => n + (origin.bytesSent.get(`/cond/${SIZE}/${name}`) ?? 0), 0);

describe.each(['file', 's3'] as const)('conditional recrawls (%s storage)', (kind) => {
  it('a second job over the same keys gets 304s: notModified, attempts 1, nothing fetched or uploaded, objects unchanged', async () => {
    const stack = stacks[kind]!;
    const tag = uniqueJobId(`same-${kind}`);
    const names = [0, 1, 2, 3].map((i) => `${tag}-${i}`);
    const resources = names.map((name, i) => ({ id: `r${i}`, url: `${origin.url}/cond/${SIZE}/${name}`, key: `recrawl/${tag}/${i}` }));
    const first = await run(stack, resources);
    expect(first.summary).toMatchObject({ status: 'completed', resources: { succeeded: 4 } });
    expect(sentFor(names)).toBe(4 * SIZE);
    const before = new Map<string, Awaited<ReturnType<Stack['storage']['head']>>>();
    for (const r of resources) {
      const head = await stack.storage.head(r.key);
      expect(head?.metadata[VALIDATOR_METADATA.etag]).toBe(`"${names[Number(r.id.slice(1))]}-v1"`);
      expect(head?.metadata[VALIDATOR_METADATA.lastModified]).toBe('Wed, 21 Oct 2015 07:28:00 GMT');
      before.set(r.key, head);
      expect(first.byId.get(r.id)?.notModified).toBeUndefined();
    }

    const second = await run(stack, resources);
    expect(second.summary).toMatchObject({ status: 'completed', resources: { succeeded: 4, failed: 0 } });
    expect(sentFor(names)).toBe(4 * SIZE); // no body byte the second time
    for (const [i, r] of resources.entries()) {
      const state = second.byId.get(r.id)!;
      expect(state).toMatchObject({
        status: 'succeeded',
        notModified: true,
        attempts: 1,
        bytes: SIZE,
        sha256: contentSha256(`${names[i]}-v1`, SIZE),
      });
      expect(origin.lastHeaders.get(`/cond/${SIZE}/${names[i]}`)?.['if-none-match']).toBe(`"${names[i]}-v1"`);
      expect(await readBack(stack.storage, r.key)).toEqual({ sha256: contentSha256(`${names[i]}-v1`, SIZE), bytes: SIZE });
      const after = await stack.storage.head(r.key);
      expect(after?.lastModified).toEqual(before.get(r.key)?.lastModified); // not rewritten
      expect(after?.metadata).toEqual(before.get(r.key)?.metadata);
    }
  });

  it('a changed ETag, an origin that ignores the condition, and another URL at the key: full downloads', async () => {
    const stack = stacks[kind]!;
    const tag = uniqueJobId(`changed-${kind}`);
    const [changed, ignoring] = [`${tag}-changed`, `${tag}-ignoring`];
    const resources = [
      { id: 'changed', url: `${origin.url}/cond/${SIZE}/${changed}`, key: `recrawl/${tag}/changed` },
      { id: 'ignoring', url: `${origin.url}/cond/${SIZE}/${ignoring}`, key: `recrawl/${tag}/ignoring` },
    ];
    await run(stack, resources);
    origin.validated.set(changed, { version: 2 });
    origin.validated.set(ignoring, { version: 3, ignoreConditions: true });
    const second = await run(stack, resources);
    expect(second.byId.get('changed')).toMatchObject({ status: 'succeeded', attempts: 1, sha256: contentSha256(`${changed}-v2`, SIZE) });
    expect(second.byId.get('changed')?.notModified).toBeUndefined();
    expect(second.byId.get('ignoring')).toMatchObject({ status: 'succeeded', sha256: contentSha256(`${ignoring}-v3`, SIZE) });
    expect(second.byId.get('ignoring')?.notModified).toBeUndefined();
    expect(sentFor([changed, ignoring])).toBe(4 * SIZE);
    expect(await readBack(stack.storage, resources[0]!.key)).toEqual({ sha256: contentSha256(`${changed}-v2`, SIZE), bytes: SIZE });
    expect((await stack.storage.head(resources[0]!.key))?.metadata[VALIDATOR_METADATA.etag]).toBe(`"${changed}-v2"`);
    expect((await stack.storage.head(resources[1]!.key))?.metadata[VALIDATOR_METADATA.etag]).toBe(`"${ignoring}-v3"`);

    // Another URL stored at the same key never receives the first URL's validators.
    const other = `${tag}-other`;
    const third = await run(stack, [{ id: 'other', url: `${origin.url}/cond/${SIZE}/${other}`, key: resources[0]!.key }]);
    expect(third.byId.get('other')).toMatchObject({ status: 'succeeded', sha256: contentSha256(`${other}-v1`, SIZE) });
    expect(origin.lastHeaders.get(`/cond/${SIZE}/${other}`)?.['if-none-match']).toBeUndefined();
    expect(origin.lastHeaders.get(`/cond/${SIZE}/${other}`)?.['if-modified-since']).toBeUndefined();
  });
});

describe('conditional recrawls: edge cases (file storage)', () => {
  it('a handler policy revalidate: false always downloads in full', async () => {
    const stack = stacks.file!;
    const name = uniqueJobId('norevalidate');
    const resources = [{ id: 'r', url: `${origin.url}/cond/${SIZE}/${name}`, key: `recrawl/${name}` }];
    await run(stack, resources, 'no-revalidate');
    const second = await run(stack, resources, 'no-revalidate');
    expect(second.byId.get('r')).toMatchObject({ status: 'succeeded', sha256: contentSha256(`${name}-v1`, SIZE) });
    expect(second.byId.get('r')?.notModified).toBeUndefined();
    expect(origin.lastHeaders.get(`/cond/${SIZE}/${name}`)?.['if-none-match']).toBeUndefined();
    expect(sentFor([name])).toBe(2 * SIZE);
  });

  it('hostile ETags (10 KB, non-ASCII, not quoted) are not stored; the object is; Last-Modified still revalidates', async () => {
    const stack = stacks.file!;
    const tag = uniqueJobId('hostile');
    const hostile = { huge: `"${'x'.repeat(10_000)}"`, latin1: '"caf\xe9"', bare: 'no quotes', tab: '"a\tb"' };
    const resources = Object.entries(hostile).map(([id, rawEtag]) => {
      origin.validated.set(`${tag}-${id}`, { version: 1, rawEtag });
      return { id, url: `${origin.url}/cond/${SIZE}/${tag}-${id}`, key: `recrawl/${tag}/${id}` };
    });
    const first = await run(stack, resources);
    expect(first.summary).toMatchObject({ status: 'completed', resources: { succeeded: 4 } });
    for (const r of resources) {
      const head = await stack.storage.head(r.key);
      expect(head?.metadata[VALIDATOR_METADATA.etag], r.id).toBeUndefined();
      expect(head?.metadata[VALIDATOR_METADATA.lastModified]).toBe('Wed, 21 Oct 2015 07:28:00 GMT');
      expect(await readBack(stack.storage, r.key)).toEqual({ sha256: contentSha256(`${tag}-${r.id}-v1`, SIZE), bytes: SIZE });
    }
    // The next request carries If-Modified-Since only (this origin answers such raw responses in full).
    await run(stack, resources.slice(0, 1));
    expect(origin.lastHeaders.get(`/cond/${SIZE}/${tag}-huge`)?.['if-modified-since']).toBe('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(origin.lastHeaders.get(`/cond/${SIZE}/${tag}-huge`)?.['if-none-match']).toBeUndefined();
  });

  it('an ETag with a line break never reaches storage: the response is refused, nothing stored', async () => {
    const stack = stacks.file!;
    const name = uniqueJobId('newline');
    origin.validated.set(name, { version: 1, rawEtag: '"a\r\n x-injected: 1"' });
    const { byId } = await run(stack, [{ id: 'r', url: `${origin.url}/cond/${SIZE}/${name}`, key: `recrawl/${name}` }]);
    const state = byId.get('r')!;
    if (state.status === 'succeeded') {
      expect((await stack.storage.head(`recrawl/${name}`))?.metadata[VALIDATOR_METADATA.etag]).toBeUndefined();
    } else {
      expect(state.status).toBe('failed');
      expect(await stack.storage.head(`recrawl/${name}`)).toBeUndefined();
    }
  });

  it('a 304 to a request that was not conditional fails with http_status', async () => {
    const { byId } = await run(stacks.file!, [
      { id: 'r', url: `${origin.url}/status/304/${uniqueJobId('unasked')}`, key: `recrawl/${uniqueJobId('unasked')}` },
    ]);
    expect(byId.get('r')).toMatchObject({ status: 'failed', error: { kind: 'http_status', httpStatus: 304 } });
  });
});
