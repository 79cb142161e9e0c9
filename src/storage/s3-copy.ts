import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

/** The largest object a single CopyObject request may copy (S3's limit: 5 GiB). */
export const MAX_SINGLE_COPY_BYTES = 5 * 1024 * 1024 * 1024;

/** Part size of a multipart copy: 512 MiB keeps a 5 TiB object (S3's maximum) under 10,000 parts. */
export const COPY_PART_BYTES = 512 * 1024 * 1024;

/** What to copy onto itself with new metadata. */
export interface InPlaceCopy {
  Bucket: string;
  Key: string;
  /** The object's size in bytes: above `maxSingleCopyBytes` the copy goes part by part. */
  bytes: number;
  /**
   * The ETag of the object whose bytes were hashed (CompleteMultipartUpload's answer): every copy
   * request carries it as `CopySourceIfMatch`, so metadata is never written onto other bytes (a
   * second writer's object that replaced it meanwhile); S3 then answers 412 and the copy fails.
   */
  ETag: string;
  ContentType?: string | undefined;
  Metadata: Record<string, string>;
}

/** Limits of the copy; injectable so tests can exercise the multipart path with small objects. */
export interface CopyLimits {
  maxSingleCopyBytes: number;
  partBytes: number;
}

/**
 * Rewrites an object's metadata by copying it onto itself (how S3 sets metadata after a
 * multipart upload). Up to `maxSingleCopyBytes` (5 GiB) one CopyObject does it; S3 refuses a
 * larger single copy, so a bigger object is copied as a multipart upload of UploadPartCopy ranges
 * (aborted on any failure, so no dangling parts remain). Every request is conditioned on the
 * object's ETag (`copy.ETag`). Returns which path it took.
 */
export async function copyInPlace(
  client: Pick<S3Client, 'send'>,
  copy: InPlaceCopy,
  limits: CopyLimits = { maxSingleCopyBytes: MAX_SINGLE_COPY_BYTES, partBytes: COPY_PART_BYTES },
): Promise<'single' | 'multipart'> {
  const { Bucket, Key, ContentType, Metadata, ETag: CopySourceIfMatch } = copy;
  const CopySource = `${Bucket}/${encodeURIComponent(Key).replace(/%2F/g, '/')}`;
  if (copy.bytes <= limits.maxSingleCopyBytes) {
    await client.send(
      new CopyObjectCommand({ Bucket, Key, CopySource, CopySourceIfMatch, MetadataDirective: 'REPLACE', ContentType, Metadata }),
    );
    return 'single';
  }
  const created = await client.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType, Metadata }));
  const UploadId = created.UploadId;
  if (!UploadId) throw new Error(`s3 storage: CreateMultipartUpload for ${Key} returned no UploadId`);
  try {
    const parts: { ETag: string; PartNumber: number }[] = [];
    for (let start = 0, PartNumber = 1; start < copy.bytes; start += limits.partBytes, PartNumber++) {
      const end = Math.min(start + limits.partBytes, copy.bytes) - 1;
      const res = await client.send(
        new UploadPartCopyCommand({
          Bucket,
          Key,
          UploadId,
          PartNumber,
          CopySource,
          CopySourceIfMatch,
          CopySourceRange: `bytes=${start}-${end}`,
        }),
      );
      const ETag = res.CopyPartResult?.ETag;
      if (!ETag) throw new Error(`s3 storage: UploadPartCopy ${PartNumber} of ${Key} returned no ETag`);
      parts.push({ ETag, PartNumber });
    }
    await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
    return 'multipart';
  } catch (err) {
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
    throw err;
  }
}
