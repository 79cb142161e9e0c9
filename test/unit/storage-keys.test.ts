import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHandlerHarness } from '../../src/handlers/testing.js';
import { InvalidKeyError } from '../../src/storage/errors.js';
import { FileStorage, metadataPath } from '../../src/storage/file-storage.js';
import { isReservedSegment, jobIdProblem, jobKeyProblem, keyProblem, manifestDocumentKey, userKeyProblem } from '../../src/storage/keys.js';
import { S3Storage } from '../../src/storage/s3-storage.js';

const reserved = [
  'job/.fetchbox/0123456789abcdef/pages/000000.json',
  'job/.fetchbox/0123456789abcdef/manifest.json',
  '.fetchbox-meta/a.json',
  '.fetchbox-tmp/x',
  '.FETCHBOX-TMP/x',
  'a/.FetchBox',
  'a/.fetchboxanything/b',
  'a/．ｆｅｔｃｈｂｏｘ/b', // fullwidth: folds to ".fetchbox" under NFKC
];

describe('keys.ts: one rule for reserved keys', () => {
  it.each(reserved)('%j is a valid storage key but not a user key', (key) => {
    expect(keyProblem(key)).toBeUndefined();
    expect(userKeyProblem(key)).toMatch(/reserved for FetchBox/);
  });

  it.each(['a/fetchbox', 'a/x.fetchbox', 'fetchbox-meta/x', 'a/_fetchbox/b', 'job/manifest.json', 'a/.hidden'])(
    '%j is a user key',
    (key) => {
      expect(userKeyProblem(key)).toBeUndefined();
    },
  );

  it('storage-level problems come first', () => {
    expect(userKeyProblem('../.fetchbox-meta/x')).toBe('has a ".." segment');
    expect(userKeyProblem('a\\.fetchbox')).toMatch(/backslash/);
    expect(userKeyProblem('a'.repeat(1025))).toMatch(/1024/);
  });

  it('compares segments in any case', () => {
    expect(isReservedSegment('.FetchBox-Meta')).toBe(true);
    expect(isReservedSegment('.fetchbo')).toBe(false);
  });

  it.each([
    ['.', 'dots'],
    ['..', 'dots'],
    ['...', 'dots'],
    ['.fetchbox-meta', 'reserved'],
    ['a/b', '/'],
  ])('jobId %j is refused (%s)', (jobId, reason) => {
    expect(jobIdProblem(jobId)).toContain(reason);
  });

  it.each(['job-1', '.a', 'a.', 'a..b'])('jobId %j is accepted', (jobId) => {
    expect(jobIdProblem(jobId)).toBeUndefined();
  });
});

describe("jobKeyProblem: a job's keys", () => {
  it("refuses the job's own manifest document, and keeps userKeyProblem's rules", () => {
    expect(jobKeyProblem('j1', 'j1/manifest.json')).toMatch(/manifest document/);
    expect(jobKeyProblem('j1', 'j1/.fetchbox/x')).toBe(userKeyProblem('j1/.fetchbox/x'));
    expect(jobKeyProblem('j1', '../x')).toBe(keyProblem('../x'));
    for (const fine of ['j1/manifest.json.bak', 'j1/sub/manifest.json', 'j10/manifest.json', 'J1/manifest.json']) {
      expect(jobKeyProblem('j1', fine), fine).toBeUndefined();
    }
    expect(manifestDocumentKey('j1')).toBe('j1/manifest.json');
  });
});

describe('drivers refuse user objects in the reserved area', () => {
  const roots: string[] = [];
  afterAll(async () => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));

  it.each(reserved)('file driver: put(%j) throws InvalidKeyError and writes nothing', async (key) => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'fbx-keys-'));
    roots.push(root);
    const storage = new FileStorage(root);
    await expect(storage.put({ key, body: [Buffer.from('forged')] })).rejects.toBeInstanceOf(InvalidKeyError);
    expect(await storage.head(key)).toBeUndefined();
  });

  it('file driver: putJson (FetchBox staging) still writes the reserved area, and user objects are unaffected', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'fbx-keys-'));
    roots.push(root);
    const storage = new FileStorage(root);
    await storage.putJson('job/.fetchbox/0123456789abcdef/pages/000000.json', [{ id: '0', url: 'http://x.test/' }]);
    expect(await storage.getJson('job/.fetchbox/0123456789abcdef/pages/000000.json')).toEqual([{ id: '0', url: 'http://x.test/' }]);
    const stored = await storage.put({ key: 'job/0-a.jpg', body: [Buffer.from('ok')], metadata: { 'source-url': 'http://x.test/a.jpg' } });
    expect(stored.bytes).toBe(2);
    const { ino } = await stat(path.join(root, 'job/0-a.jpg'), { bigint: true });
    expect(JSON.parse(await readFile(metadataPath(root, 'job/0-a.jpg', ino), 'utf8'))).toMatchObject({
      'source-url': 'http://x.test/a.jpg',
    });
    expect(metadataPath(root, 'job/0-a.jpg', ino).startsWith(path.join(root, '.fetchbox-metadata') + path.sep)).toBe(true);
  });

  it.each(reserved)('S3 driver: put(%j) throws InvalidKeyError before any request', async (key) => {
    // Port 9 on loopback: any request would fail with a connection error, not InvalidKeyError.
    const storage = new S3Storage({
      bucket: 'b',
      prefix: 'p',
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      forcePathStyle: true,
      partSizeBytes: 5 << 20,
      queueSize: 1,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    await expect(storage.put({ key, body: [Buffer.from('forged')] })).rejects.toBeInstanceOf(InvalidKeyError);
    await storage.close();
  });
});

describe('handler-produced keys', () => {
  it.each(['.fetchbox-meta/victim.json', 'job/.FetchBox/0123456789abcdef/pages/000000.json', '.fetchbox-tmp/x'])(
    'a task keyed %j fails with a handler error before anything is fetched or stored',
    async (key) => {
      const harness = await createHandlerHarness({ name: 'rogue', storageKey: () => key });
      try {
        const { tasks } = await harness.expand([{ id: 'a', url: 'http://127.0.0.1:9/a' }]);
        expect(tasks[0]!.key).toBe(key);
        const err = (await harness.download(tasks[0]!).catch((e: unknown) => e)) as { type?: string; message?: string };
        expect(err.type).toBe('handler');
        expect(err.message).toMatch(/reserved for FetchBox/);
        expect(await harness.storage.head(key)).toBeUndefined();
      } finally {
        await harness.close();
      }
    },
  );

  it("a task keyed as its job's manifest document fails with a handler error and leaves the document alone", async () => {
    const harness = await createHandlerHarness(
      { name: 'rogue', storageKey: (_r, ctx) => `${ctx.jobId}/manifest.json` },
      { jobId: 'victim' },
    );
    try {
      await harness.storage.putJson('victim/manifest.json', { jobId: 'victim' });
      const { tasks } = await harness.expand([{ id: 'a', url: 'http://127.0.0.1:9/a' }]);
      const err = (await harness.download(tasks[0]!).catch((e: unknown) => e)) as { type?: string; message?: string };
      expect(err.type).toBe('handler');
      expect(err.message).toMatch(/manifest document/);
      expect(await harness.storage.getJson('victim/manifest.json')).toEqual({ jobId: 'victim' });
    } finally {
      await harness.close();
    }
  });
});
