import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { BodyRejectedError, StorageError } from './errors.js';
import { MeasuringStream } from './measure.js';
import type { PartialCheckpoint, PartialSweep, PartialSweepOptions, PartialTarget, ResumablePut, ResumableWrites } from './storage.js';
import { copyInPlace, type CopyLimits } from './s3-copy.js';
import type { StoredObject } from './storage.js';
import { sameTarget } from './partials.js';

/** What S3Partials needs of its driver. */
export interface S3PartialsOptions {
  client: S3Client;
  Bucket: string;
  /** The bucket key of a storage key (prefix joined, validated). */
  objectKey: (key: string) => string;
  partSizeBytes: number;
  queueSize: number;
  /** S3 user metadata from object metadata (ASCII-safe). */
  toMetadata: (metadata: Record<string, string>) => Record<string, string>;
  copyLimits?: CopyLimits | undefined;
}

/** A checkpoint as stored in the reserved area: the multipart upload that holds the prefix. */
interface S3Checkpoint extends PartialTarget {
  v: 1;
  key: string;
  uploadId: string;
  partSize: number;
}

const ID = /^[0-9a-f]{64}$/;

/**
 * The S3 driver's resumable writes: a resumable body is a multipart upload the driver drives itself,
 * whose UploadId is recorded once in `.fetchbox-partial/<id>.json` (reserved area, beside the
 * objects). The completed parts are S3's own record (ListParts), so nothing is rewritten per part:
 * a resumed attempt lists them, continues after the contiguous prefix of whole parts, and completes
 * the upload only when the whole body is in (size checked). A fresh body's sha256 is measured while
 * it streams; a resumed one's is computed by reading the completed object back from S3 (the parts of
 * an incomplete upload cannot be read, and per-part digests do not make the object's sha256) before
 * the `sha256` metadata is written. A refused body aborts the upload; a broken one keeps it.
 */
export class S3Partials implements ResumableWrites {
  constructor(private readonly o: S3PartialsOptions) {}

  private checkpointKey(id: string): string {
    return this.o.objectKey(`.fetchbox-partial/${id}.json`);
  }

