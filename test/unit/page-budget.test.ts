import { ApplicationFailure } from '@temporalio/activity';
import { ActivityFailure, TimeoutFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ioFailure } from '../../src/activities/failures.js';
import { validateStagedPage } from '../../src/activities/page-activities.js';
import { fitPage } from '../../src/activities/page-fit.js';
import { paginate } from '../../src/api/submit/staging.js';
import { Readable } from 'node:stream';
import type { Client } from '@temporalio/client';
import { createActivities } from '../../src/activities/create-activities.js';
import type { Fetcher } from '../../src/fetch/fetcher.js';
import { builtInHandlers } from '../../src/handlers/registry.js';
import { ObjectNotFoundError, StorageError } from '../../src/storage/errors.js';
import type { Storage } from '../../src/storage/storage.js';
import { downloadFailure } from '../../src/workflows/download-failure.js';
import { clipJson } from '../../src/model/failure-rules.js';
import type { DownloadTask, ManifestResource, PageResult, ResourceState } from '../../src/model/job-types.js';
import {
  MAX_CONTENT_TYPE_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_PAGE_TASKS,
  PAGE_BUDGET_BYTES,
  STATE_OVERHEAD_BYTES,
  jsonBytes,
} from '../../src/model/page-budget.js';

/** A message or content type as hostile as JSON gets: control characters (6 bytes each), lone surrogates. */
const hostile = (n: number) => '\u0001"\\\ud800é😀'.repeat(n);

/** The largest state a resource can end in: the bigger of a success and a failure. */
function worstStates(task: DownloadTask): ResourceState[] {
  return [
    {
      id: task.id,
      url: task.url,
      key: task.key,
      status: 'succeeded',
      attempts: 2 ** 31,
      bytes: 5 * 2 ** 40,
      sha256: 'f'.repeat(64),
      contentType: clipJson(hostile(200), MAX_CONTENT_TYPE_BYTES),
    },
    {
      id: task.id,
      url: task.url,
      key: task.key,
      status: 'failed',
      attempts: 2 ** 31,
      error: { kind: 'retries_exhausted', message: clipJson(hostile(500), MAX_MESSAGE_BYTES), httpStatus: 599 },
    },
  ];
}

function worstPageResult(tasks: DownloadTask[]): number {
  const states = tasks.map((t) => worstStates(t).reduce((a, b) => (jsonBytes(a) >= jsonBytes(b) ? a : b)));
  const result: PageResult = {
    page: 999_999,
    round: 99,
    pageResources: tasks.length,
    tasks: tasks.length,
    succeeded: 0,
    failed: tasks.length,
    bytes: 2 ** 52,
    canceled: false,
    states,
  };
  return jsonBytes(result);
}

/** Resources as big as a valid manifest allows: 8 KiB URLs, 256-char ids, 1024-byte keys, 8 KiB of headers. */
function hugeResources(n: number, withHeaders: boolean): ManifestResource[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${String(i).padStart(6, '0')}${'i'.repeat(250)}`,
    url: `https://example.test/${'u'.repeat(8 * 1024 - 30)}${i}`,
    key: `k/${'é'.repeat(500)}${String(i).padStart(10, '0')}`.slice(0, 512),
    ...(withHeaders ? { headers: { 'X-Big': 'h'.repeat(8 * 1024 - 10) } } : {}),
  }));
}

describe('the worst-case state overhead', () => {
  it('covers the most a success or a failure adds to its task', () => {
    const task = { id: 'i', url: 'u', key: 'k' };
    for (const state of worstStates(task)) expect(jsonBytes(state) - jsonBytes(task)).toBeLessThanOrEqual(STATE_OVERHEAD_BYTES);
  });
});

describe('clipJson', () => {
  it('keeps the JSON string of any text within the byte limit', () => {
    for (const text of [hostile(300), 'a'.repeat(1000), '😀'.repeat(400), '\ud800'.repeat(200)]) {
      const clipped = clipJson(text, 500);
      expect(Buffer.byteLength(JSON.stringify(clipped)) - 2).toBeLessThanOrEqual(500);
      expect(text.startsWith(clipped)).toBe(true);
    }
    expect(clipJson('short', 500)).toBe('short');
  });
});

