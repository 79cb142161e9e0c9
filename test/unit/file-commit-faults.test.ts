import { createHash } from 'node:crypto';
import type * as fsPromises from 'node:fs/promises';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidKeyError } from '../../src/storage/errors.js';
import { FileStorage } from '../../src/storage/file-storage.js';

/**
 * Fault injection for the file driver's commit: every call into node:fs/promises made by the
 * driver is counted, and call N either fails once (`fail`: the driver's own cleanup still runs) or
 * starts a crash (`crash`: it and every later call fail, as if the process died there). A fresh
 * driver then reads the key: it must hold the old pair or the new pair, never a mix.
 */
const faults = vi.hoisted(() => ({ armed: false, calls: 0, at: 0, mode: 'fail' as 'fail' | 'crash', names: [] as string[] }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<Record<string, unknown>>();
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(real)) {
    wrapped[name] =
      typeof value === 'function' && name !== 'constants'
        ? (...args: unknown[]) => {
            if (faults.armed) {
              faults.calls++;
              faults.names.push(name);
              const dead = faults.mode === 'crash' ? faults.calls >= faults.at : faults.calls === faults.at;
              if (dead) return Promise.reject(Object.assign(new Error(`injected fault in ${name}`), { code: 'EIO' }));
            }
            return (value as (...a: unknown[]) => unknown)(...args);
          }
        : value;
  }
  return { ...wrapped, default: wrapped };
});

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-commit-'));
});
afterEach(async () => {
  faults.armed = false;
  await rm(root, { recursive: true, force: true });
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** What a fresh process reads at `key`: the body's digest and the digest its metadata records. */
async function observe(key: string): Promise<{ body?: string; recorded?: string; bytes?: number; source?: string }> {
  const reader = new FileStorage(root);
  const info = await reader.head(key);
  const body = await readFile(path.join(root, key)).catch(() => undefined);
  return {
    ...(body ? { body: sha(body) } : {}),
    ...(info ? { recorded: info.metadata.sha256, bytes: info.bytes, source: info.metadata['source-url'] } : {}),
  };
}

const OLD = Buffer.from('old body, version one');
const NEW = Buffer.from('the new body, version two, longer');

describe.each(['fail', 'crash'] as const)('file commit with a fault at every fs call (%s)', (mode) => {
  it.each([
    ['a short key', 'job/a.bin'],
    ['a final segment of 255 bytes', `job/${'s'.repeat(255)}`],
  ])('%s: the key holds the old pair or the new pair after a fault at each step', async (_, key) => {
    // How many fs calls one put makes, fault-free.
    await new FileStorage(root).put({ key, body: [OLD], metadata: { 'source-url': 'http://o/1' } });
    faults.armed = true;
    faults.calls = 0;
    faults.at = Number.POSITIVE_INFINITY;
    faults.names = [];
    await new FileStorage(root).put({ key, body: [NEW], metadata: { 'source-url': 'http://o/2' } });
    faults.armed = false;
    const steps = faults.calls;
    expect(steps).toBeGreaterThanOrEqual(5);
    const seen = new Set<string>();
    for (let at = 1; at <= steps; at++) {
      await rm(root, { recursive: true, force: true });
      await new FileStorage(root).put({ key, body: [OLD], metadata: { 'source-url': 'http://o/1' } });
      Object.assign(faults, { armed: true, calls: 0, at, mode, names: [] });
      const result = await new FileStorage(root).put({ key, body: [NEW], metadata: { 'source-url': 'http://o/2' } }).then(
        () => 'ok',
        () => 'failed',
      );
      faults.armed = false;
      const state = await observe(key);
      const pair =
        state.body === sha(OLD) && state.recorded === sha(OLD) && state.bytes === OLD.length && state.source === 'http://o/1'
          ? 'old'
          : state.body === sha(NEW) && state.recorded === sha(NEW) && state.bytes === NEW.length && state.source === 'http://o/2'
            ? 'new'
            : `mix ${JSON.stringify(state)}`;
      expect(pair, `fault (${mode}) at call ${at} (${faults.names[at - 1]}), put ${result}`).toMatch(/^(old|new)$/);
      // A put that reported success committed the new pair.
      if (result === 'ok') expect(pair).toBe('new');
      seen.add(pair);
    }
    expect(seen).toContain('old');
  });
});

describe('keys the file driver cannot commit', () => {
  it('stores a final segment of 251-255 bytes with its metadata (its old sidecar name <key>.json was too long)', async () => {
    const storage = new FileStorage(root);
    for (const length of [251, 255]) {
      const key = `job/${'x'.repeat(length)}`;
      const stored = await storage.put({ key, body: [NEW], metadata: { 'source-url': 'http://o/long' } });
      expect((await storage.head(key))?.metadata).toMatchObject({ sha256: stored.sha256, 'source-url': 'http://o/long' });
    }
  });

  it('stores X beside X.json/... with each its own metadata', async () => {
    const storage = new FileStorage(root);
    const a = await storage.put({ key: 'job/X', body: [OLD] });
    const b = await storage.put({ key: 'job/X.json/y', body: [NEW] });
    expect((await storage.head('job/X'))?.metadata.sha256).toBe(a.sha256);
    expect((await storage.head('job/X.json/y'))?.metadata.sha256).toBe(b.sha256);
  });

  it('refuses a segment over 255 bytes, and a key whose folder is another object, with InvalidKeyError; the old pair stays', async () => {
    const storage = new FileStorage(root);
    await expect(storage.put({ key: `job/${'x'.repeat(256)}`, body: [NEW] })).rejects.toBeInstanceOf(InvalidKeyError);
    const a = await storage.put({ key: 'job/a', body: [OLD] });
    await expect(storage.put({ key: 'job/a/b', body: [NEW] })).rejects.toBeInstanceOf(InvalidKeyError);
    await storage.put({ key: 'job/d/e', body: [NEW] });
    await expect(storage.put({ key: 'job/d', body: [OLD] })).rejects.toBeInstanceOf(InvalidKeyError);
    expect((await storage.head('job/a'))?.metadata.sha256).toBe(a.sha256);
    expect(await readdir(path.join(root, '.fetchbox-tmp'))).toEqual([]);
  });

  it('reads an object written by the old layout (<root>/.fetchbox-meta/<key>.json) and replaces it on the next write', async () => {
    const storage = new FileStorage(root);
    await storage.put({ key: 'job/legacy', body: [OLD] });
    // Move the metadata where versions before the one-rename commit kept it.
    const { rename, mkdir } = await vi.importActual<typeof fsPromises>('node:fs/promises');
    const metaDir = path.join(root, '.fetchbox-metadata');
    const [sub] = await readdir(metaDir);
    const [file] = await readdir(path.join(metaDir, sub!));
    await mkdir(path.join(root, '.fetchbox-meta', 'job'), { recursive: true });
    await rename(path.join(metaDir, sub!, file!), path.join(root, '.fetchbox-meta', 'job', 'legacy.json'));
    expect((await storage.head('job/legacy'))?.metadata.sha256).toBe(sha(OLD));
    await storage.put({ key: 'job/legacy', body: [NEW] });
    expect((await storage.head('job/legacy'))?.metadata.sha256).toBe(sha(NEW));
    expect(await readdir(path.join(root, '.fetchbox-meta', 'job'))).toEqual([]);
  });
});

describe('concurrent writers and readers of one key', () => {
  it('a reader never sees one body with the metadata of another while writers replace it', async () => {
    const storage = new FileStorage(root);
    const bodies = Array.from({ length: 8 }, (_, i) => Buffer.from(`body ${i} `.repeat(i + 1)));
    await storage.put({ key: 'job/hot', body: [bodies[0]!] });
    let writing = true;
    const writers = Promise.all(
      bodies.map(async (body, i) => {
        for (let round = 0; round < 15; round++)
          await new FileStorage(root).put({ key: 'job/hot', body: [body], metadata: { n: String(i) } });
      }),
    ).finally(() => {
      writing = false;
    });
    let reads = 0;
    while (writing) {
      const info = await storage.head('job/hot');
      if (info?.metadata.sha256 !== undefined) {
        const n = Number(info.metadata.n ?? 0);
        expect(info.metadata.sha256).toBe(sha(bodies[n]!));
        expect(info.bytes).toBe(bodies[n]!.length);
        reads++;
      }
    }
    await writers;
    const final = await storage.head('job/hot');
    expect(final?.metadata.sha256).toBe(sha(await readFile(path.join(root, 'job/hot'))));
    expect(reads).toBeGreaterThan(0);
  });
});
