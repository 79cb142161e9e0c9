import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BodyRejectedError } from '../../src/storage/errors.js';
import { FileStorage } from '../../src/storage/file-storage.js';
import { partialId } from '../../src/storage/partials.js';

const body = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const tick = () => new Promise((resolve) => setTimeout(resolve, 2));

/** The largest data file in the partial area (0 when there is none). */
async function largestPartial(): Promise<number> {
  const dir = path.join(root, '.fetchbox-tmp', 'partial');
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => !n.includes('.json'));
  const sizes = await Promise.all(
    names.map((n) =>
      stat(path.join(dir, n)).then(
        (s) => s.size,
        () => 0,
      ),
    ),
  );
  return Math.max(0, ...sizes);
}

/**
 * Yields `bytes` of the body in 10 KB chunks, as a network would, then fails like a reset
 * connection once they are on disk (a condition, not a delay: a loaded machine writes late).
 */
async function* breaksAfter(bytes: number, from = 0) {
  for (let at = from; at < from + bytes; at += 10_000) {
    yield body.subarray(at, Math.min(at + 10_000, from + bytes));
    await tick();
  }
  await vi.waitFor(async () => expect(await largestPartial()).toBeGreaterThanOrEqual(from + bytes), { timeout: 10_000, interval: 5 });
  throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

let root: string;
let storage: FileStorage;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-partials-'));
  storage = new FileStorage(root);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const id = partialId('k/big', 'http://o/big', undefined);
const target = { id, total: body.length, validator: '"v1"', url: 'http://o/big' };

describe('file storage: resumable writes', () => {
  it('keeps the synced prefix of a broken body, nothing at the key, and completes it byte-exact with the whole sha256', async () => {
    await expect(
      storage.resumable.put({ key: 'k/big', body: breaksAfter(120_000), expectedBytes: body.length, partial: target }),
    ).rejects.toThrow(/hang up/);
    expect(await storage.head('k/big')).toBeUndefined();
    const checkpoint = await storage.resumable.find(id);
    expect(checkpoint).toEqual({ ...target, offset: 120_000 });

    const stored = await storage.resumable.put({
      key: 'k/big',
      body: [body.subarray(120_000)],
      expectedBytes: body.length,
      metadata: { 'source-url': 'http://o/big' },
      partial: { ...target, from: 120_000 },
    });
    expect(stored).toEqual({ key: 'k/big', bytes: body.length, sha256: sha(body) });
    expect(sha(await readFile(path.join(root, 'k/big')))).toBe(sha(body));
    expect((await storage.head('k/big'))?.metadata).toMatchObject({ sha256: sha(body), 'source-url': 'http://o/big' });
    expect(await storage.resumable.find(id)).toBeUndefined();
    expect(await readdir(path.join(root, '.fetchbox-tmp', 'partial'))).toEqual([]);
  });

  it('a continued body that ends short is not stored; a longer one is refused and the prefix dropped', async () => {
    await expect(
      storage.resumable.put({ key: 'k/big', body: breaksAfter(100_000), expectedBytes: body.length, partial: target }),
    ).rejects.toThrow();
    await expect(
      storage.resumable.put({
        key: 'k/big',
        body: [body.subarray(100_000), Buffer.alloc(10)],
        expectedBytes: body.length,
        partial: { ...target, from: 100_000 },
      }),
    ).rejects.toBeInstanceOf(BodyRejectedError);
    expect(await storage.head('k/big')).toBeUndefined();
    expect(await storage.resumable.find(id)).toBeUndefined();
  });

  it('a body over maxBytes is refused and never kept', async () => {
    await expect(
      storage.resumable.put({ key: 'k/big', body: [body], expectedBytes: body.length, maxBytes: 1000, partial: target }),
    ).rejects.toBeInstanceOf(BodyRejectedError);
    expect(await storage.resumable.find(id)).toBeUndefined();
    expect(await readdir(path.join(root, '.fetchbox-tmp', 'partial'))).toEqual([]);
  });

  it('a prefix shorter than its checkpoint, or a corrupt checkpoint, is not resumed', async () => {
    await expect(
      storage.resumable.put({ key: 'k/big', body: breaksAfter(50_000), expectedBytes: body.length, partial: target }),
    ).rejects.toThrow();
    const dir = path.join(root, '.fetchbox-tmp', 'partial');
    const data = (await readdir(dir)).find((n) => !n.endsWith('.json'))!;
    await truncate(path.join(dir, data), 10);
    expect(await storage.resumable.find(id)).toBeUndefined();
    await writeFile(
      path.join(dir, `${id}.json`),
      JSON.stringify({ v: 1, id, file: '../../escape', offset: 5, total: 10, validator: 'x', url: 'u' }),
    );
    expect(await storage.resumable.find(id)).toBeUndefined();
  });

  it('the reserved area stays refused', async () => {
    await expect(storage.resumable.put({ key: 'x/.fetchbox/y', body: [body.subarray(0, 10)], partial: target })).rejects.toThrow(
      /reserved|fetchbox/i,
    );
  });
});