describe('paginate keeps every page within the payload budget', () => {
  it.each([
    ['8 KiB URLs, 256-char ids, 1024-byte keys', false],
    ['the same with 8 KiB of headers each', true],
  ])('%s at the maximum page size', (_, withHeaders) => {
    const resources = hugeResources(600, withHeaders);
    const pages = paginate(resources, 5_000);
    expect(pages.length).toBeGreaterThan(1);
    expect(pages.flat()).toEqual(resources);
    for (const page of pages) {
      const tasks = page.map((r) => ({ id: r.id, url: r.url, key: r.key!, ...(r.headers ? { headers: r.headers } : {}) }));
      expect(worstPageResult(tasks)).toBeLessThan(1_500_000); // PageResult, and the pageStates query
      expect(jsonBytes({ tasks, pageResources: page.length })).toBeLessThan(1_500_000); // LoadedPage, failedTasks, batches
      expect(jsonBytes(page)).toBeLessThan(1_500_000); // the staged page
    }
  });

  it('keeps small resources at the configured page size', () => {
    const resources = Array.from({ length: 2_500 }, (_, i) => ({ id: String(i), url: `https://example.test/files/${i}.jpg` }));
    expect(paginate(resources, 1_000).map((p) => p.length)).toEqual([1_000, 1_000, 500]);
    // At the largest page size, the budget closes pages first (worst-case states of ~700 bytes each).
    const big = paginate(resources, MAX_PAGE_TASKS);
    expect(big.length).toBe(2);
    for (const page of big) expect(worstPageResult(page.map((r) => ({ ...r, key: '' })))).toBeLessThan(PAGE_BUDGET_BYTES);
  });

  it('budgets a key the handler computes at the longest key', () => {
    const resources = Array.from({ length: 2_000 }, (_, i) => ({ id: String(i), url: `https://example.test/${i}` }));
    const pages = paginate(resources, 5_000, () => 'k'.repeat(1024));
    expect(pages.length).toBeGreaterThan(1);
    for (const page of pages) {
      expect(worstPageResult(page.map((r) => ({ ...r, key: 'k'.repeat(1024) })))).toBeLessThan(1_500_000);
    }
  });
});

