import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openResumable } from '../../src/activities/resumable-download.js';
import { ErrorKind, FetchFailure } from '../../src/fetch/errors.js';
import type { Fetcher, OpenRequest } from '../../src/fetch/fetcher.js';
import type { OpenResponse } from '../../src/fetch/response.js';
import { FileStorage } from '../../src/storage/file-storage.js';
import { RESUMABLE_MIN_BYTES, partialId } from '../../src/storage/partials.js';

const task = { id: 'r', url: 'http://o/big', key: 'k/big' };
const TOTAL = RESUMABLE_MIN_BYTES + 1000;
const id = partialId(task.key, task.url, undefined);

/** A fetcher answering each open with the next of `answers` (a response or an error), recording requests. */
function stubFetcher(answers: (Partial<OpenResponse> | Error)[]) {
  const requests: OpenRequest[] = [];
  const fetcher: Fetcher = {
    async open(req) {
      requests.push(req);
      const next = answers.shift();
      if (next === undefined) throw new Error('no more answers');
      if (next instanceof Error) throw next;
      const body = Object.assign(Readable.from([]), { dump: async () => undefined }) as unknown as OpenResponse['body'];
      return { url: task.url, status: 200, redirects: 0, body, ...next };
    },
    async close() {},
  };
  return { fetcher, requests };
}

const full = { status: 200, contentLength: TOTAL, acceptRanges: 'bytes', etag: '"v1"' };

let root: string;
let storage: FileStorage;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-open-resumable-'));
  storage = new FileStorage(root);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Leaves a partial of `bytes` for the task, as a broken first attempt would. */
async function leavePartial(bytes: number) {
  async function* broken() {
    yield Buffer.alloc(bytes, 1);
    await new Promise((r) => setTimeout(r, 5));
    throw new Error('reset');
  }
  await storage.resumable
    .put({ key: task.key, body: broken(), expectedBytes: TOTAL, partial: { id, total: TOTAL, validator: '"v1"', url: task.url } })
    .catch(() => undefined);
  expect((await storage.resumable.find(id))?.offset).toBe(bytes);
}

