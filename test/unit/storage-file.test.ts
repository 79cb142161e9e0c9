import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BodyRejectedError, InvalidKeyError } from '../../src/storage/errors.js';
import { FileStorage } from '../../src/storage/file-storage.js';

let root: string;
let storage: FileStorage;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-file-'));
  storage = new FileStorage(root);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Every file under the root except the driver's own bookkeeping folders. */
async function objects(): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
    .filter((p) => !p.startsWith('.fetchbox-'));
}

/** A body that yields `parts` and then fails, like a connection reset mid-body. */
function failingBody(parts: Buffer[]): Readable {
  return Readable.from(
    (async function* () {
      yield* parts;
      throw new Error('socket hang up');
    })(),
  );
}

describe('FileStorage', () => {
  it('stores a body with its size, sha256 and metadata', async () => {
    const body = Buffer.from('hello world');
    const stored = await storage.put({ key: 'j/a.txt', body: [body], metadata: { 'source-url': 'http://x/a' }, expectedBytes: 11 });
    expect(stored).toEqual({ key: 'j/a.txt', bytes: 11, sha256: createHash('sha256').update(body).digest('hex') });
    expect(await readFile(path.join(root, 'j/a.txt'), 'utf8')).toBe('hello world');
    expect((await storage.head('j/a.txt'))?.metadata).toMatchObject({ 'source-url': 'http://x/a', sha256: stored.sha256 });
  });

  it('leaves nothing behind when the body ends short of Content-Length', async () => {
    await expect(storage.put({ key: 'j/short', body: [Buffer.alloc(10)], expectedBytes: 20 })).rejects.toBeInstanceOf(BodyRejectedError);
    expect(await objects()).toEqual([]);
    expect(await readdir(path.join(root, '.fetchbox-tmp'))).toEqual([]);
  });

  it('stores again after its directories were removed behind its back (pruning)', async () => {
    await storage.put({ key: 'j/one', body: [Buffer.from('1')] });
    // An operator prunes the job's folder, its metadata and the temporary folder while the process runs.
    await Promise.all(['j', '.fetchbox-metadata', '.fetchbox-tmp'].map((d) => rm(path.join(root, d), { recursive: true, force: true })));
    const stored = await storage.put({ key: 'j/two', body: [Buffer.from('22')], metadata: { 'source-url': 'http://x/two' } });
    expect(stored.bytes).toBe(2);
    expect(await readFile(path.join(root, 'j/two'), 'utf8')).toBe('22');
    expect((await storage.head('j/two'))?.metadata).toMatchObject({ 'source-url': 'http://x/two' });
    expect(await objects()).toEqual(['j/two']);
  });

  it('leaves nothing behind when the body stream fails', async () => {
    await expect(storage.put({ key: 'j/reset', body: failingBody([Buffer.alloc(1000)]) })).rejects.toThrow(/socket hang up/);
    expect(await objects()).toEqual([]);
    expect(await readdir(path.join(root, '.fetchbox-tmp'))).toEqual([]);
  });

  it('refuses a body over maxBytes', async () => {
    const err = await storage.put({ key: 'j/big', body: [Buffer.alloc(100), Buffer.alloc(100)], maxBytes: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BodyRejectedError);
    expect((err as BodyRejectedError).reason).toBe('too_large');
    expect(await objects()).toEqual([]);
  });

  it('keeps the old object whole when a re-download fails, and replaces it when one succeeds', async () => {
    await storage.put({ key: 'j/x', body: [Buffer.from('first')] });
    await expect(storage.put({ key: 'j/x', body: failingBody([Buffer.from('sec')]) })).rejects.toThrow();
    expect(await readFile(path.join(root, 'j/x'), 'utf8')).toBe('first');
    await storage.put({ key: 'j/x', body: [Buffer.from('second')] });
    expect(await readFile(path.join(root, 'j/x'), 'utf8')).toBe('second');
    expect(await objects()).toEqual(['j/x']);
  });

  it('refuses keys that would leave the root', async () => {
    await expect(storage.put({ key: '../escape', body: [Buffer.from('x')] })).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(storage.get('/etc/passwd')).rejects.toBeInstanceOf(InvalidKeyError);
  });
});