  private async read(id: string): Promise<S3Checkpoint | undefined> {
    if (!ID.test(id)) return undefined;
    try {
      const res = await this.o.client.send(new GetObjectCommand({ Bucket: this.o.Bucket, Key: this.checkpointKey(id) }));
      const c = JSON.parse(await res.Body!.transformToString()) as S3Checkpoint;
      const ok =
        c.v === 1 &&
        c.id === id &&
        typeof c.uploadId === 'string' &&
        typeof c.key === 'string' &&
        Number.isSafeInteger(c.total) &&
        Number.isSafeInteger(c.partSize) &&
        c.partSize > 0;
      return ok ? c : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Removes partials untouched for `maxAgeMs` (neither the checkpoint, written when the upload
   * started, nor any part uploaded since: a long download that still sends parts is kept) and adds
   * up the completed parts of the rest. One ListObjectsV2 page of at most `maxEntries` checkpoints
   * after `cursor`, and one ListParts per checkpoint.
   */
  async sweep({ maxAgeMs, maxEntries, cursor, now = Date.now() }: PartialSweepOptions): Promise<PartialSweep> {
    const { client, Bucket } = this.o;
    const prefix = this.checkpointKey('x').slice(0, -'x.json'.length);
    const page = await client.send(
      new ListObjectsV2Command({ Bucket, Prefix: prefix, MaxKeys: maxEntries, ...(cursor !== undefined ? { StartAfter: cursor } : {}) }),
    );
    let removed = 0;
    let bytes = 0;
    let last: string | undefined;
    for (const object of page.Contents ?? []) {
      if (!object.Key) continue;
      last = object.Key;
      const id = /([0-9a-f]{64})\.json$/.exec(object.Key)?.[1];
      const c = id !== undefined ? await this.read(id) : undefined;
      const parts = c ? await this.listParts(c) : undefined;
      const touched = Math.max(object.LastModified?.getTime() ?? 0, ...(parts ?? []).map((p) => p.LastModified?.getTime() ?? 0));
      if (now - touched > maxAgeMs) {
        if (id !== undefined) await this.drop(id);
        else await client.send(new DeleteObjectCommand({ Bucket, Key: object.Key })).catch(() => undefined);
        removed++;
      } else {
        bytes += (parts ?? []).reduce((sum, p) => sum + (p.Size ?? 0), 0);
      }
    }
    return { removed, bytes, ...(page.IsTruncated && last !== undefined ? { next: last } : {}) };
  }

  /** Every part of a checkpoint's upload (paged through); undefined when the upload is gone. */
  private async listParts(
    c: S3Checkpoint,
  ): Promise<{ PartNumber?: number; ETag?: string; Size?: number; LastModified?: Date }[] | undefined> {
    const parts: { PartNumber?: number; ETag?: string; Size?: number; LastModified?: Date }[] = [];
    let marker: string | undefined;
    try {
      do {
        const res = await this.o.client.send(
          new ListPartsCommand({
            Bucket: this.o.Bucket,
            Key: c.key,
            UploadId: c.uploadId,
            ...(marker ? { PartNumberMarker: marker } : {}),
          }),
        );
        parts.push(...(res.Parts ?? []));
        marker = res.IsTruncated ? res.NextPartNumberMarker : undefined;
      } while (marker);
    } catch {
      return undefined;
    }
    return parts;
  }

  /** Whole parts 1..n in a row (their ETags), and the offset they cover; undefined when the upload is gone. */
  private async completedPrefix(c: S3Checkpoint): Promise<{ parts: { PartNumber: number; ETag: string }[]; offset: number } | undefined> {
    const listed = await this.listParts(c);
    if (!listed) return undefined;
    const parts: { PartNumber: number; ETag: string; Size: number }[] = [];
    for (const p of listed)
      if (p.PartNumber && p.ETag && p.Size !== undefined) parts.push({ PartNumber: p.PartNumber, ETag: p.ETag, Size: p.Size });
    parts.sort((a, b) => a.PartNumber - b.PartNumber);
    const prefix: { PartNumber: number; ETag: string }[] = [];
    for (const p of parts) {
      if (p.PartNumber !== prefix.length + 1 || p.Size !== c.partSize) break;
      prefix.push({ PartNumber: p.PartNumber, ETag: p.ETag });
    }
    return { parts: prefix, offset: Math.min(prefix.length * c.partSize, c.total) };
  }

  async find(id: string): Promise<PartialCheckpoint | undefined> {
    const c = await this.read(id);
    if (!c) return undefined;
    const done = await this.completedPrefix(c);
    if (!done || done.offset === 0 || done.offset >= c.total) {
      if (!done) await this.drop(id);
      return undefined;
    }
    return { id, total: c.total, validator: c.validator, url: c.url, offset: done.offset };
  }

  async drop(id: string): Promise<void> {
    const c = await this.read(id);
    const { client, Bucket } = this.o;
    if (c) await client.send(new AbortMultipartUploadCommand({ Bucket, Key: c.key, UploadId: c.uploadId })).catch(() => undefined);
    await client.send(new DeleteObjectCommand({ Bucket, Key: this.checkpointKey(id) })).catch(() => undefined);
  }

  async put(input: ResumablePut): Promise<StoredObject> {
    const { client, Bucket } = this.o;
    const { partial } = input;
    const Key = this.o.objectKey(input.key);
    const Metadata = this.o.toMetadata(input.metadata ?? {});
    let checkpoint: S3Checkpoint;
    let parts: { PartNumber: number; ETag: string }[] = [];
    let start = 0;
    if (partial.from !== undefined) {
      const c = await this.read(partial.id);
      const done = c && c.key === Key ? await this.completedPrefix(c) : undefined;
      // The checkpoint must be the one the continuation was validated against (resumable-download.ts).
      if (!c || !sameTarget(c, partial) || !done || done.offset !== partial.from)
        throw new StorageError(`the partial upload of ${input.key} changed; starting over`, input.key);
      checkpoint = c;
      parts = done.parts;
      start = done.offset;
    } else {
      await this.drop(partial.id);
      // No metadata until the body is hashed (see S3Storage.write): the copy below sets all of it.
      const created = await client.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: input.contentType }));
      if (!created.UploadId) throw new StorageError(`s3 storage: CreateMultipartUpload for ${Key} returned no UploadId`, input.key);
      checkpoint = {
        v: 1,
        id: partial.id,
        total: partial.total,
        validator: partial.validator,
        url: partial.url,
        key: Key,
        uploadId: created.UploadId,
        partSize: this.o.partSizeBytes,
      };
      await client.send(
        new PutObjectCommand({
          Bucket,
          Key: this.checkpointKey(partial.id),
          Body: JSON.stringify(checkpoint),
          ContentType: 'application/json',
        }),
      );
    }
    const { uploadId: UploadId, partSize } = checkpoint;
    // A resumed body's running hash covers only its tail: the object's sha256 is read back below.
    const measure = new MeasuringStream(input.key, { ...input, resumeFrom: { bytes: start, hash: createHash('sha256') } });
    const source = input.body instanceof Readable ? input.body : Readable.from(input.body);
    source.on('error', (err) => measure.destroy(err));
    source.pipe(measure);
    const inFlight = new Set<Promise<void>>();
    try {
      const send = (PartNumber: number, Body: Buffer) => {
        const p = client
          .send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body, ContentLength: Body.length }))
          .then((res) => {
            if (!res.ETag) throw new StorageError(`s3 storage: UploadPart ${PartNumber} of ${Key} returned no ETag`, input.key);
            parts.push({ PartNumber, ETag: res.ETag });
          });
        const tracked = p.finally(() => inFlight.delete(tracked));
        tracked.catch(() => undefined); // awaited below; never an unhandled rejection
        inFlight.add(tracked);
      };
      let next = parts.length + 1;
      let buffered: Buffer[] = [];
      let size = 0;
      for await (const chunk of measure as AsyncIterable<Buffer>) {
        buffered.push(chunk);
        size += chunk.length;
        while (size >= partSize) {
          const all = Buffer.concat(buffered, size);
          send(next++, all.subarray(0, partSize));
          buffered = size > partSize ? [all.subarray(partSize)] : [];
          size -= partSize;
          while (inFlight.size >= this.o.queueSize) await Promise.race(inFlight);
        }
      }
      if (size > 0) send(next++, Buffer.concat(buffered, size));
      await Promise.all(inFlight);
      parts.sort((a, b) => a.PartNumber - b.PartNumber);
      const { ETag } = await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
      if (!ETag) throw new StorageError(`s3 storage: CompleteMultipartUpload of ${Key} returned no ETag`, input.key);
      // The read-back and the metadata copy both name the ETag of the completed upload: the sha256
      // is of exactly those bytes, and is recorded only on them (412 if another writer replaced them).
      const sha256 = start === 0 ? measure.sha256() : await this.readBackSha256(Key, ETag, partial.total, input);
      await copyInPlace(
        client,
        { Bucket, Key, bytes: partial.total, ETag, ContentType: input.contentType, Metadata: { ...Metadata, sha256 } },
        this.o.copyLimits,
      );
      await client.send(new DeleteObjectCommand({ Bucket, Key: this.checkpointKey(partial.id) })).catch(() => undefined);
      return { key: input.key, bytes: partial.total, sha256 };
    } catch (err) {
      measure.destroy();
      source.destroy();
      await Promise.allSettled([...inFlight]);
      // Refused bodies are never resumed: the upload is aborted, nothing remains.
      if (err instanceof BodyRejectedError) await this.drop(partial.id);
      throw err;
    }
  }

  /**
   * sha256 of a completed object, read back (progress reported, so the activity keeps
   * heartbeating). An object of the wrong size is deleted: it never stays without its digest.
   */
  private async readBackSha256(Key: string, ETag: string, total: number, input: ResumablePut): Promise<string> {
    const res = await this.o.client.send(new GetObjectCommand({ Bucket: this.o.Bucket, Key, IfMatch: ETag }));
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of res.Body as Readable) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      input.onProgress?.(total);
    }
    if (bytes !== total) {
      await this.o.client.send(new DeleteObjectCommand({ Bucket: this.o.Bucket, Key })).catch(() => undefined);
      throw new StorageError(`s3 storage: ${Key} read back ${bytes} of ${total} bytes`, input.key);
    }
    return hash.digest('hex');
  }
}
