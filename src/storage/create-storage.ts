import type { Config } from '../config/config-schema.js';
import { FileStorage } from './file-storage.js';
import { S3Storage } from './s3-storage.js';
import type { Storage } from './storage.js';

/** A storage URL FetchBox cannot use (unknown scheme, missing bucket). */
export class InvalidStorageUrlError extends Error {
  override readonly name = 'InvalidStorageUrlError';
  constructor(
    readonly storageUrl: string,
    reason: string,
  ) {
    super(`FETCHBOX_STORAGE_URL ${JSON.stringify(storageUrl)}: ${reason}`);
  }
}

/**
 * Builds the driver a storage URL names: `file://<path>` (relative paths resolve against the
 * working directory, so `file://./data/objects` works) or `s3://bucket/prefix`.
 */
export function createStorage(storageConfig: Config['storage']): Storage {
  const { url } = storageConfig;
  if (url.startsWith('file://')) {
    const dir = url.slice('file://'.length);
    if (dir === '') throw new InvalidStorageUrlError(url, 'needs a directory, e.g. file://./data/objects');
    return new FileStorage(decodeURIComponent(dir));
  }
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const prefix = slash === -1 ? '' : rest.slice(slash + 1).replace(/^\/+|\/+$/g, '');
    if (bucket === '') throw new InvalidStorageUrlError(url, 'needs a bucket, e.g. s3://my-bucket/fetchbox');
    const { s3 } = storageConfig;
    return new S3Storage({
      bucket,
      prefix,
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: s3.forcePathStyle,
      partSizeBytes: s3.partSizeBytes,
      queueSize: s3.queueSize,
    });
  }
  throw new InvalidStorageUrlError(url, 'use file://<directory> or s3://<bucket>/<prefix>');
}
