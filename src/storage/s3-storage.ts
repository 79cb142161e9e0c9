import {
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  NotFound,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { BodyRejectedError, ObjectNotFoundError, StorageError } from './errors.js';
import { assertUserKey, assertValidKey, joinKey } from './keys.js';
import { MeasuringStream } from './measure.js';
import { copyInPlace, type CopyLimits } from './s3-copy.js';
import { S3Partials } from './s3-partials.js';
import type { ObjectInfo, PutObjectInput, ResumableWrites, Storage, StoredObject } from './storage.js';

/** How to reach an S3-compatible store; credentials come from the standard AWS chain unless given. */
export interface S3StorageOptions {
  bucket: string;
  prefix: string;
  endpoint?: string | undefined;
  region: string;
  forcePathStyle: boolean;
  /** Bodies up to this size go in one PutObject; larger ones in parts of this size. */
  partSizeBytes: number;
  /** Parts in flight per object; memory per upload is about partSizeBytes × (queueSize + 1). */
  queueSize: number;
  /** For tests: when an in-place metadata copy goes part by part (default: above S3's 5 GiB). */
  copyLimits?: CopyLimits;
  /** A named store's own key pair (`FETCHBOX_STORE_<NAME>_S3_ACCESS_KEY_ID`/`_SECRET_ACCESS_KEY`), or a test's; else the AWS default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** S3 user metadata must be ASCII; URLs and ids are percent-encoded where they are not. */
function toS3Metadata(metadata: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) {
    out[k.toLowerCase()] = /^[\x20-\x7e]*$/.test(v) ? v : encodeURIComponent(v);
  }
  return out;
}

function isNotFound(err: unknown): boolean {
  return err instanceof NoSuchKey || err instanceof NotFound || (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404);
}

/**
 * Stores objects in any S3-compatible store (AWS, MinIO, R2...). Bodies that fit one part go in a
 * single PutObject carrying their sha256 in metadata; larger ones stream as a multipart upload
 * (aborted on any failure, so no partial object or dangling parts remain), then get their sha256
 * recorded by an in-place metadata copy.
 */
export class S3Storage implements Storage {
  readonly url: string;
  readonly client: S3Client;
  /** Resumable writes: multipart uploads continued after an interruption (s3-partials.ts); user keys only. */
  readonly resumable: ResumableWrites;

  constructor(private readonly options: S3StorageOptions) {
    this.url = `s3://${options.bucket}/${options.prefix}`;
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      // Integrity is checked by FetchBox itself (size and sha256 while streaming).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const partials = new S3Partials({
      client: this.client,
      Bucket: options.bucket,
      objectKey: (key) => this.objectKey(key),
      partSizeBytes: options.partSizeBytes,
      queueSize: options.queueSize,
      toMetadata: toS3Metadata,
      copyLimits: options.copyLimits,
    });
    this.resumable = {
      find: (id) => partials.find(id),
      drop: (id) => partials.drop(id),
      sweep: async (options) => {
        try {
          return await partials.sweep(options);
        } catch (err) {
          throw this.wrap(err, undefined);
        }
      },
      put: async (input) => {
        assertUserKey(input.key);
        try {
          return await partials.put(input);
        } catch (err) {
          throw this.wrap(err, input.key);
        }
      },
    };
  }

  private objectKey(key: string): string {
    assertValidKey(key);
    return joinKey(this.options.prefix, key);
  }

  private wrap(err: unknown, key: string | undefined): unknown {
    if (err instanceof BodyRejectedError || err instanceof StorageError) return err;
    if (err instanceof S3ServiceException || (err instanceof Error && /ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket/i.test(err.message))) {
      return new StorageError(`s3 storage: ${(err as Error).name}: ${(err as Error).message}`, key, { cause: err });
    }
    return err;
  }

  /** Stores a user object; keys in FetchBox's reserved area (`.fetchbox*` segments) are refused. */
  async put(input: PutObjectInput): Promise<StoredObject> {
    assertUserKey(input.key);
    return this.write(input);
  }

  /** Writes any valid key, the reserved area included: FetchBox's own documents come this way. */
  private async write(input: PutObjectInput): Promise<StoredObject> {
    const Key = this.objectKey(input.key);
    const { bucket: Bucket, partSizeBytes } = this.options;
    const measure = new MeasuringStream(input.key, input);
    const source = input.body instanceof Readable ? input.body : Readable.from(input.body);
    source.on('error', (err) => measure.destroy(err));
    source.pipe(measure);
    const chunks = measure[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const metadata = toS3Metadata(input.metadata ?? {});
    const ContentType = input.contentType;
    try {
      // Read up to one part: a body that ends within it is stored with one request.
      const head: Buffer[] = [];
      let headBytes = 0;
      let ended = false;
      while (headBytes < partSizeBytes) {
        const next = await chunks.next();
        if (next.done) {
          ended = true;
          break;
        }
        head.push(next.value);
        headBytes += next.value.length;
      }
      if (ended) {
        const sha256 = measure.sha256();
        await this.client.send(
          new PutObjectCommand({
            Bucket,
            Key,
            Body: Buffer.concat(head, headBytes),
            ContentLength: headBytes,
            ContentType,
            Metadata: { ...metadata, sha256 },
          }),
        );
        return { key: input.key, bytes: measure.bytes, sha256 };
      }
      const rest = Readable.from(
        (async function* () {
          yield* head;
          head.length = 0;
          for (;;) {
            const next = await chunks.next();
            if (next.done) return;
            yield next.value;
          }
        })(),
      );
      // No metadata until the body is hashed: between the upload and the copy below the key holds
      // the new body with none of FetchBox's metadata (no sha256), which no reader takes as verified.
      const upload = new Upload({
        client: this.client,
        params: { Bucket, Key, Body: rest, ContentType },
        partSize: partSizeBytes,
        queueSize: this.options.queueSize,
        leavePartsOnError: false,
      });
      const { ETag } = await upload.done();
      if (!ETag) throw new StorageError(`s3 storage: the upload of ${Key} returned no ETag`, input.key);
      const sha256 = measure.sha256();
      // Conditioned on the ETag of the bytes just hashed (a writer that replaced them meanwhile
      // makes this a 412, a retryable storage error). Over 5 GiB a single CopyObject is refused:
      // s3-copy.ts copies part by part instead.
      await copyInPlace(
        this.client,
        { Bucket, Key, bytes: measure.bytes, ETag, ContentType, Metadata: { ...metadata, sha256 } },
        this.options.copyLimits,
      );
      return { key: input.key, bytes: measure.bytes, sha256 };
    } catch (err) {
      measure.destroy();
      source.destroy();
      throw this.wrap(err, input.key);
    }
  }

  /** FetchBox's own JSON documents (staged manifests and pages); may write the reserved area. */
  async putJson(key: string, value: unknown): Promise<StoredObject> {
    return this.write({ key, body: [Buffer.from(JSON.stringify(value))], contentType: 'application/json' });
  }

  async getJson<T>(key: string): Promise<T> {
    const body = await this.get(key);
    const parts: Buffer[] = [];
    for await (const chunk of body) parts.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(parts).toString('utf8')) as T;
  }

  async get(key: string): Promise<Readable> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(key) }));
      return res.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) throw new ObjectNotFoundError(key);
      throw this.wrap(err, key);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(key) }));
      return {
        key,
        bytes: res.ContentLength ?? 0,
        metadata: res.Metadata ?? {},
        ...(res.LastModified ? { lastModified: res.LastModified } : {}),
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw this.wrap(err, key);
    }
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.options.bucket }));
    } catch (err) {
      throw new StorageError(`s3 bucket ${this.options.bucket} is not reachable: ${(err as Error).name}`, undefined, {
        cause: err,
      });
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
