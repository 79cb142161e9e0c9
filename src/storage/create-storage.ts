import type { Config } from '../config/config-schema.js';
import type { NamedStoreSettings } from '../config/store-settings.js';
import { FileStorage } from './file-storage.js';
import { S3Storage, type S3StorageOptions } from './s3-storage.js';
import type { Storage } from './storage.js';

/** A storage URL FetchBox cannot use (unknown scheme, missing bucket); names the setting that gave it. */
export class InvalidStorageUrlError extends Error {
  override readonly name = 'InvalidStorageUrlError';
  constructor(
    readonly storageUrl: string,
    reason: string,
    readonly setting = 'FETCHBOX_STORAGE_URL',
  ) {
    super(`${setting} ${JSON.stringify(storageUrl)}: ${reason}`);
  }
}

/** The S3 settings a driver needs besides bucket and prefix. */
type S3Settings = Omit<S3StorageOptions, 'bucket' | 'prefix'>;

/**
 * Builds the driver a storage URL names: `file://<path>` (relative paths resolve against the
 * working directory, so `file://./data/objects` works) or `s3://bucket/prefix`.
 */
function storageFromUrl(url: string, s3: S3Settings, setting: string): Storage {
  if (url.startsWith('file://')) {
    const dir = url.slice('file://'.length);
    if (dir === '') throw new InvalidStorageUrlError(url, 'needs a directory, e.g. file://./data/objects', setting);
    return new FileStorage(decodeURIComponent(dir));
  }
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const prefix = slash === -1 ? '' : rest.slice(slash + 1).replace(/^\/+|\/+$/g, '');
    if (bucket === '') throw new InvalidStorageUrlError(url, 'needs a bucket, e.g. s3://my-bucket/fetchbox', setting);
    return new S3Storage({ bucket, prefix, ...s3 });
  }
  throw new InvalidStorageUrlError(url, 'use file://<directory> or s3://<bucket>/<prefix>', setting);
}

/** The default store (`storage.url`, FETCHBOX_STORAGE_URL); S3 credentials from the standard AWS chain. */
export function createStorage(storageConfig: Pick<Config['storage'], 'url' | 's3'>): Storage {
  const { s3 } = storageConfig;
  return storageFromUrl(
    storageConfig.url,
    {
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: s3.forcePathStyle,
      partSizeBytes: s3.partSizeBytes,
      queueSize: s3.queueSize,
    },
    'FETCHBOX_STORAGE_URL',
  );
}

/**
 * A named store (`storage.stores.<name>`): its own URL and credentials, the S3 settings it leaves
 * out taken from `storage.s3`. Without credentials it uses the standard AWS chain, like the default.
 */
export function createNamedStorage(name: string, settings: NamedStoreSettings, defaults: Config['storage']['s3']): Storage {
  const s3 = settings.s3;
  const { accessKeyId, secretAccessKey } = s3;
  return storageFromUrl(
    settings.url,
    {
      endpoint: s3.endpoint ?? defaults.endpoint,
      region: s3.region ?? defaults.region,
      forcePathStyle: s3.forcePathStyle ?? defaults.forcePathStyle,
      partSizeBytes: s3.partSizeBytes ?? defaults.partSizeBytes,
      queueSize: s3.queueSize ?? defaults.queueSize,
      ...(accessKeyId !== undefined && secretAccessKey !== undefined ? { credentials: { accessKeyId, secretAccessKey } } : {}),
    },
    `FETCHBOX_STORE_${name.toUpperCase().replace(/-/g, '_')}_URL`,
  );
}
