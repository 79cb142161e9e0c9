import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultHandler } from '../../src/handlers/registry.js';
import { createHandlerHarness } from '../../src/handlers/testing.js';
import { BodyRejectedError } from '../../src/storage/errors.js';
import { FileStorage } from '../../src/storage/file-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { contentSha256, startOrigin, type Origin } from '../support/origin.js';
import { readBack } from '../support/objects.js';
import { minioStorage } from '../support/stack.js';

const GIB = 1024 * 1024 * 1024;

const s3Storage = (prefix: string) => minioStorage(prefix, { partSizeBytes: 8 * 1024 * 1024, queueSize: 2 });

/** Samples this process's RSS while `fn` runs; returns its growth over the starting value. */
async function rssGrowth<T>(fn: () => Promise<T>): Promise<{ result: T; growthMiB: number }> {
  global.gc?.();
  const start = process.memoryUsage.rss();
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, growthMiB: (peak - start) / (1024 * 1024) };
  } finally {
    clearInterval(timer);
  }
}

let origin: Origin;
let dir: string;
beforeAll(async () => {
  origin = await startOrigin();
  dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-stream-'));
});
afterAll(async () => {
  await origin?.close();
  await rm(dir, { recursive: true, force: true });
});

describe.each([
  ['file', () => new FileStorage(dir) as Storage],
  ['s3', () => s3Storage(`stream-${Date.now()}`) as Storage],
])('streaming 1 GiB into %s storage', (kind, make) => {
  // 160 MiB: runs measured 41-89 MiB (the origin streams from this process too, and Node frees
  // buffers late); a body held whole would add 1,024 MiB.
  it('stores it byte-exact while RSS grows by less than 160 MiB', async () => {
    const storage = make();
    const harness = await createHandlerHarness(defaultHandler, { storage, allowCidrs: ['127.0.0.1/32'], jobId: `big-${kind}` });
    try {
      const { result, growthMiB } = await rssGrowth(() =>
        harness.download({ id: 'big', url: `${origin.url}/bytes/${GIB}/gib`, key: `big-${kind}/gib.bin` }),
      );
      const expected = contentSha256('gib', GIB);
      expect(result).toMatchObject({ bytes: GIB, sha256: expected });
      expect(growthMiB).toBeLessThan(160);
      expect(await readBack(storage, `big-${kind}/gib.bin`)).toEqual({ sha256: expected, bytes: GIB });
      expect((await storage.head(`big-${kind}/gib.bin`))?.metadata).toMatchObject({ sha256: expected });
      process.stderr.write(`[stream] ${kind}: 1 GiB stored, RSS grew ${growthMiB.toFixed(1)} MiB\n`);
    } finally {
      await harness.close();
      await storage.close();
    }
  }, 300_000);
});

describe('an aborted transfer into S3', () => {
  it('leaves no object and no incomplete multipart upload', async () => {
    const prefix = `abort-${Date.now()}`;
    const storage = s3Storage(prefix);
    try {
      const part = Buffer.alloc(4 * 1024 * 1024, 7);
      const body = Readable.from(
        (async function* () {
          for (let i = 0; i < 5; i++) yield part; // 20 MiB: past the first part, so multipart began
          throw new Error('connection reset by peer');
        })(),
      );
      await expect(storage.put({ key: 'aborted.bin', body })).rejects.toThrow(/connection reset/);
      expect(await storage.head('aborted.bin')).toBeUndefined();
      const uploads = await storage.client.send(new ListMultipartUploadsCommand({ Bucket: inject('minio').bucket, Prefix: prefix }));
      expect(uploads.Uploads ?? []).toEqual([]);

      // Short of the announced length: refused before completion, nothing left either.
      const short = Readable.from([part, part, part]);
      await expect(storage.put({ key: 'short.bin', body: short, expectedBytes: 4 * part.length })).rejects.toBeInstanceOf(
        BodyRejectedError,
      );
      expect(await storage.head('short.bin')).toBeUndefined();
      const after = await storage.client.send(new ListMultipartUploadsCommand({ Bucket: inject('minio').bucket, Prefix: prefix }));
      expect(after.Uploads ?? []).toEqual([]);
    } finally {
      await storage.close();
    }
  });
});