describe('fitPage (loadPage within the page budget and the job cap)', () => {
  const listings: ManifestResource[] = [0, 1, 2].map((i) => ({ id: `l${i}`, url: `https://example.test/l${i}` }));
  const expandTo =
    (perListing: number, urlBytes = 20) =>
    async (rs: ManifestResource[]) =>
      rs.flatMap((r) =>
        Array.from({ length: perListing }, (_, n) => ({
          id: `${r.id}/${n}`,
          url: `${r.url}/${'x'.repeat(urlBytes)}${n}`,
          key: `j/${r.id}/${n}`,
        })),
      );
  const base = { oneToOne: false, keyOf: (r: ManifestResource) => `j/${r.id}`, onResourceError: (err: unknown) => String(err) };

  it('takes everything that fits', async () => {
    const page = await fitPage(listings, { ...base, expand: expandTo(10) });
    expect(page.tasks).toHaveLength(30);
    expect(page.rejected).toEqual([]);
  });

  it('rejects whole listings whose tasks exceed the page budget, and the result stays within it', async () => {
    const page = await fitPage(listings, { ...base, expand: expandTo(600) });
    expect(page.tasks).toHaveLength(1_200); // two listings whole; the third would pass 1 MiB of states
    expect(page.rejected.map((r) => r.id)).toEqual(['l2']);
    expect(page.rejected[0]!.message).toMatch(/exceeds the page budget/);
    const big = await fitPage(listings, { ...base, expand: expandTo(500, 2_000) });
    expect(big.rejected.length).toBeGreaterThan(0);
    expect(jsonBytes(big)).toBeLessThan(PAGE_BUDGET_BYTES);
    expect(worstPageResult([...big.tasks, ...big.rejected.map(({ message: _, ...r }) => r)])).toBeLessThan(1_500_000);
  });

  it('rejects listings beyond the job-wide cap share, counting each rejected listing as one task', async () => {
    const page = await fitPage(listings, { ...base, expand: expandTo(10), maxExtraTasks: 15 });
    // 3 listings + 15 extra = 18: l0's 10 tasks fit (10 + 2 reserved), l1's would make 22.
    expect(page.tasks.map((t) => t.id.split('/')[0])).toEqual(Array(10).fill('l0'));
    expect(page.rejected.map((r) => r.id)).toEqual(['l1', 'l2']);
    expect(page.rejected[0]!.message).toMatch(/limits\.maxResourcesPerJob/);
    expect(page.tasks.length + page.rejected.length).toBeLessThanOrEqual(listings.length + 15);
  });

  it('records a listing whose own expansion throws, keeping the others', async () => {
    const expand = async (rs: ManifestResource[]) => {
      if (rs.length === 1 && rs[0]!.id === 'l1') throw new Error('boom');
      return expandTo(600)(rs);
    };
    const page = await fitPage(listings, { ...base, expand, onResourceError: (err) => `handler expand failed: ${(err as Error).message}` });
    expect(page.rejected.map((r) => [r.id, r.message])).toEqual([['l1', 'handler expand failed: boom']]);
    expect(page.tasks).toHaveLength(1_200);
  });

  it('with expandEach, asks one listing at a time from the start and never the whole page', async () => {
    const calls: number[] = [];
    const expand = async (rs: ManifestResource[]) => {
      calls.push(rs.length);
      if (rs.some((r) => r.id === 'l1')) throw new Error('boom');
      return expandTo(2)(rs);
    };
    const page = await fitPage(listings, { ...base, expand, expandEach: true });
    expect(calls).toEqual([1, 1, 1]);
    expect(page.tasks.map((t) => t.id)).toEqual(['l0/0', 'l0/1', 'l2/0', 'l2/1']);
    expect(page.rejected.map((r) => r.id)).toEqual(['l1']);
    // A handler with no expand (one task per resource) is asked per resource too.
    const oneToOne = await fitPage(listings, { ...base, oneToOne: true, expand: async (rs) => expandTo(1)(rs), expandEach: true });
    expect(oneToOne.tasks.map((t) => t.id)).toEqual(['l0/0', 'l1/0', 'l2/0']);
  });
});

