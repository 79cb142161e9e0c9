import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defineHandler } from '../../src/handlers/handler.js';
import { extractLinks, linkExpanderHandler } from '../../src/handlers/link-expander.js';
import { createHandlerHarness } from '../../src/handlers/testing.js';
import { content, contentSha256, startOrigin, type Origin } from '../support/origin.js';
import { readBack } from '../support/objects.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';

let origin: Origin;
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin?.close();
});
afterEach(() => origin.hits.clear());

/** A handler that signs requests with a header from its settings and files objects by id. */
const signing = defineHandler({
  name: 'signing',
  headers: (task, ctx) => ({ 'X-Signature': `${ctx.settings.secret ?? 'none'}:${task.id}`, 'X-Source': String(ctx.metadata.source ?? '') }),
  storageKey: (resource, ctx) => `signed/${ctx.jobId}/${resource.id}.bin`,
  objectOptions: () => ({ contentType: 'application/x-fetchbox-test', metadata: { crawl: 'signed' } }),
  policy: { concurrency: 2, retry: { maximumAttempts: 2 } },
});

/** A handler whose expand always fails, as a buggy handler would. */
const broken = defineHandler({
  name: 'broken',
  expand: () => {
    throw new Error('listing format changed');
  },
});

describe('extractLinks', () => {
  it('resolves relative links, drops fragments, mailto and duplicates', () => {
    const html = `<a href="a.jpg">a</a><A HREF='/b.pdf'>b</A><a href=c.txt#x>c</a><a href="a.jpg">again</a><a href="#top">t</a><a href="mailto:x@y.z">m</a><a href="x?a=1&amp;b=2">q</a>`;
    expect(extractLinks(html, 'http://h.test/dir/index.html')).toEqual([
      'http://h.test/dir/a.jpg',
      'http://h.test/b.pdf',
      'http://h.test/dir/c.txt',
      'http://h.test/dir/x?a=1&b=2',
    ]);
  });
});

describe('handler harness (MockActivityEnvironment, real fetcher and storage)', () => {
  it('expands a listing page into its files with link-expander', async () => {
    const harness = await createHandlerHarness(linkExpanderHandler, { allowCidrs: ['127.0.0.1/32'], jobId: 'h1' });
    try {
      const { tasks, handlerError } = await harness.expand([
        { id: 'gallery', url: `${origin.url}/listing/gal?files=a.jpg,b.jpg`, headers: { Cookie: 'k=v' } },
      ]);
      expect(handlerError).toBeUndefined();
      expect(tasks).toEqual([
        {
          id: 'gallery/0',
          url: `${origin.url}/listing/gal/a.jpg`,
          key: 'h1/gallery/a.jpg',
          headers: { Cookie: 'k=v', Referer: `${origin.url}/listing/gal?files=a.jpg,b.jpg` },
        },
        {
          id: 'gallery/1',
          url: `${origin.url}/listing/gal/b.jpg`,
          key: 'h1/gallery/b.jpg',
          headers: { Cookie: 'k=v', Referer: `${origin.url}/listing/gal?files=a.jpg,b.jpg` },
        },
      ]);
      const result = await harness.download(tasks[0]!);
      expect(result).toMatchObject({ bytes: 16, sha256: contentSha256('gal/a.jpg', 16), attempts: 1 });
      expect(origin.lastHeaders.get('/listing/gal/a.jpg')?.cookie).toBe('k=v');
    } finally {
      await harness.close();
    }
  });

  it('honours metadata.linkPattern and maxLinks', async () => {
    const harness = await createHandlerHarness(linkExpanderHandler, {
      allowCidrs: ['127.0.0.1/32'],
      metadata: { linkPattern: '\\.pdf$', maxLinks: 1 },
    });
    try {
      const { tasks } = await harness.expand([{ id: 'l', url: `${origin.url}/listing/docs?files=a.jpg,b.pdf,c.pdf` }]);
      expect(tasks.map((t) => t.url)).toEqual([`${origin.url}/listing/docs/b.pdf`]);
    } finally {
      await harness.close();
    }
  });

  it('reports a handler that throws as handlerError instead of failing the activity', async () => {
    const harness = await createHandlerHarness(broken);
    try {
      const page = await harness.expand([{ id: 'x', url: 'https://example.test/x' }]);
      expect(page.tasks).toEqual([]);
      expect(page.handlerError?.message).toBe('handler expand failed: listing format changed');
      expect(page.handlerError?.resources).toEqual([{ id: 'x', url: 'https://example.test/x', key: 'harness-job/x-x' }]);
    } finally {
      await harness.close();
    }
  });

  it('refuses, through ctx.fetchText, a listing on an address the guard blocks', async () => {
    const harness = await createHandlerHarness(linkExpanderHandler); // nothing allowed: loopback is blocked
    try {
      const page = await harness.expand([{ id: 'l', url: `${origin.url}/listing/x?files=a` }]);
      expect(page.handlerError?.message).toMatch(/loopback/);
      expect(origin.hits.size).toBe(0);
    } finally {
      await harness.close();
    }
  });

  it('applies the handler policy over configuration defaults', async () => {
    const harness = await createHandlerHarness(signing);
    try {
      expect(harness.policy).toMatchObject({ concurrency: 2, retry: { maximumAttempts: 2, initialIntervalMs: 1000 } });
    } finally {
      await harness.close();
    }
  });
});

