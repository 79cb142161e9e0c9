import { createHash, randomBytes } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { StorageError } from '../../src/storage/errors.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import type { ResumablePut, StoredObject } from '../../src/storage/storage.js';

/**
 * Fault injection for the S3 driver's commit, against the run's MinIO: an S3 client middleware
 * counts every request a put sends, and request N either fails (`fail`: the driver's own cleanup
 * still runs) or starts a crash (`crash`: it and every later request fail, as if the process died
 * there). A fresh client then reads the key: the old pair, the new pair, or (S3's interim state
 * after a multipart upload, before the metadata copy) the new body with no sha256 recorded, which
 * no reader takes as verified; never one body with the other's sha256.
 */
const minio = inject('minio');
const PART = 5 * 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Faults {
  armed: boolean;
  calls: number;
  at: number;
  mode: 'fail' | 'crash';
  names: string[];
  /** Runs before the request named here is sent (once), e.g. another writer replacing the object. */
  before?: { command: string; run: () => Promise<void> };
}

function storageWithFaults(prefix: string): { storage: S3Storage; faults: Faults } {
  const storage = new S3Storage({
    bucket: minio.bucket,
    prefix,
    endpoint: minio.endpoint,
    region: minio.region,
    forcePathStyle: true,
    partSizeBytes: PART,
    queueSize: 1,
    credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
  });
  const faults: Faults = { armed: false, calls: 0, at: 0, mode: 'fail', names: [] };
  storage.client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName).replace(/Command$/, '');
      if (faults.before?.command === name) {
        const { run } = faults.before;
        delete faults.before;
        await run();
      }
      if (faults.armed) {
        faults.calls++;
        faults.names.push(name);
        const dead = faults.mode === 'crash' ? faults.calls >= faults.at : faults.calls === faults.at;
        if (dead) throw new Error(`injected fault in ${name}`);
      }
      return next(args);
    },
    { step: 'initialize', name: 'faultInjection' },
  );
  return { storage, faults };
}

const reader = new S3Client({
  endpoint: minio.endpoint,
  region: minio.region,
  forcePathStyle: true,
  credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
});
afterAll(() => reader.destroy());

/** What a fresh client reads at `Key`: the body's digest and the sha256 its metadata records. */
async function observe(Key: string): Promise<{ body?: string; recorded?: string; source?: string }> {
  try {
    const head = await reader.send(new HeadObjectCommand({ Bucket: minio.bucket, Key }));
    const res = await reader.send(new GetObjectCommand({ Bucket: minio.bucket, Key, IfMatch: head.ETag }));
    const body = Buffer.from(await res.Body!.transformToByteArray());
    return {
      body: sha(body),
      ...(head.Metadata?.sha256 ? { recorded: head.Metadata.sha256 } : {}),
      ...(head.Metadata?.['source-url'] ? { source: head.Metadata['source-url'] } : {}),
    };
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return {};
    throw err;
  }
}

const OLD = randomBytes(PART + 1024 * 1024);
const NEW = randomBytes(PART + 1024 * 1024);

type Put = (storage: S3Storage, key: string, body: Buffer, source: string) => Promise<StoredObject>;
const plainPut: Put = (storage, key, body, source) => storage.put({ key, body: [body], metadata: { 'source-url': source } });
const resumablePut: Put = (storage, key, body, source) => {
  const input: ResumablePut = {
    key,
    body: [body],
    expectedBytes: body.length,
    metadata: { 'source-url': source },
    partial: { id: sha(Buffer.from(key + source)), total: body.length, validator: `"${sha(body)}"`, url: source },
  };
  return storage.resumable.put(input);
};

describe.each([
  ['put (multipart upload, then the metadata copy)', plainPut],
  ['resumable put (its own multipart upload)', resumablePut],
] as const)('S3 commit with a fault at every request: %s', (_, put) => {
  it.each(['fail', 'crash'] as const)('%s: the key holds the old pair or the new pair (or the new body unverified)', async (mode) => {
    const prefix = `commit-faults-${mode}-${put === plainPut ? 'plain' : 'resumable'}`;
    const { storage, faults } = storageWithFaults(prefix);
    const key = 'job/obj.bin';
    const Key = `${prefix}/${key}`;
    try {
      await put(storage, key, OLD, 'http://o/1');
      Object.assign(faults, { armed: true, calls: 0, at: Number.POSITIVE_INFINITY, mode, names: [] });
      await put(storage, key, NEW, 'http://o/2');
      faults.armed = false;
      const steps = faults.calls;
      expect(faults.names).toContain('CopyObject');
      const seen = new Set<string>();
      for (let at = 1; at <= steps; at++) {
        await put(storage, key, OLD, 'http://o/1');
        Object.assign(faults, { armed: true, calls: 0, at, mode, names: [] });
        const result = await put(storage, key, NEW, 'http://o/2').then(
          () => 'ok',
          () => 'failed',
        );
        faults.armed = false;
        const state = await observe(Key);
        const pair =
          state.body === sha(OLD) && state.recorded === sha(OLD) && state.source === 'http://o/1'
            ? 'old'
            : state.body === sha(NEW) && state.recorded === sha(NEW) && state.source === 'http://o/2'
              ? 'new'
              : state.body === sha(NEW) && state.recorded === undefined && state.source === undefined
                ? 'new body, unverified'
                : `mix ${JSON.stringify(state)}`;
        expect(pair, `fault (${mode}) at request ${at} (${faults.names[at - 1]}), put ${result}`).toMatch(
          /^(old|new|new body, unverified)$/,
        );
        if (result === 'ok') expect(pair).toBe('new');
        seen.add(pair);
      }
      expect(seen).toContain('old');
    } finally {
      await storage.close();
    }
  });
});

describe('S3 metadata copy conditioned on the hashed object', () => {
  let other: S3Client;
  beforeAll(() => {
    other = new S3Client({
      endpoint: minio.endpoint,
      region: minio.region,
      forcePathStyle: true,
      credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
    });
  });
  afterAll(() => other.destroy());

  it.each([
    ['put', plainPut],
    ['resumable put', resumablePut],
  ] as const)(
    '%s: another writer replacing the object before the copy makes the commit fail (retryable), never its sha256 on their bytes',
    async (name, put) => {
      const prefix = `commit-condition-${name.replace(' ', '-')}`;
      const { storage, faults } = storageWithFaults(prefix);
      const key = 'job/raced.bin';
      const Key = `${prefix}/${key}`;
      const theirs = randomBytes(1024);
      try {
        faults.before = {
          command: 'CopyObject',
          run: async () => {
            await other.send(
              new PutObjectCommand({
                Bucket: minio.bucket,
                Key,
                Body: theirs,
                Metadata: { sha256: sha(theirs), 'source-url': 'http://other/' },
              }),
            );
          },
        };
        const err = await put(storage, key, NEW, 'http://o/2').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StorageError);
        expect(await observe(Key)).toEqual({ body: sha(theirs), recorded: sha(theirs), source: 'http://other/' });
        const uploads = await reader.send(new ListMultipartUploadsCommand({ Bucket: minio.bucket, Prefix: Key }));
        expect(uploads.Uploads ?? []).toEqual([]);
      } finally {
        await storage.close();
      }
    },
  );
});