describe('openResumable', () => {
  it('a large 200 with ranges and a strong ETag is resumable; a weak ETag, no Accept-Ranges or a small body is not', async () => {
    expect((await openResumable(stubFetcher([full]).fetcher, storage, task, { url: task.url }, false)).partial).toEqual({
      id,
      total: TOTAL,
      validator: '"v1"',
      url: task.url,
    });
    for (const answer of [
      { ...full, etag: 'W/"v1"' },
      { ...full, acceptRanges: 'none' },
      { ...full, contentLength: 1000 },
      // Last-Modified alone does not prove two ranges are one representation; an encoded body is not resumed.
      { status: 200, contentLength: TOTAL, acceptRanges: 'bytes', lastModified: 'Wed, 21 Oct 2015 07:28:00 GMT' },
      { ...full, contentEncoding: 'gzip' },
    ]) {
      expect((await openResumable(stubFetcher([answer]).fetcher, storage, task, { url: task.url }, false)).partial).toBeUndefined();
    }
  });

  it('a first attempt never looks for a partial; a retry asks for the rest with Range and If-Range', async () => {
    await leavePartial(4096);
    const first = stubFetcher([full]);
    await openResumable(first.fetcher, storage, task, { url: task.url }, false);
    expect(first.requests[0]!.headers?.range).toBeUndefined();
    const retry = stubFetcher([
      { status: 206, etag: '"v1"', contentLength: TOTAL - 4096, contentRange: `bytes 4096-${TOTAL - 1}/${TOTAL}` },
    ]);
    const opened = await openResumable(
      retry.fetcher,
      storage,
      task,
      { url: task.url, conditional: { url: task.url, headers: { 'if-none-match': '"x"' } } },
      true,
    );
    expect(retry.requests[0]).toMatchObject({ headers: { range: 'bytes=4096-', 'if-range': '"v1"' } });
    expect(retry.requests[0]!.conditional).toBeUndefined();
    expect(opened.partial).toMatchObject({ from: 4096, total: TOTAL });
  });

  it('a 416 drops the partial and asks again without Range', async () => {
    await leavePartial(4096);
    const { fetcher, requests } = stubFetcher([
      new FetchFailure(ErrorKind.httpStatus, 'HTTP 416', false, { url: task.url, httpStatus: 416 }),
      full,
    ]);
    const opened = await openResumable(fetcher, storage, task, { url: task.url }, true);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.headers?.range).toBeUndefined();
    expect(opened.partial?.from).toBeUndefined();
    expect(await storage.resumable.find(id)).toBeUndefined();
  });

  it('a 206 from another URL or with another range starts over; a 503 keeps the partial', async () => {
    for (const odd of [
      { status: 206, url: 'http://elsewhere/big', contentRange: `bytes 4096-${TOTAL - 1}/${TOTAL}` },
      { status: 206, contentRange: `bytes 4095-${TOTAL - 1}/${TOTAL}` },
      { status: 206, contentRange: `bytes 4096-${TOTAL - 1}/${TOTAL + 1}` },
    ]) {
      await leavePartial(4096);
      const { fetcher, requests } = stubFetcher([odd, full]);
      const opened = await openResumable(fetcher, storage, task, { url: task.url }, true);
      expect(requests).toHaveLength(2);
      expect(opened.partial?.from).toBeUndefined();
    }
    await leavePartial(4096);
    const busy = stubFetcher([new FetchFailure(ErrorKind.httpStatus, 'HTTP 503', true, { url: task.url, httpStatus: 503 })]);
    await expect(openResumable(busy.fetcher, storage, task, { url: task.url }, true)).rejects.toThrow('503');
    expect((await storage.resumable.find(id))?.offset).toBe(4096);
  });

  it('a 206 with another ETag, a weak or no ETag, or an encoding is not spliced onto the prefix: it starts over', async () => {
    const range = `bytes 4096-${TOTAL - 1}/${TOTAL}`;
    for (const odd of [
      // An origin or CDN that ignores If-Range while the content changed.
      { status: 206, etag: '"v2"', contentRange: range },
      { status: 206, etag: 'W/"v1"', contentRange: range },
      { status: 206, contentRange: range },
      { status: 206, etag: '"v1"', contentEncoding: 'gzip', contentRange: range },
    ]) {
      await leavePartial(4096);
      const { fetcher, requests } = stubFetcher([odd, { ...full, etag: '"v2"' }]);
      const opened = await openResumable(fetcher, storage, task, { url: task.url }, true);
      expect(requests).toHaveLength(2);
      expect(requests[1]!.headers?.range).toBeUndefined();
      expect(opened.partial?.from).toBeUndefined();
      expect(opened.partial?.validator).toBe('"v2"');
      expect(opened.res.status).toBe(200);
    }
  });

  it('a 206 to a request without Range is refused, never stored', async () => {
    for (const retried of [false, true]) {
      const { fetcher } = stubFetcher([{ status: 206, etag: '"v1"', contentRange: `bytes 0-9/${TOTAL}` }]);
      await expect(openResumable(fetcher, storage, task, { url: task.url }, retried)).rejects.toMatchObject({
        kind: ErrorKind.httpStatus,
        retryable: false,
      });
    }
  });

  it('a continuation appends only to the checkpoint it was validated against', async () => {
    await leavePartial(4096);
    const found = await storage.resumable.find(id);
    // Meanwhile another attempt started over on a new version of the body and left its own checkpoint.
    async function* brokenV2() {
      yield Buffer.alloc(8192, 2);
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('reset');
    }
    await storage.resumable
      .put({ key: task.key, body: brokenV2(), expectedBytes: TOTAL, partial: { id, total: TOTAL, validator: '"v2"', url: task.url } })
      .catch(() => undefined);
    const { offset, ...target } = found!;
    const rest = Readable.from([Buffer.alloc(TOTAL - offset, 1)]);
    await expect(
      storage.resumable.put({ key: task.key, body: rest, expectedBytes: TOTAL, partial: { ...target, from: offset } }),
    ).rejects.toThrow(/starting over/);
    expect(await storage.head(task.key)).toBeUndefined();
  });
});