describe('handlers in real jobs', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('s3', { FETCHBOX_HANDLER_SIGNING_SECRET: 'k3y' }, [signing, broken]);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('sends handler headers to the origin and stores under the handler key with its object options', async () => {
    const jobId = uniqueJobId('signing');
    const res = await stack.submit({
      jobId,
      handler: 'signing',
      metadata: { source: 'crawler-7' },
      resources: [{ url: `${origin.url}/headers/${jobId}`, id: 'r1' }],
    });
    expect(res.status).toBe(202);
    expect(await stack.waitForJob(jobId)).toMatchObject({ status: 'completed', handler: 'signing' });
    const seen = origin.lastHeaders.get(`/headers/${jobId}`)!;
    expect(seen['x-signature']).toBe('k3y:r1');
    expect(seen['x-source']).toBe('crawler-7');
    const [state] = await stack.allResources(jobId);
    expect(state).toMatchObject({ key: `signed/${jobId}/r1.bin`, contentType: 'application/x-fetchbox-test' });
    const head = await stack.storage.head(`signed/${jobId}/r1.bin`);
    expect(head?.metadata).toMatchObject({ crawl: 'signed', 'job-id': jobId });
  });

  it("downloads a listing's files with link-expander end to end", async () => {
    const jobId = uniqueJobId('listing');
    await stack.submit({
      jobId,
      handler: 'link-expander',
      resources: [{ url: `${origin.url}/listing/${jobId}?files=one.bin,two.bin,three.bin`, id: 'idx' }],
    });
    const summary = await stack.waitForJob(jobId);
    expect(summary).toMatchObject({ status: 'completed', resources: { total: 3, succeeded: 3, failed: 0, pending: 0 } });
    for (const file of ['one.bin', 'two.bin', 'three.bin']) {
      expect(await readBack(stack.storage, `${jobId}/idx/${file}`)).toEqual({ sha256: contentSha256(`${jobId}/${file}`, 16), bytes: 16 });
    }
    expect(content(`${jobId}/one.bin`, 16)).toHaveLength(16);
  });

  it('records error.kind handler when a handler throws, and the worker keeps working', async () => {
    const jobId = uniqueJobId('broken');
    await stack.submit({ jobId, handler: 'broken', resources: [{ url: `${origin.url}/bytes/1/a` }, { url: `${origin.url}/bytes/1/b` }] });
    expect(await stack.waitForJob(jobId)).toMatchObject({ status: 'completed_with_failures', resources: { failed: 2 } });
    const states = await stack.allResources(jobId);
    expect(states.map((s) => s.error)).toEqual([
      { kind: 'handler', message: 'handler expand failed: listing format changed' },
      { kind: 'handler', message: 'handler expand failed: listing format changed' },
    ]);
    // The same worker still runs the next job.
    const next = uniqueJobId('after-broken');
    await stack.submit({ jobId: next, resources: [{ url: `${origin.url}/bytes/5/${next}` }] });
    expect((await stack.waitForJob(next)).status).toBe('completed');
  });

  it('skips a resource whose key already holds the object from the same URL, when the policy says so', async () => {
    const skipStack = await startStack('file', { FETCHBOX_JOB_SKIP_EXISTING: 'true' });
    try {
      const url = `${origin.url}/bytes/700/skip-me`;
      const first = uniqueJobId('skip');
      await skipStack.submit({ jobId: first, resources: [{ url, key: 'shared/skip-me.bin' }] });
      await skipStack.waitForJob(first);
      const second = uniqueJobId('skip');
      await skipStack.submit({
        jobId: second,
        resources: [
          { url, key: 'shared/skip-me.bin' },
          { url: `${origin.url}/bytes/700/other`, key: 'shared/skip-me-2.bin' },
        ],
      });
      expect(await skipStack.waitForJob(second)).toMatchObject({ status: 'completed', resources: { succeeded: 2 } });
      const [kept] = await skipStack.allResources(second);
      expect(kept).toMatchObject({ status: 'succeeded', bytes: 700, sha256: contentSha256('skip-me', 700) });
      expect(origin.hits.get('/bytes/700/skip-me')).toBe(1);
    } finally {
      await skipStack.close();
    }
  });
});