describe('staged pages are validated, outages retried, the rest fails for good', () => {
  it('refuses staged pages that FetchBox did not write', () => {
    for (const bad of [
      {},
      'x',
      [1],
      [{ id: 1, url: 'u' }],
      [{ id: 'a', url: 'u', key: 3 }],
      [{ id: 'a', url: 'u', headers: { a: 1 } }],
      [{ id: 'a', url: 'u', extra: true }],
    ]) {
      const err = (() => {
        try {
          validateStagedPage(bad, 'p');
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect((err as ApplicationFailure).nonRetryable).toBe(true);
      expect((err as ApplicationFailure).type).toBe('corrupt_staged_page');
    }
    expect(validateStagedPage([{ id: 'a', url: 'u', key: 'k', headers: { a: 'b' } }], 'p')).toHaveLength(1);
  });

  it('retries storage outages and refuses to retry bugs', () => {
    const outage = new StorageError('s3 storage: connect ECONNREFUSED', 'k');
    expect(ioFailure(outage)).toBe(outage);
    const bug = ioFailure(new TypeError('x is not a function'));
    expect(bug).toBeInstanceOf(ApplicationFailure);
    expect((bug as ApplicationFailure).nonRetryable).toBe(true);
  });
});

describe('loadPage', () => {
  /** Activities over a storage whose staged page is `page` (a Buffer, or an error to throw). */
  function activitiesOver(page: Buffer | Error) {
    const storage = {
      url: 'file:///x',
      get: async () => {
        if (page instanceof Error) throw page;
        return Readable.from([page]);
      },
      getJson: async () => ({ metadata: {} }),
    } as unknown as Storage;
    return createActivities({ storage, fetcher: {} as Fetcher, handlers: builtInHandlers(), client: {} as Client });
  }
  const input = { jobId: 'j', handler: 'default', pageKey: 'j/.fetchbox/h/pages/000000.json', manifestKey: 'j/.fetchbox/h/manifest.json' };

  it('turns a valid staged page into tasks', async () => {
    const loaded = await activitiesOver(Buffer.from(JSON.stringify([{ id: 'a', url: 'https://example.test/a.jpg' }]))).loadPage({
      ...input,
      maxExtraTasks: 10,
    });
    expect(loaded).toEqual({ tasks: [{ id: 'a', url: 'https://example.test/a.jpg', key: 'j/a-a.jpg' }], pageResources: 1 });
  });

  it('keeps a page staged before the budget whole (no maxExtraTasks), and budgets a new one', async () => {
    // 1,000 resources of 1 KiB URLs: 1 MiB of JSON, as the old rule cut pages; over today's budget.
    const page = Array.from({ length: 1_000 }, (_, i) => ({ id: String(i), url: `https://example.test/${'u'.repeat(1000)}/${i}` }));
    const old = await activitiesOver(Buffer.from(JSON.stringify(page))).loadPage(input);
    expect(old.tasks).toHaveLength(1_000);
    expect(old.rejected).toBeUndefined();
    // A new job's page over the budget was not staged by the API: it fails, once.
    const err = await activitiesOver(Buffer.from(JSON.stringify(page)))
      .loadPage({ ...input, maxExtraTasks: 0 })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ type: 'corrupt_staged_page', nonRetryable: true });
    // Within the budget as failures but not as tasks (8 KiB headers): the tail is rejected, the result fits.
    const heavy = Array.from({ length: 200 }, (_, i) => ({
      id: String(i),
      url: `https://example.test/${i}`,
      headers: { 'X-A': 'a'.repeat(8000) },
    }));
    const budgeted = await activitiesOver(Buffer.from(JSON.stringify(heavy))).loadPage({ ...input, maxExtraTasks: 0 });
    expect(budgeted.rejected!.length).toBeGreaterThan(0);
    expect(budgeted.tasks.length + budgeted.rejected!.length).toBe(200);
    expect(jsonBytes(budgeted)).toBeLessThan(PAGE_BUDGET_BYTES);
  });

  it.each([
    ['not JSON', Buffer.from('{"id":')],
    ['the wrong shape', Buffer.from(JSON.stringify({ resources: [] }))],
    ['a resource without a url', Buffer.from(JSON.stringify([{ id: 'a' }]))],
  ])('fails non-retryably on a staged page that is %s', async (_, page) => {
    const err = await activitiesOver(page)
      .loadPage(input)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
  });

  it('fails non-retryably on a missing staged page, and leaves an outage to be retried', async () => {
    const missing = await activitiesOver(new ObjectNotFoundError('k'))
      .loadPage(input)
      .catch((e: unknown) => e);
    expect((missing as ApplicationFailure).nonRetryable).toBe(true);
    const outage = new StorageError('s3 storage: ECONNREFUSED', 'k');
    await expect(activitiesOver(outage).loadPage(input)).rejects.toBe(outage);
  });
});

describe('attempts count every attempt', () => {
  it('counts the attempts of a resource whose every attempt timed out', () => {
    const err = new ActivityFailure(
      'activity failed',
      'downloadResource',
      '1',
      'MAXIMUM_ATTEMPTS_REACHED',
      undefined,
      new TimeoutFailure('timeout', undefined, 'START_TO_CLOSE'),
    );
    // A batch made attempt 1; the lone activity allowed 2 more.
    expect(downloadFailure(err, 1, 2 + 1)).toMatchObject({ attempts: 3, error: { kind: 'timeout' } });
    expect(downloadFailure(err, 1)).toMatchObject({ attempts: 1 });
  });
});
